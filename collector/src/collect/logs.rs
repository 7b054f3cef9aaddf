//! CloudWatch Logs: FilterLogEvents per log group over the window, every page (one call covers
//! all of a group's streams: Lambda makes one stream per sandbox), parsed by the importers' code.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::api::{Api, Caller};
use super::{Progress, Summary};
use crate::cwlogs::{GroupImport, LogEvent};
use crate::error::Result;
use crate::output::{FileCtx, Output};

/// Log groups whose name starts with `prefix`, every page of DescribeLogGroups.
pub async fn discover(
    client: &aws_sdk_cloudwatchlogs::Client,
    caller: &Caller,
    prefix: &str,
) -> Result<Vec<String>> {
    let mut groups = BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        let page = caller
            .call(Api::DescribeLogGroups, || {
                client
                    .describe_log_groups()
                    .log_group_name_prefix(prefix)
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
        groups.extend(
            page.log_groups()
                .iter()
                .filter_map(|g| g.log_group_name().map(str::to_string)),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(groups.into_iter().collect());
        }
    }
}

/// Every event of `group` in `[start, end]` into `out`.
#[allow(clippy::too_many_arguments)]
pub async fn collect(
    client: &aws_sdk_cloudwatchlogs::Client,
    caller: &Caller,
    group: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    out: &mut Output<'_>,
    summary: &mut Summary,
    progress: &dyn Progress,
) -> Result<()> {
    let shown = format!("FilterLogEvents {group}");
    let ctx = FileCtx {
        path: &shown,
        log_group: Some(group),
        now: crate::output::clock_micros(),
    };
    let mut import = GroupImport::new(ctx);
    let mut token: Option<String> = None;
    let mut page_no = 0;
    loop {
        let page = caller
            .call(Api::FilterLogEvents, || {
                client
                    .filter_log_events()
                    .log_group_name(group)
                    .start_time(start.timestamp_millis())
                    .end_time(end.timestamp_millis())
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
        let events = page.events();
        for (i, e) in events.iter().enumerate() {
            let location = format!("page {page_no} events[{i}]");
            let (Some(timestamp_ms), Some(message)) = (e.timestamp(), e.message()) else {
                out.records += 1;
                out.reject(&ctx, &location, "no timestamp or no message");
                continue;
            };
            let event = LogEvent {
                stream: e.log_stream_name(),
                timestamp_ms,
                ingestion_ms: e.ingestion_time(),
                event_id: e.event_id(),
                message,
            };
            import.write(out, &event, &location)?;
        }
        summary.log_events += events.len();
        progress.inc(0);
        out.flush_full()?;
        page_no += 1;
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    import.finish(out)
}
