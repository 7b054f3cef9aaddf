//! How the scheduler and the executors reach a store on S3. A client registers its S3 client
//! in its own session only; the plan it ships names `s3://bucket/...` files, which the scheduler
//! lists (to split the scan into tasks) and the executors read. Each process therefore builds
//! its own client of a bucket, the first time a plan names it, with the credentials of the
//! machine it runs on.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use url::Url;

/// Builds a client of an S3 bucket (the argument): the AWS SDK's standard chain in
/// `hopscope cluster`, where the collector's credential bridge lives.
pub type ConnectS3 = Arc<dyn Fn(&str) -> Result<Arc<dyn ObjectStore>, String> + Send + Sync>;

/// DataFusion's registry (the local file system, and whatever is registered), which also makes
/// a client for an `s3://bucket` it does not know yet, once, with [`ConnectS3`].
pub struct ObjectStores {
    registered: DefaultObjectStoreRegistry,
    connect: Option<ConnectS3>,
    /// Buckets whose client is being made or was made (one client per bucket, however many
    /// tasks ask at once).
    made: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl fmt::Debug for ObjectStores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStores")
            .field("registered", &self.registered)
            .field("s3", &self.connect.is_some())
            .finish_non_exhaustive()
    }
}

impl ObjectStores {
    /// `connect: None` leaves S3 unreachable, with an error that says how to reach it.
    pub fn new(connect: Option<ConnectS3>) -> ObjectStores {
        ObjectStores {
            registered: DefaultObjectStoreRegistry::new(),
            connect,
            made: Mutex::new(HashMap::new()),
        }
    }

    fn s3(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let bucket = url.host_str().unwrap_or_default();
        let Some(connect) = &self.connect else {
            return Err(DataFusionError::Configuration(format!(
                "this process has no S3 client for s3://{bucket}: run the scheduler and executors \
                 as `hopscope cluster scheduler|executor` with the store's AWS settings \
                 (AWS_REGION, credentials, --store-endpoint-url)"
            )));
        };
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = made.get(bucket) {
            return Ok(client.clone());
        }
        let client = connect(bucket).map_err(|reason| {
            DataFusionError::Configuration(format!("S3 client for s3://{bucket}: {reason}"))
        })?;
        made.insert(bucket.to_owned(), client.clone());
        Ok(client)
    }
}

impl ObjectStoreRegistry for ObjectStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.registered.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.registered.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        match self.registered.get_store(url) {
            Err(_) if url.scheme() == "s3" => self.s3(url),
            found => found,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use object_store::memory::InMemory;

    use super::*;

    #[test]
    fn a_bucket_gets_one_client_and_files_stay_local() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let stores = ObjectStores::new(Some(Arc::new(move |bucket: &str| {
            assert_eq!(bucket, "team-traces");
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(Arc::new(InMemory::new()) as Arc<dyn ObjectStore>)
        })));
        let url =
            Url::parse("s3://team-traces/store/spans/hour=2026-11-20T09/part.parquet").unwrap();
        let first = stores.get_store(&url).unwrap();
        let second = stores
            .get_store(&Url::parse("s3://team-traces").unwrap())
            .unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(stores.get_store(&Url::parse("file:///").unwrap()).is_ok());
        assert!(
            stores
                .get_store(&Url::parse("gs://elsewhere").unwrap())
                .is_err()
        );
    }

    #[test]
    fn without_s3_settings_the_error_says_how_to_give_them() {
        let stores = ObjectStores::new(None);
        let err = stores
            .get_store(&Url::parse("s3://team-traces/store").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("s3://team-traces"), "{err}");
        assert!(err.contains("hopscope cluster scheduler|executor"), "{err}");

        let failing = ObjectStores::new(Some(Arc::new(|_: &str| Err("no AWS Region".to_owned()))));
        let err = failing
            .get_store(&Url::parse("s3://team-traces").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no AWS Region"), "{err}");
    }
}
