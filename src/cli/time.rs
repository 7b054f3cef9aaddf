//! Points in time on the command line (`--since`, `--until`): RFC 3339 (`2026-11-20T14:00:00Z`),
//! `now`, or a duration before now (`90m`, `2h`, `7d`, `1h30m`).

use chrono::{DateTime, TimeDelta, Utc};

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
