//! The analyzer: a DataFusion session over the store. [`session`] decides the SQL surface.

pub mod error;
pub mod hdr;
pub mod session;

pub use error::Error;
pub use session::{Session, TableInfo};
