//! When a percentile means something: CloudWatch's significance bound, the one definition the
//! alarms, the hops, the map, the SQL views and the dashboard share.
//!
//! CloudWatch calls a percentile not statistically significant when it is taken over fewer than
//! `10 / (1 - p)` samples for p in [0.5, 1), or `10 / p` for p in (0, 0.5) (p50 needs 20, p90
//! 100, p99 1000, p99.9 10,000; p10 needs 100): with fewer, the value is set by the few most
//! extreme calls, not by the distribution. hopscope shows such a percentile, marked low-sample
//! with its sample count, everywhere it shows one. See "Percentile-based alarms and low data
//! samples", <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/percentiles-with-low-samples.html>.
//!
//! The bound is an exact fraction taken from the percentile as written: it is not a whole number
//! for most percentiles (p70 needs 33.3 samples, so 33 are too few), and `1.0 - 0.9` in floating
//! point is below 0.1.

/// How many samples a percentile needs to be significant, as the exact fraction `num / den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleBound {
    num: u128,
    den: u128,
}

impl SampleBound {
    /// The bound of quantile `q` (0.99 for p99); `None` outside (0, 1): a minimum or a maximum
    /// has no bound.
    pub fn of_quantile(q: f64) -> Option<SampleBound> {
        let (a, scale) = decimal(q)?;
        SampleBound::of_fraction(a, scale)
    }

    /// The bound of percentile `p` (99.0 for p99), exact to the decimals it was written with.
    pub fn of_percent(p: f64) -> Option<SampleBound> {
        let (a, scale) = decimal(p)?;
        SampleBound::of_fraction(a, scale.checked_mul(100)?)
    }

    /// The bound of the quantile `a / scale`.
    fn of_fraction(a: u128, scale: u128) -> Option<SampleBound> {
        if a == 0 || a >= scale {
            return None;
        }
        Some(SampleBound {
            num: scale.checked_mul(10)?,
            den: if 2 * a >= scale { scale - a } else { a },
        })
    }

    /// Whether `samples` is below the bound.
    pub fn is_low(self, samples: u64) -> bool {
        // An overflow is a count far above any bound.
        u128::from(samples)
            .checked_mul(self.den)
            .is_some_and(|scaled| scaled < self.num)
    }

    /// The fewest whole samples that are enough.
    pub fn min_samples(self) -> u64 {
        u64::try_from(self.num.div_ceil(self.den)).unwrap_or(u64::MAX)
    }
}

impl std::fmt::Display for SampleBound {
    /// The bound as CloudWatch would state it: `1000`, or `33.33` where it is not whole.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.num.is_multiple_of(self.den) {
            write!(f, "{}", self.num / self.den)
        } else {
            write!(f, "{:.2}", self.num as f64 / self.den as f64)
        }
    }
}

/// `x` as `a / 10^k` from its shortest decimal form (what was written: 0.999, 99.9).
fn decimal(x: f64) -> Option<(u128, u128)> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    // Display of an f64 never uses an exponent: 1e-7 is written 0.0000001.
    let text = format!("{x}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let scale = 10u128.checked_pow(u32::try_from(frac.len()).ok()?)?;
    let a = format!("{int}{frac}").parse().ok()?;
    Some((a, scale))
}

/// The fewest samples that make quantile `q` significant; `None` when `q` has no bound.
pub fn min_samples(q: f64) -> Option<u64> {
    SampleBound::of_quantile(q).map(SampleBound::min_samples)
}

/// Whether quantile `q` of `samples` values is below CloudWatch's significance bound (never
/// for a minimum or maximum).
pub fn is_low_sample(samples: i64, q: f64) -> bool {
    SampleBound::of_quantile(q).is_some_and(|b| b.is_low(u64::try_from(samples).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::p50(0.5, Some(20))]
    #[case::p90(0.9, Some(100))]
    #[case::p99(0.99, Some(1000))]
    #[case::p99_9(0.999, Some(10_000))]
    #[case::p70(0.7, Some(34))]
    #[case::p66(0.66, Some(30))]
    #[case::p55(0.55, Some(23))]
    #[case::p45_below_the_median_is_10_over_p(0.45, Some(23))]
    #[case::p30(0.3, Some(34))]
    #[case::p10(0.1, Some(100))]
    #[case::min(0.0, None)]
    #[case::max(1.0, None)]
    fn the_fewest_samples_that_are_enough(#[case] q: f64, #[case] want: Option<u64>) {
        assert_eq!(min_samples(q), want);
    }

    #[test]
    fn bounds_compare_exactly() {
        assert!(is_low_sample(33, 0.7));
        assert!(!is_low_sample(34, 0.7));
        assert!(!is_low_sample(100, 0.9));
        assert!(is_low_sample(99, 0.9));
        assert!(is_low_sample(247, 0.99));
        assert!(!is_low_sample(1, 1.0));
        assert_eq!(SampleBound::of_percent(70.0).unwrap().to_string(), "33.33");
        assert_eq!(SampleBound::of_percent(99.9).unwrap().to_string(), "10000");
        assert_eq!(
            SampleBound::of_percent(99.9),
            SampleBound::of_quantile(0.999)
        );
    }
}
