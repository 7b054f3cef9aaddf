//! The flags that say how to reach AWS, shared by every command that calls it (`collect`,
//! `alarms check|watch`, `tui --live`).

use clap::Args;
use hopscope_collector::aws::{AwsOptions, Clients};
use hopscope_collector::collect::RetryPolicy;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "AWS")]
pub struct AwsArgs {
    /// AWS profile of the shared config files [default: AWS_PROFILE, else `default`]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// AWS Region [default: AWS_REGION, else the profile's region]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Endpoint for every AWS service, e.g. a local emulator
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Collect only these Lambda functions (glob: `orders-*`): their log groups and metrics
    #[arg(long, value_name = "PATTERN")]
    pub functions: Option<String>,

    /// Attempts per AWS call before giving up (retries back off exponentially, with jitter)
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_attempts: u32,
}

impl AwsArgs {
    /// The SDK clients, with the profile, Region and endpoint applied.
    pub async fn connect(&self) -> Clients {
        Clients::connect(&AwsOptions {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            credentials: None,
        })
        .await
    }

    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            ..RetryPolicy::default()
        }
    }
}
