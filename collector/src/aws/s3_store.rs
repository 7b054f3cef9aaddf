//! The store on S3: an `object_store` S3 client reached like every other AWS client here, so
//! `--store s3://…` takes the same credentials (the SDK's standard chain: environment, profile,
//! SSO, web identity, IMDS), profile, Region and endpoint as `collect`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use hopscope_store::{Location, Remote, S3Location};
use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::{ClientOptions, CredentialProvider, ObjectStore, RetryConfig};

use aws_config::retry::RetryConfig as SdkRetry;

use super::{AwsOptions, CONNECT_TIMEOUT, sdk_config};

/// Credentials are asked for again this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// The store at `url`, reached with `opts`.
pub async fn s3_location(url: S3Location, opts: &AwsOptions) -> Result<Location, String> {
    let clients = S3Clients::resolve(opts, &format!("the store {url}")).await?;
    let bucket = url.bucket().to_string();
    Remote::new(url, || clients.connect(&bucket))
        .map(Location::Remote)
        .map_err(|e| e.to_string())
}

/// What an S3 client of any bucket is built from: the Region, the SDK's credentials and the
/// endpoint, resolved once (the chain may read files or call STS).
#[derive(Debug, Clone)]
pub struct S3Clients {
    region: String,
    credentials: Arc<SdkCredentials>,
    endpoint: Option<String>,
}

impl S3Clients {
    /// Resolves `opts` through the SDK's standard chain; `what` names the store the clients are
    /// for in the error (no Region, no credentials).
    pub async fn resolve(opts: &AwsOptions, what: &str) -> Result<S3Clients, String> {
        // object_store retries its own requests.
        let config = sdk_config(opts, SdkRetry::disabled()).await;
        let region = config.region().map(ToString::to_string).ok_or_else(|| {
            format!(
                "no AWS Region for {what}: set AWS_REGION or give the profile a region (or --store-region)"
            )
        })?;
        let provider = config.credentials_provider().ok_or_else(|| {
            format!("no AWS credentials for {what}: configure the standard chain (AWS_PROFILE, aws sso login, ...)")
        })?;
        Ok(S3Clients {
            region,
            credentials: Arc::new(SdkCredentials {
                provider,
                cached: Mutex::new(None),
            }),
            endpoint: config.endpoint_url().map(ToString::to_string),
        })
    }

    /// A client of `bucket` (each client holds its own connection pool; the credentials are
    /// shared).
    pub fn connect(&self, bucket: &str) -> object_store::Result<Arc<dyn ObjectStore>> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&self.region)
            .with_credentials(self.credentials.clone())
            .with_client_options(ClientOptions::new().with_connect_timeout(CONNECT_TIMEOUT))
            .with_retry(RetryConfig::default());
        if let Some(endpoint) = &self.endpoint {
            // An emulator or a private endpoint: path-style requests, plain HTTP if so given.
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        Ok(Arc::new(builder.build()?))
    }
}

/// The SDK's credentials for object_store, asked for again only near their expiry (object_store
/// asks before every request; the chain may read files or call STS or IMDS).
#[derive(Debug)]
struct SdkCredentials {
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

#[async_trait::async_trait]
impl CredentialProvider for SdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let fresh = |expiry: &Option<SystemTime>| {
            expiry.is_none_or(|e| SystemTime::now() + REFRESH_BEFORE_EXPIRY < e)
        };
        if let Some((credential, expiry)) = &*self.lock()
            && fresh(expiry)
        {
            return Ok(credential.clone());
        }
        let got = self.provider.provide_credentials().await.map_err(|e| {
            object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            }
        })?;
        let credential = Arc::new(AwsCredential {
            key_id: got.access_key_id().to_string(),
            secret_key: got.secret_access_key().to_string(),
            token: got.session_token().map(ToString::to_string),
        });
        *self.lock() = Some((credential.clone(), got.expiry()));
        Ok(credential)
    }
}

impl SdkCredentials {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Arc<AwsCredential>, Option<SystemTime>)>> {
        self.cached.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
