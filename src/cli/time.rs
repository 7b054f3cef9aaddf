//! Points in time on the command line (`--since`, `--until`): RFC 3339 (`2026-11-20T14:00:00Z`),
//! `now`, or a duration before now (`90m`, `2h`, `7d`, `1h30m`).

use chrono::{DateTime, TimeDelta, Utc};
use clap::Args;
use hopscope_analyzer::window::Window;

/// A time as the user wrote it, resolved against a clock when the command runs (so `--watch`
/// and tests can resolve it again, or with a fixed `now`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeArg {
    At(DateTime<Utc>),
    Ago(TimeDelta),
}

impl TimeArg {
    pub fn resolve(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimeArg::At(t) => *t,
            TimeArg::Ago(d) => now - *d,
        }
    }
}

impl std::str::FromStr for TimeArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("now") {
            return Ok(TimeArg::Ago(TimeDelta::zero()));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(TimeArg::At(t.to_utc()));
        }
        let ago = humantime::parse_duration(s).map_err(|e| {
            format!("{s:?} is neither an RFC 3339 time (2026-11-20T14:00:00Z) nor a duration before now (90m, 2h, 7d): {e}")
        })?;
        TimeDelta::from_std(ago)
            .map(TimeArg::Ago)
            .map_err(|_| format!("{s:?} is too long ago"))
    }
}

/// `--since` / `--until`, shared by the commands that analyze a time window.
#[derive(Debug, Clone, Default, Args)]
pub struct WindowArgs {
    /// Start of the window: RFC 3339, or a duration before now such as 30m [default: one hour
    /// before --until]
    #[arg(long, value_name = "TIME")]
    pub since: Option<TimeArg>,

    /// End of the window [default: now]
    #[arg(long, value_name = "TIME")]
    pub until: Option<TimeArg>,
}

impl WindowArgs {
    /// The window asked for; `None` when neither flag is given (each command has its default).
    pub fn resolve(&self, now: DateTime<Utc>) -> anyhow::Result<Option<Window>> {
        if self.since.is_none() && self.until.is_none() {
            return Ok(None);
        }
        let until = self.until.as_ref().map_or(now, |u| u.resolve(now));
        let since = self
            .since
            .as_ref()
            .map_or(until - TimeDelta::hours(1), |s| s.resolve(now));
        anyhow::ensure!(
            since < until,
            "--since ({since}) must be before --until ({until})"
        );
        Ok(Some(Window {
            start_us: since.timestamp_micros(),
            end_us: until.timestamp_micros(),
        }))
    }
}

/// A window as its reports head it: `2026-11-20 10:00 .. 2026-11-20 11:00 UTC`.
pub fn range(w: &Window) -> String {
    let minute = |us: i64| {
        DateTime::<Utc>::from_timestamp_micros(us).map_or_else(
            || us.to_string(),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        )
    };
    format!("{} .. {} UTC", minute(w.start_us), minute(w.end_us))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_relative_and_now() {
        let now = DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .unwrap()
            .to_utc();
        let at = |s: &str| s.parse::<TimeArg>().unwrap().resolve(now).to_rfc3339();
        assert_eq!(at("2026-11-20T10:30:00+01:00"), "2026-11-20T09:30:00+00:00");
        assert_eq!(at("90m"), "2026-11-20T10:30:00+00:00");
        assert_eq!(at("2h"), "2026-11-20T10:00:00+00:00");
        assert_eq!(at("7d"), "2026-11-13T12:00:00+00:00");
        assert_eq!(at("now"), "2026-11-20T12:00:00+00:00");
        let err = "yesterday".parse::<TimeArg>().unwrap_err();
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
