//! Clearing what killed writers left: the temporaries of [`crate::atomic::write`] whose
//! writer is gone.

use std::path::Path;

use hopscope_schema::store_layout::TEMP_PREFIX;

use crate::error::{Error, Result};
use crate::{Store, atomic};

/// Removes the temporaries of [`atomic::write`]s a killed run left behind, anywhere in the
/// store (they are never read either way); those of another process still running are left
/// to it, unless older than any write takes.
pub fn remove_leftovers(store: &Store) -> Result<usize> {
    // On S3 a PUT appears whole or not at all: nothing is left over.
    let Some(root) = store.location().local_root() else {
        return Ok(0);
    };
    let now = std::time::SystemTime::now();
    let mut removed = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.starts_with(TEMP_PREFIX) || being_written(name, &entry, now) {
                continue;
            }
            std::fs::remove_file(&path).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// How long a temporary may be in the writing: a write fills one file from memory and renames
/// it, in seconds; one older than this was left by a writer that died (or whose process id came
/// back to another program).
const LONGEST_WRITE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Whether another process that is still running may be writing the temporary `name`: another
/// collect, import or `alarms watch` on the same store must keep its temporaries, or its rename
/// fails. This process's own are leftovers: callers clear them before they write.
fn being_written(name: &str, entry: &std::fs::DirEntry, now: std::time::SystemTime) -> bool {
    let Some(pid) = atomic::writer_of(name) else {
        return false;
    };
    if pid == std::process::id() || !process_runs(pid) {
        return false;
    }
    let age = entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| now.duration_since(t).ok());
    age.is_none_or(|age| age < LONGEST_WRITE)
}

/// Whether process `pid` runs on this machine (Linux's /proc; elsewhere assumed to, so only the
/// age of a temporary decides).
fn process_runs(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::*;

    /// Another writer's temporary stays while that process runs (its rename would fail
    /// otherwise); a dead writer's, or one older than any write takes, goes.
    #[test]
    fn the_temporaries_of_a_running_writer_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut done = std::process::Command::new("true").spawn().unwrap();
        done.wait().unwrap();
        let temp = |pid: u32, name: &str| {
            let path = dir
                .path()
                .join(format!("{TEMP_PREFIX}{pid}-{name}-0.partial"));
            std::fs::write(&path, b"partial").unwrap();
            path
        };
        let running = temp(child.id(), "running");
        let stale = temp(child.id(), "stale");
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - 2 * LONGEST_WRITE)
            .unwrap();
        let dead = temp(done.id(), "dead");
        let unnamed = dir.path().join(format!("{TEMP_PREFIX}keys.partial"));
        std::fs::write(&unnamed, b"partial").unwrap();
        assert_eq!(remove_leftovers(&store).unwrap(), 3);
        assert!(running.exists());
        assert!(!stale.exists() && !dead.exists() && !unnamed.exists());
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(remove_leftovers(&store).unwrap(), 1);
        assert!(!running.exists());
    }
}
