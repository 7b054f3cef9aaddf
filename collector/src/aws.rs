//! Every AWS client is built here: region, profile, endpoint URL, retries and timeouts are applied
//! in one place, and all clients share one HTTP client.
//!
//! Credentials come from the standard chain (environment, profile, SSO, web identity, IMDS);
//! nothing here reads, prints or stores them.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

mod s3_store;
pub use s3_store::{S3Clients, s3_location};

/// Where and how to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// Region; else the chain's (`AWS_REGION`, the profile's `region`, IMDS).
    pub region: Option<String>,
    /// Named profile of the shared config files; else `AWS_PROFILE` or `default`.
    pub profile: Option<String>,
    /// Endpoint for every service (a local emulator); else `AWS_ENDPOINT_URL` or AWS's own.
    pub endpoint_url: Option<String>,
    /// Explicit credentials (tests against an emulator); else the standard chain. Their `Debug`
    /// form redacts the secret.
    pub credentials: Option<aws_sdk_xray::config::Credentials>,
}

/// Connect timeout: a dead endpoint should fail fast rather than hold a window open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One attempt: a FilterLogEvents page can take seconds on a busy log group.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// The clients the collector uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub xray: aws_sdk_xray::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sts: aws_sdk_sts::Client,
    /// The region the clients resolved to, for messages.
    pub region: Option<String>,
}

impl Clients {
    /// Resolves the configuration chain and builds the clients.
    ///
    /// The SDK's own retries are off: [`crate::collect::api`] retries every call itself, so each
    /// attempt passes through the rate limiter and is counted in the run's summary, and retries
    /// never multiply (SDK attempts x ours).
    pub async fn connect(opts: &AwsOptions) -> Clients {
        let config = sdk_config(opts, RetryConfig::disabled()).await;
        Clients {
            xray: aws_sdk_xray::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            region: config.region().map(std::string::ToString::to_string),
        }
    }
}

/// The Glue client of `hopscope athena-ddl --apply`. It keeps the SDK's standard retries (3
/// attempts, backoff with jitter): its few calls do not go through a collection's rate limiter
/// and retry loop.
pub async fn glue(opts: &AwsOptions) -> aws_sdk_glue::Client {
    aws_sdk_glue::Client::new(&sdk_config(opts, RetryConfig::standard()).await)
}

/// The configuration chain resolved with `opts` applied, on hyper 1 + rustls (ring).
async fn sdk_config(opts: &AwsOptions, retry: RetryConfig) -> aws_config::SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(retry)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
    if let Some(region) = &opts.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &opts.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(credentials) = &opts.credentials {
        loader = loader.credentials_provider(credentials.clone());
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}
