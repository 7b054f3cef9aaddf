//! The analyzer: a DataFusion session over the store. [`session`] decides the SQL surface.

pub mod alarms;
pub mod amplification;
pub mod changes;
mod columns;
pub mod coverage;
mod entry;
pub mod error;
pub mod hdr;
pub mod hops;
pub mod insights;
mod interned;
mod operation;
mod partials;
pub mod rollups;
pub mod service_map;
pub mod session;
pub mod significance;
mod sql_literal;
pub mod text;
pub mod timeouts;
pub mod top_n;
pub mod trace_detail;
mod trace_spans;
pub mod views;
pub mod why;
pub mod window;

pub use error::Error;
pub use session::{Session, TableInfo};
