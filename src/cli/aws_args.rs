//! The flags that say how to reach AWS and what to collect, shared by every command that
//! collects (`collect`, `alarms check|watch --collect`, `tui --live`): no command quietly
//! collects less than another.

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use hopscope_collector::aws::{AwsOptions, Clients};
use hopscope_collector::collect::{CollectOptions, RetryPolicy, TraceSource};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "AWS")]
pub struct AwsArgs {
    /// AWS profile of the shared config files [default: AWS_PROFILE, else `default`]; several
    /// (`prod,staging`) collect each account into the same store
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub profile: Vec<String>,

    /// AWS Region [default: AWS_REGION, else the profile's region]; several (`eu-west-1,us-east-1`)
    /// collect each Region into the same store (every row says its account and Region)
    #[arg(long, value_name = "REGION", value_delimiter = ',')]
    pub region: Vec<String>,

    /// Endpoint for every AWS service, e.g. a local emulator
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Collect only these Lambda functions (glob: `orders-*`): their log groups and metrics
    #[arg(long, value_name = "PATTERN")]
    pub functions: Option<String>,

    /// Log groups to read [default: every function's log group, custom ones included, and every
    /// /aws/lambda/* group]; `aws/spans` reads Transaction Search spans as the traces
    #[arg(long, num_args = 1.., value_name = "GROUP")]
    pub log_groups: Vec<String>,

    /// Where traces come from: `auto` asks X-Ray which world the account is in (X-Ray or
    /// Transaction Search); `xray` uses GetTraceSummaries + BatchGetTraces; `spans` reads the
    /// OpenTelemetry spans of aws/spans
    #[arg(long, value_enum, default_value_t = Traces::Auto, value_name = "SOURCE")]
    pub traces: Traces,

    /// With Transaction Search: whole traces retrieved at most per window (failed ones first,
    /// then the slowest, then a uniform sample of the rest)
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub trace_budget: usize,

    /// X-Ray filter expression, e.g. 'service("orders") AND fault'
    #[arg(long, value_name = "EXPR")]
    pub xray_filter: Option<String>,

    /// BatchGetTraces requests (or trace retrievals) in flight at once
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub concurrency: usize,

    /// Attempts per AWS call before giving up (retries back off exponentially, with jitter)
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_attempts: u32,
}

/// `--traces`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Traces {
    Auto,
    Xray,
    Spans,
}

impl AwsArgs {
    /// What to collect over `[start, end]`.
    pub fn options(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> CollectOptions {
        let mut opts = CollectOptions::new(start, end);
        opts.functions = self.functions.clone();
        opts.log_groups = self.log_groups.clone();
        opts.xray_filter = self.xray_filter.clone();
        opts.traces = match self.traces {
            Traces::Auto => TraceSource::Auto,
            Traces::Xray => TraceSource::XRay,
            Traces::Spans => TraceSource::Spans,
        };
        opts.trace_budget = self.trace_budget.max(1);
        opts.concurrency = self.concurrency.max(1);
        opts
    }

    /// The SDK clients of every profile and Region asked for (each profile in each Region), with
    /// the endpoint applied; one set from the standard chain when none is named.
    pub async fn connect(&self) -> Vec<Clients> {
        let or_default = |names: &[String]| -> Vec<Option<String>> {
            if names.is_empty() {
                vec![None]
            } else {
                names.iter().cloned().map(Some).collect()
            }
        };
        let mut all = Vec::new();
        for profile in or_default(&self.profile) {
            for region in or_default(&self.region) {
                all.push(
                    Clients::connect(&AwsOptions {
                        region,
                        profile: profile.clone(),
                        endpoint_url: self.endpoint_url.clone(),
                        credentials: None,
                    })
                    .await,
                );
            }
        }
        all
    }

    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            ..RetryPolicy::default()
        }
    }
}
