//! The analyzer: a DataFusion session over the store. [`session`] decides the SQL surface.

pub mod error;
pub mod hdr;
pub mod service_map;
pub mod session;
pub mod text;
pub mod views;

pub use error::Error;
pub use session::{Session, TableInfo};
