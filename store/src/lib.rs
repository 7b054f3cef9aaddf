//! The hopscope store on disk, shared by the collector (which writes data into it) and the
//! analyzer (which keeps its alarm state in it): every file is written through [`atomic::write`],
//! so a killed run leaves whole files or temporaries that [`remove_leftovers`] clears.

pub mod atomic;
mod error;

pub use error::{Error, Result};
