//! (being written)

use crate::error::Result;
use crate::output::{FileCtx, Output};

pub fn import(_text: &str, ctx: &FileCtx<'_>, out: &mut Output<'_>) -> Result<()> {
    out.reject(ctx, "file", "this format's importer is not built yet");
    Ok(())
}
