//! The one way a file of the store is written: readers see the old file or the whole new one,
//! and a power cut loses at most the write in progress.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use hopscope_schema::store_layout::TEMP_PREFIX;

use crate::error::{Error, Result};

/// Writes `path` whole: `body` fills a temporary file next to it, which is synced, renamed over
/// `path`, and the directory synced. The directory must exist.
///
/// The temporary's name starts with [`TEMP_PREFIX`] and ends with `.partial` (never a data
/// file's extension, so no reader lists it); a failing `body` removes it, and what a killed run
/// leaves is removed by [`crate::remove_leftovers`].
pub fn write(path: &Path, body: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let tmp = temp_path(dir, path);
    let written = write_synced(&tmp, body);
    let renamed = written.and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|source| Error::Write {
            path: path.into(),
            source,
        })
    });
    if let Err(e) = renamed {
        // Best effort: the temporary is never read, and `remove_leftovers` clears it otherwise.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Creates `path` with `bytes` unless it exists: `Ok(false)`, and nothing written, when another
/// writer got there first. The temporary is synced, then hard-linked to `path` (which fails if
/// `path` exists, atomically, as S3's `If-None-Match: *` PUT does), then removed.
pub fn create_new(path: &Path, bytes: &[u8]) -> Result<bool> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let tmp = temp_path(dir, path);
    let written = write_synced(&tmp, |file| {
        file.write_all(bytes).map_err(|source| Error::Write {
            path: tmp.clone(),
            source,
        })
    });
    let linked = written.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(source) => Err(Error::Write {
            path: path.into(),
            source,
        }),
    });
    // Best effort: `remove_leftovers` clears a temporary this misses.
    let _ = std::fs::remove_file(&tmp);
    let created = linked?;
    if created {
        sync_dir(dir)?;
    }
    Ok(created)
}

/// Creates `dir` and any parents missing, each synced into its parent: a power cut must not
/// lose a new partition's directory entry, and with it the files [`write`] synced inside.
pub fn create_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent {
        create_dir(parent)?;
    }
    match std::fs::create_dir(dir) {
        // Another writer made it in between: as good.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(source) => {
            return Err(Error::Write {
                path: dir.into(),
                source,
            });
        }
        Ok(()) => {}
    }
    sync_dir(parent.unwrap_or(Path::new(".")))
}

/// Writes `path` whole with `bytes` (see [`write`]).
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write(path, |file| {
        file.write_all(bytes).map_err(|source| Error::Write {
            path: path.into(),
            source,
        })
    })
}

/// A fresh temporary name in `dir` for `path`: unique, so concurrent writers of one path never
/// share a temporary, and naming the writing process, so that [`crate::remove_leftovers`] leaves
/// the temporaries of a live writer alone.
fn temp_path(dir: &Path, path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let id = uuid::Uuid::new_v4().simple();
    let pid = std::process::id();
    dir.join(format!("{TEMP_PREFIX}{pid}-{name}-{id}.partial"))
}

/// The process that wrote a temporary, from its name (`None`: not named by [`temp_path`]).
pub(crate) fn writer_of(temp_name: &str) -> Option<u32> {
    temp_name
        .strip_prefix(TEMP_PREFIX)?
        .split_once('-')?
        .0
        .parse()
        .ok()
}

fn write_synced(tmp: &Path, body: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
    let write_err = |source| Error::Write {
        path: tmp.into(),
        source,
    };
    let mut file = File::create(tmp).map_err(write_err)?;
    body(&mut file)?;
    // Before the rename: otherwise a power cut could leave the new name on empty or short data.
    file.sync_all().map_err(write_err)
}

/// Syncs the directory entry the rename changed: until then a power cut may undo the rename (the
/// old file comes back, or the new name is missing), though the data itself is on disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| Error::Write {
            path: dir.into(),
            source,
        })
}

/// Windows cannot open a directory as a file; its renames are journaled by NTFS.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn write_text(path: &Path, text: &str) -> Result<()> {
        write_bytes(path, text.as_bytes())
    }

    #[test]
    fn directories_are_created_with_their_parents_and_again_without_error() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("spans/hour=2026-11-20T10");
        create_dir(&deep).unwrap();
        assert!(deep.is_dir());
        create_dir(&deep).unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            create_dir(&file.join("below")),
            Err(Error::Write { .. })
        ));
    }

    #[test]
    fn the_content_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_text(&path, "a longer first version").unwrap();
        write_text(&path, "short").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short");
        assert_eq!(names(dir.path()), ["state.json"]);
    }

    #[test]
    fn the_body_writes_a_temporary_that_leftover_removal_recognizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-1.parquet");
        write(&path, |_| {
            let names = names(dir.path());
            assert_eq!(names.len(), 1, "{names:?}");
            assert!(names[0].starts_with(TEMP_PREFIX), "{names:?}");
            assert!(names[0].ends_with(".partial"), "{names:?}");
            Ok(())
        })
        .unwrap();
        assert_eq!(names(dir.path()), ["part-1.parquet"]);
    }

    #[test]
    fn a_failing_body_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_text(&path, "old").unwrap();
        let e = write(&path, |file| {
            file.write_all(b"half of the new").unwrap();
            Err(Error::Write {
                path: path.clone(),
                source: std::io::Error::other("disk full"),
            })
        })
        .unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(names(dir.path()), ["state.json"]);
    }

    #[test]
    fn create_new_writes_once_and_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-0000000001.parquet");
        assert!(create_new(&path, b"first").unwrap());
        assert!(!create_new(&path, b"second").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(names(dir.path()), ["part-0000000001.parquet"]);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent").join("state.json");
        let e = write_text(&path, "x").unwrap_err();
        assert!(e.to_string().contains("absent"), "{e}");
    }
}
