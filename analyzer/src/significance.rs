//! When a percentile means something: CloudWatch's significance bound.
//!
//! CloudWatch calls a percentile `pN` of fewer than `10 / (1 - N/100)` samples not
//! statistically significant (p50 needs 20 samples, p90 100, p99 1000, p99.9 10,000): with
//! fewer, the value is set by the few slowest calls, not by the distribution. hopscope shows
//! such a percentile, but marks it low-sample, with its sample count, everywhere it shows one.
//!
//! The bound is compared exactly: it is not a whole number for most percentiles (p70 needs
//! 33.3 samples, so 33 are too few), and `1.0 - 0.9` in floating point is below 0.1.

/// Millionths: the finest percentile written in practice is p99.9999.
const SCALE: u64 = 1_000_000;

/// The fewest samples that make quantile `q` (in (0, 1)) significant: the smallest `n` with
/// `n * (1 - q) >= 10`. `q` is read to six decimals; `u64::MAX` for `q >= 1` (never enough).
pub fn min_samples(q: f64) -> u64 {
    let q = (q.clamp(0.0, 1.0) * SCALE as f64).round() as u64;
    let rest = SCALE - q.min(SCALE);
    if rest == 0 {
        return u64::MAX;
    }
    (10 * SCALE).div_ceil(rest)
}

/// Whether quantile `q` of `samples` values is below CloudWatch's significance bound.
pub fn is_low_sample(samples: i64, q: f64) -> bool {
    u64::try_from(samples).map_or(true, |n| n < min_samples(q))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::p50(0.5, 20)]
    #[case::p90(0.9, 100)]
    #[case::p99(0.99, 1000)]
    #[case::p99_9(0.999, 10_000)]
    #[case::p30(0.3, 15)]
    #[case::p45(0.45, 19)]
    #[case::p55(0.55, 23)]
    #[case::p66(0.66, 30)]
    #[case::p70(0.7, 34)]
    #[case::p0(0.0, 10)]
    #[case::p100(1.0, u64::MAX)]
    fn bound_is_the_first_whole_sample_count_at_or_above_ten_over_one_minus_q(
        #[case] q: f64,
        #[case] want: u64,
    ) {
        assert_eq!(min_samples(q), want);
    }

    #[test]
    fn thirty_three_samples_are_too_few_for_p70_and_a_hundred_enough_for_p90() {
        assert!(is_low_sample(33, 0.7));
        assert!(!is_low_sample(34, 0.7));
        assert!(!is_low_sample(100, 0.9));
        assert!(is_low_sample(99, 0.9));
        assert!(is_low_sample(247, 0.99));
    }
}
