//! Numbers and times as the screens print them.

use chrono::DateTime;
pub use hopscope_analyzer::text::{clock, fit, sparkline};

/// Milliseconds in at most five characters, with precision that fits their size: `0.42`,
/// `8.1`, `412`, `12.3s`, `123s`, `15m`, `2.5h` (a `~` mark still fits a six-character column).
pub fn ms(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 10_000.0 * 60.0 * 60.0 {
        format!("{:.0}h", v / 3_600_000.0)
    } else if a >= 1000.0 * 60.0 * 60.0 {
        format!("{:.1}h", v / 3_600_000.0)
    } else if a >= 1000.0 * 1000.0 {
        format!("{:.0}m", v / 60_000.0)
    } else if a >= 100_000.0 {
        format!("{:.0}s", v / 1000.0)
    } else if a >= 10_000.0 {
        format!("{:.1}s", v / 1000.0)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A duration with its unit: `412 ms`, `30.0 s`.
pub fn dur(v: f64) -> String {
    if v.is_finite() && v.abs() >= 10_000.0 {
        format!("{:.1} s", v / 1000.0)
    } else {
        format!("{} ms", ms(v))
    }
}

/// A range of durations in one unit: `2.20–3.48 ms`, `7.47–10.4 s`.
pub fn dur_range(lo: f64, hi: f64) -> String {
    if hi.is_finite() && hi.abs() >= 10_000.0 {
        let s = |v: f64| {
            let v = v / 1000.0;
            if v.abs() >= 100.0 {
                format!("{v:.0}")
            } else if v.abs() >= 10.0 {
                format!("{v:.1}")
            } else {
                format!("{v:.2}")
            }
        };
        format!("{}–{} s", s(lo), s(hi))
    } else {
        format!("{}–{} ms", ms(lo), ms(hi))
    }
}

pub fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), ms)
}

/// Marks a percentile taken over fewer calls than CloudWatch's significance bound needs.
pub const LOW_SAMPLE_MARK: char = '~';

/// A percentile in ms, `~`-marked when it is low-sample.
pub fn pct_ms(v: Option<f64>, low_sample: bool) -> String {
    match v {
        Some(v) if low_sample => format!("{LOW_SAMPLE_MARK}{}", ms(v)),
        v => opt_ms(v),
    }
}

/// A percentile with its unit (`539 ms`, `30.0 s`), `~`-marked when it is low-sample.
pub fn pct_dur(v: Option<f64>, low_sample: bool) -> String {
    match v {
        Some(v) if low_sample => format!("{LOW_SAMPLE_MARK}{}", dur(v)),
        Some(v) => dur(v),
        None => "-".into(),
    }
}

/// A count in at most five characters: `950`, `12.3k`, `4.1M`.
pub fn count(n: i64) -> String {
    match n {
        n if n.abs() >= 1_000_000 => format!("{:.1}M", n as f64 / 1e6),
        n if n.abs() >= 10_000 => format!("{:.1}k", n as f64 / 1e3),
        n => n.to_string(),
    }
}

/// `YYYY-MM-DD HH:MM` UTC of a time in microseconds.
pub fn date_minute(us: i64) -> String {
    DateTime::from_timestamp_micros(us)
        .map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_durations_fit_five_characters() {
        assert_eq!(ms(30_015.5), "30.0s");
        assert_eq!(ms(123_400.0), "123s");
        assert_eq!(ms(900_000.0), "900s");
        assert_eq!(ms(1_234_500.0), "21m");
        assert_eq!(ms(9_000_000.0), "2.5h");
        assert_eq!(ms(100_000_000.0), "28h");
        assert_eq!(pct_ms(Some(900_000.0), true), "~900s");
    }

    #[test]
    fn formats_with_one_unit() {
        assert_eq!(dur_range(2.2, 3.48), "2.20–3.48 ms");
        assert_eq!(dur_range(7471.0, 10_400.0), "7.47–10.4 s");
        assert_eq!(pct_dur(Some(30_015.5), true), "~30.0 s");
        assert_eq!(pct_dur(Some(539.0), false), "539 ms");
        assert_eq!(pct_dur(None, true), "-");
    }

    #[test]
    fn formats() {
        assert_eq!(ms(0.4234), "0.42");
        assert_eq!(ms(12.34), "12.3");
        assert_eq!(ms(412.6), "413");
        assert_eq!(ms(12_345.0), "12.3s");
        assert_eq!(ms(f64::NAN), "-");
        assert_eq!(count(950), "950");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(clock(1_795_165_200_000_000), "09:00:00");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
    }
}
