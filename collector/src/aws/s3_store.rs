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
    // object_store retries its own requests.
    let config = sdk_config(opts, SdkRetry::disabled()).await;
    let region = config.region().map(ToString::to_string).ok_or_else(|| {
        format!(
            "no AWS Region for the store {url}: set AWS_REGION or give the profile a region (or --store-region)"
        )
    })?;
    let credentials = config.credentials_provider().ok_or_else(|| {
        format!("no AWS credentials for the store {url}: configure the standard chain (AWS_PROFILE, aws sso login, ...)")
    })?;
    let credentials = Arc::new(SdkCredentials {
        provider: credentials,
        cached: Mutex::new(None),
    });
    let endpoint = config.endpoint_url().map(ToString::to_string);
    let bucket = url.bucket().to_string();
    let connect = || -> object_store::Result<Arc<dyn ObjectStore>> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&bucket)
            .with_region(&region)
            .with_credentials(credentials.clone())
            .with_client_options(ClientOptions::new().with_connect_timeout(CONNECT_TIMEOUT))
            .with_retry(RetryConfig::default());
        if let Some(endpoint) = &endpoint {
            // An emulator or a private endpoint: path-style requests, plain HTTP if so given.
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        Ok(Arc::new(builder.build()?))
    };
    Remote::new(url, connect)
        .map(Location::Remote)
        .map_err(|e| e.to_string())
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
