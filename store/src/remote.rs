//! A store on S3, reached through `object_store`, driven from the store's synchronous code.
//!
//! The store's own reads and writes run on a small runtime of their own, with a client of their
//! own: an HTTP client's pooled connections belong to the runtime that opened them, so sharing
//! one client between this runtime and the caller's (DataFusion's scans) could leave a request
//! waiting on a runtime nobody drives. [`Remote::objects`] is the client for the caller's runtime.
//!
//! Requests are counted, and key-index files are cached within the process (they never change
//! once written: a data file's keys are fixed), within a byte budget.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use hopscope_schema::S3Location;

use crate::error::{Error, Result};

/// Bytes of key-index files kept in memory per store: 16 bytes a stored row, so the indexes of
/// 16 M rows; past it the oldest are dropped and read again when needed.
const INDEX_CACHE_BYTES: usize = 256 << 20;

/// Requests sent to the object store by this process's store code, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub lists: u64,
    pub gets: u64,
    pub puts: u64,
}

/// A store at an S3 URL.
#[derive(Clone)]
pub struct Remote {
    url: S3Location,
    /// The client for callers on their own runtime (DataFusion).
    objects: Arc<dyn ObjectStore>,
    io: Arc<Io>,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The store's own I/O: a runtime, a client living on it, counts and the index cache.
struct Io {
    runtime: Option<tokio::runtime::Runtime>,
    objects: Arc<dyn ObjectStore>,
    lists: AtomicU64,
    gets: AtomicU64,
    puts: AtomicU64,
    cache: Mutex<IndexCache>,
}

impl Drop for Io {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which a runtime's own thread may not do.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Remote {
    /// The store at `url`; `connect` builds a client (called twice: one for the store's own
    /// runtime, one for the caller's).
    pub fn new(
        url: S3Location,
        connect: impl Fn() -> object_store::Result<Arc<dyn ObjectStore>>,
    ) -> Result<Remote> {
        let client_err = |source| Error::Remote {
            location: url.to_string(),
            source,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("store-io")
            .enable_all()
            .build()
            .map_err(Error::WriterThread)?;
        let io = Io {
            runtime: Some(runtime),
            objects: connect().map_err(client_err)?,
            lists: AtomicU64::new(0),
            gets: AtomicU64::new(0),
            puts: AtomicU64::new(0),
            cache: Mutex::new(IndexCache::default()),
        };
        Ok(Remote {
            objects: connect().map_err(client_err)?,
            url,
            io: Arc::new(io),
        })
    }

    pub fn url(&self) -> &S3Location {
        &self.url
    }

    /// A client for the caller's runtime, to register with DataFusion under
    /// [`S3Location::bucket_url`].
    pub fn objects(&self) -> Arc<dyn ObjectStore> {
        self.objects.clone()
    }

    /// `s3://bucket/prefix/relative`.
    pub fn url_of(&self, relative: &str) -> String {
        format!("s3://{}/{}", self.url.bucket(), self.key(relative))
    }

    pub fn requests(&self) -> RequestCounts {
        RequestCounts {
            lists: self.io.lists.load(Ordering::Relaxed),
            gets: self.io.gets.load(Ordering::Relaxed),
            puts: self.io.puts.load(Ordering::Relaxed),
        }
    }

    fn key(&self, relative: &str) -> String {
        let relative = relative.trim_matches('/');
        match (self.url.prefix().is_empty(), relative.is_empty()) {
            (true, _) => relative.into(),
            (false, true) => self.url.prefix().to_string(),
            (false, false) => format!("{}/{relative}", self.url.prefix()),
        }
    }

    fn path(&self, relative: &str) -> Result<ObjectPath> {
        ObjectPath::parse(self.key(relative)).map_err(|e| Error::BadLocation {
            location: self.url_of(relative),
            reason: e.to_string(),
        })
    }

    fn failed(&self, relative: &str) -> impl Fn(object_store::Error) -> Error {
        let location = self.url_of(relative);
        move |source| Error::Remote {
            location: location.clone(),
            source,
        }
    }

    /// Runs `f` on the store's runtime and waits for it, from any thread.
    fn run<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> T {
        let runtime = self
            .io
            .runtime
            .as_ref()
            .expect("the runtime lives until Io drops");
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(f.await);
        });
        let wait = || rx.recv().expect("a store request panicked");
        // On a runtime's worker, tell it this thread blocks (its other tasks move on).
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        }
    }

    pub(crate) fn list(&self, relative: &str) -> Result<Vec<String>> {
        let listed = self.list_with_delimiter(relative)?;
        Ok(sorted_names(listed.objects.into_iter().map(|o| o.location)))
    }

    pub(crate) fn dirs(&self, relative: &str) -> Result<Vec<String>> {
        let listed = self.list_with_delimiter(relative)?;
        Ok(sorted_names(listed.common_prefixes))
    }

    /// The objects and common prefixes directly under `relative`.
    fn list_with_delimiter(&self, relative: &str) -> Result<object_store::ListResult> {
        let dir = self.path(relative)?;
        let objects = self.io.objects.clone();
        self.io.lists.fetch_add(1, Ordering::Relaxed);
        self.run(async move { objects.list_with_delimiter(Some(&dir)).await })
            .map_err(self.failed(relative))
    }

    pub(crate) fn is_empty(&self) -> Result<bool> {
        let prefix = self.path("")?;
        let objects = self.io.objects.clone();
        self.io.lists.fetch_add(1, Ordering::Relaxed);
        let first = self.run(async move {
            let prefix = (!prefix.as_ref().is_empty()).then_some(prefix);
            objects.list(prefix.as_ref()).try_next().await
        });
        Ok(first.map_err(self.failed(""))?.is_none())
    }

    pub(crate) fn read(&self, relative: &str) -> Result<Option<Bytes>> {
        if let Some(hit) = self.lock_cache().get(relative) {
            return Ok(Some(hit));
        }
        let path = self.path(relative)?;
        let objects = self.io.objects.clone();
        self.io.gets.fetch_add(1, Ordering::Relaxed);
        let got = self.run(async move {
            match objects.get(&path).await {
                Ok(found) => found.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        let got = got.map_err(self.failed(relative))?;
        if let Some(bytes) = &got {
            self.remember(relative, bytes);
        }
        Ok(got)
    }

    pub(crate) fn create(&self, relative: &str, bytes: Vec<u8>) -> Result<bool> {
        let path = self.path(relative)?;
        let objects = self.io.objects.clone();
        let body = Bytes::from(bytes);
        let payload = PutPayload::from_bytes(body.clone());
        self.io.puts.fetch_add(1, Ordering::Relaxed);
        let put = self.run(async move {
            let opts = PutOptions::from(PutMode::Create);
            objects.put_opts(&path, payload, opts).await
        });
        match put {
            Ok(_) => {
                self.remember(relative, &body);
                Ok(true)
            }
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.failed(relative)(e)),
        }
    }

    pub(crate) fn put(&self, relative: &str, bytes: Vec<u8>) -> Result<()> {
        let path = self.path(relative)?;
        let objects = self.io.objects.clone();
        let body = Bytes::from(bytes);
        let payload = PutPayload::from_bytes(body.clone());
        self.io.puts.fetch_add(1, Ordering::Relaxed);
        self.run(async move { objects.put(&path, payload).await })
            .map_err(self.failed(relative))?;
        self.remember(relative, &body);
        Ok(())
    }

    /// Keeps key-index files, which never change once written, for the next check.
    fn remember(&self, relative: &str, bytes: &Bytes) {
        if relative.starts_with(crate::keys::DIR) {
            self.lock_cache().insert(relative, bytes.clone());
        }
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, IndexCache> {
        self.io.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The last parts of `paths`, sorted.
fn sorted_names(paths: impl IntoIterator<Item = ObjectPath>) -> Vec<String> {
    let mut names: Vec<String> = paths
        .into_iter()
        .filter_map(|p| p.filename().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Key-index files by path, oldest dropped first past [`INDEX_CACHE_BYTES`].
#[derive(Default)]
struct IndexCache {
    files: HashMap<String, Bytes>,
    order: VecDeque<String>,
    bytes: usize,
}

impl IndexCache {
    fn get(&self, relative: &str) -> Option<Bytes> {
        self.files.get(relative).cloned()
    }

    fn insert(&mut self, relative: &str, bytes: Bytes) {
        if let Some(old) = self.files.insert(relative.into(), bytes.clone()) {
            self.bytes -= old.len();
        } else {
            self.order.push_back(relative.into());
        }
        self.bytes += bytes.len();
        while self.bytes > INDEX_CACHE_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(dropped) = self.files.remove(&oldest) {
                self.bytes -= dropped.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_cache_keeps_to_its_budget_dropping_the_oldest() {
        let mut cache = IndexCache::default();
        let big = Bytes::from(vec![0u8; INDEX_CACHE_BYTES / 2]);
        cache.insert("_keys/a", big.clone());
        cache.insert("_keys/b", big.clone());
        assert!(cache.get("_keys/a").is_some());
        cache.insert("_keys/c", Bytes::from_static(b"x"));
        assert!(cache.get("_keys/a").is_none());
        assert!(cache.get("_keys/b").is_some() && cache.get("_keys/c").is_some());
        assert_eq!(cache.bytes, big.len() + 1);
    }
}
