//! The scenario file (`scenario.toml`): what happened, when, and what an analysis should find.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;

/// One reference architecture with its incident, as written to `<out>/scenario.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// One of [`crate::SCENARIOS`].
    pub name: String,
    /// What the system does and what went wrong, in a sentence or two.
    pub description: String,
    /// The request path, hop by hop.
    pub architecture: String,
    /// The time range covered by the traces, logs and metrics.
    pub window: TimeRange,
    /// When the incident is active; it always ends with the window.
    pub incident: TimeRange,
    /// The hop an analysis should blame.
    pub culprit: Culprit,
    /// What an engineer should see in traces, logs and metrics.
    pub expected: Vec<String>,
    /// What `hopscope why` ranks first over the incident, on the hop a responder asks about.
    pub why: ExpectedWhy,
    /// The alarms the starter pack (`rules/`) raises when evaluated at the end of the window,
    /// and no other: the incident's cause, and the symptoms it causes on other nodes.
    #[serde(default)]
    pub alarms: Vec<ExpectedAlarm>,
}

/// An alarm, named by its rule and its key (the function, service, `caller -> callee` or query
/// key the rule keeps one alarm for).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExpectedAlarm {
    pub rule: String,
    pub key: String,
    /// Why this incident raises it.
    pub why: String,
}

/// The evidence that leads `hopscope why CALLER CALLEE` over the incident against the time
/// before it: an attribute (as the report names it) and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedWhy {
    /// `None`: the trace's client (the hop into the entry point).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    pub callee: String,
    pub attribute: String,
    pub value: String,
}

/// A half-open time range `[start, end)`, written as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl TimeRange {
    pub(crate) fn start_us(&self) -> i64 {
        self.start.timestamp_micros()
    }

    pub(crate) fn end_us(&self) -> i64 {
        self.end.timestamp_micros()
    }

    pub(crate) fn contains_us(&self, t: i64) -> bool {
        (self.start_us()..self.end_us()).contains(&t)
    }
}

/// The culprit hop, named as service-map nodes: a segment's `name`, `<name>:<resource>` for an
/// AWS SDK subsegment with a known resource, the host for a remote HTTP call, the subsegment
/// name for SQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Culprit {
    pub caller: String,
    pub callee: String,
    pub cause: Cause,
}

/// Why the culprit hop misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The callee answers, but slowly.
    SlowDependency,
    /// The callee's Lambda sandboxes start cold (Initialization / Init Duration).
    ColdStart,
    /// The callee never answers and the caller's Lambda times out.
    Timeout,
    /// The callee rejects requests with throttling errors; the caller retries.
    Throttle,
}

/// Reads and validates a `scenario.toml`.
pub fn load_scenario(path: &Path) -> Result<Scenario, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let scenario: Scenario = toml::from_str(&text).map_err(|e| Error::Scenario {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    for (what, range) in [("window", scenario.window), ("incident", scenario.incident)] {
        if range.start >= range.end {
            return Err(Error::Scenario {
                path: path.to_owned(),
                reason: format!("{what} starts at or after its end"),
            });
        }
    }
    if scenario.incident.start < scenario.window.start
        || scenario.incident.end > scenario.window.end
    {
        return Err(Error::Scenario {
            path: path.to_owned(),
            reason: "the incident is not inside the window".to_owned(),
        });
    }
    Ok(scenario)
}
