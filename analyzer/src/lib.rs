//! The analyzer: a DataFusion session over the store. [`session`] decides the SQL surface.

pub mod alarms;
mod columns;
pub mod coverage;
mod entry;
pub mod error;
pub mod hdr;
pub mod hops;
pub mod insights;
mod interned;
mod partials;
pub mod service_map;
pub mod session;
pub mod significance;
pub mod text;
pub mod top_n;
pub mod trace_detail;
pub mod views;
pub mod why;
pub mod window;

pub use error::Error;
pub use session::{Session, TableInfo};
