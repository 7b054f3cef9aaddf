//! Where a store's files live: a local directory, or a bucket and prefix on S3. The writer, the
//! key index, checkpoints and the marker reach both through the same few whole-file operations,
//! addressed by paths relative to the store's root (`spans/hour=2026-11-20T10/part-….parquet`):
//! list a directory's files, read a file, create a file only if it is absent, replace a file.
//!
//! Both make a file appear whole: locally through [`atomic`], on S3 because a PUT is visible only
//! once complete. "Create only if absent" is a hard link locally and a PUT with
//! `If-None-Match: *` on S3; it is what keeps two writers of one partition from storing a row
//! twice (see `StoreWriter`).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use hopscope_schema::store_layout::TEMP_PREFIX;

use crate::atomic;
use crate::error::{Error, Result};
use crate::remote::Remote;

/// A store's location.
#[derive(Debug, Clone)]
pub enum Location {
    /// A directory on this machine.
    Local(PathBuf),
    /// A prefix in an S3 bucket (`s3://bucket/prefix`).
    Remote(Remote),
}

impl Location {
    /// The location as users name it: the directory, or `s3://bucket/prefix`.
    pub fn display(&self) -> String {
        match self {
            Location::Local(root) => root.display().to_string(),
            Location::Remote(remote) => remote.url().to_string(),
        }
    }

    /// Requests sent so far by this process's store code, for a store on S3.
    pub fn requests(&self) -> Option<crate::RequestCounts> {
        match self {
            Location::Local(_) => None,
            Location::Remote(remote) => Some(remote.requests()),
        }
    }

    /// The directory, for a local store.
    pub fn local_root(&self) -> Option<&Path> {
        match self {
            Location::Local(root) => Some(root),
            Location::Remote(_) => None,
        }
    }

    /// A file of the store as users would name it, for messages.
    pub fn describe(&self, relative: &str) -> PathBuf {
        match self {
            Location::Local(root) => root.join(relative),
            Location::Remote(remote) => PathBuf::from(remote.url_of(relative)),
        }
    }

    /// Names of the files directly in directory `relative` (none if it does not exist), sorted.
    pub fn list(&self, relative: &str) -> Result<Vec<String>> {
        match self {
            Location::Local(root) => local_entries(&root.join(relative), |t| t.is_file()),
            Location::Remote(remote) => remote.list(relative),
        }
    }

    /// Names of the directories directly in directory `relative` (none if it does not exist),
    /// sorted. On S3, the common prefixes under it.
    pub fn dirs(&self, relative: &str) -> Result<Vec<String>> {
        match self {
            Location::Local(root) => local_entries(&root.join(relative), |t| t.is_dir()),
            Location::Remote(remote) => remote.dirs(relative),
        }
    }

    /// Whether the store's root holds nothing (but temporaries).
    pub fn is_empty(&self) -> Result<bool> {
        match self {
            // A temporary is no content: it may be another writer's marker on its way in.
            Location::Local(root) => Ok(std::fs::read_dir(root).map_or(true, |entries| {
                !entries
                    .flatten()
                    .any(|e| !e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            })),
            Location::Remote(remote) => remote.is_empty(),
        }
    }

    /// The content of file `relative`, or `None` if it does not exist.
    pub fn read(&self, relative: &str) -> Result<Option<Bytes>> {
        match self {
            Location::Local(root) => {
                let path = root.join(relative);
                match std::fs::read(&path) {
                    Ok(bytes) => Ok(Some(bytes.into())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(Error::Read { path, source }),
                }
            }
            Location::Remote(remote) => remote.read(relative),
        }
    }

    /// Creates file `relative` with `bytes` unless it exists (`Ok(false)`, nothing written).
    pub fn create(&self, relative: &str, bytes: Vec<u8>) -> Result<bool> {
        match self {
            Location::Local(root) => {
                let path = root.join(relative);
                atomic::create_dir(path.parent().expect("a store file is inside the store"))?;
                atomic::create_new(&path, &bytes)
            }
            Location::Remote(remote) => remote.create(relative, bytes),
        }
    }

    /// Writes file `relative` whole, replacing it if it exists.
    pub fn put(&self, relative: &str, bytes: Vec<u8>) -> Result<()> {
        match self {
            Location::Local(root) => {
                let path = root.join(relative);
                atomic::create_dir(path.parent().expect("a store file is inside the store"))?;
                atomic::write_bytes(&path, &bytes)
            }
            Location::Remote(remote) => remote.put(relative, bytes),
        }
    }
}

/// Names of the entries of local directory `dir` whose type is `wanted` (none if it does not
/// exist), sorted.
fn local_entries(dir: &Path, wanted: impl Fn(std::fs::FileType) -> bool) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Read {
                path: dir.into(),
                source,
            });
        }
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(&wanted))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}
