//! Property tests: quantiles within HdrHistogram's precision of exact ones, and merging
//! partial histograms equal to one histogram over everything, through the accumulators
//! DataFusion drives.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use hdrhistogram::Histogram;
use proptest::prelude::*;

use super::aggregate::{HdrGroupsAccumulator, Input};
use super::scalar::quantile_ms;
use super::{Decoder, micros};

/// Durations in ms as a column could hold them: mostly ordinary, many repeats, huge outliers,
/// negatives (clock skew), NULLs.
fn duration() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        8 => (0.0f64..5_000.0).prop_map(Some),
        3 => prop::sample::select(vec![0.0, 1.0, 12.5, 250.0, 1_000.0]).prop_map(Some),
        1 => (1e6f64..1e10).prop_map(Some),
        1 => (-10.0f64..0.0).prop_map(Some),
        1 => Just(None),
    ]
}

fn quantile() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::sample::select(vec![0.0, 0.01, 0.5, 0.9, 0.99, 0.999, 1.0]),
        0.0f64..=1.0,
    ]
}

fn column(values: &[Option<f64>]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

/// Every group's result, decoded.
fn results(acc: &mut HdrGroupsAccumulator) -> Vec<Histogram<u64>> {
    let out = acc.evaluate(EmitTo::All).unwrap();
    let mut decoder = Decoder::default();
    out.as_binary::<i32>()
        .iter()
        .map(|b| decoder.decode(b.unwrap()).unwrap())
        .collect()
}

/// A histogram's content: (bucket, count) pairs, independent of its allocated range.
fn content(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| {
            (
                h.lowest_equivalent(v.value_iterated_to()),
                v.count_at_value(),
            )
        })
        .collect()
}

/// The exact quantile by HdrHistogram's definition, over the values as recorded (whole µs):
/// the smallest value with at least `ceil(q * n)` values at or below it.
fn exact_quantile_ms(sorted_us: &[u64], q: f64) -> f64 {
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).max(1);
    sorted_us[rank - 1] as f64 / 1000.0
}

proptest! {
    #[test]
    fn quantiles_are_within_precision_of_exact_ones(
        values in prop::collection::vec(duration(), 1..3_000),
        groups in 1usize..4,
        qs in prop::collection::vec(quantile(), 1..8),
    ) {
        let indices: Vec<usize> = (0..values.len()).map(|i| i % groups).collect();
        let mut acc = HdrGroupsAccumulator::new(Input::Durations);
        acc.update_batch(&[column(&values)], &indices, None, groups).unwrap();
        let histograms = results(&mut acc);
        prop_assert_eq!(histograms.len(), groups);
        for (g, h) in histograms.iter().enumerate() {
            let mut sorted: Vec<u64> = values
                .iter()
                .zip(&indices)
                .filter(|&(_, &i)| i == g)
                .filter_map(|(v, _)| v.and_then(micros))
                .collect();
            sorted.sort_unstable();
            // Outliers and negatives are counted, NULLs are not.
            prop_assert_eq!(h.len(), sorted.len() as u64);
            for &q in &qs {
                let got = quantile_ms(h, q);
                if sorted.is_empty() {
                    prop_assert_eq!(got, None);
                    continue;
                }
                let got = got.unwrap();
                let exact = exact_quantile_ms(&sorted, q);
                prop_assert!(
                    (got - exact).abs() <= exact * 1e-3,
                    "q={} got {} exact {} (group {} of {} values)", q, got, exact, g, sorted.len()
                );
                // Above 0 the result is the top of the exact value's bucket, never below it.
                let on_the_right_side = if q > 0.0 { got >= exact } else { got <= exact };
                prop_assert!(on_the_right_side, "q={} got {} exact {}", q, got, exact);
            }
        }
    }

    #[test]
    fn merged_partitions_equal_one_histogram_over_all(
        values in prop::collection::vec(duration(), 0..3_000),
        cuts in prop::collection::vec(0.0f64..1.0, 0..5),
    ) {
        let mut whole = HdrGroupsAccumulator::new(Input::Durations);
        whole.update_batch(&[column(&values)], &vec![0; values.len()], None, 1).unwrap();
        let whole = results(&mut whole).remove(0);

        let mut bounds: Vec<usize> = cuts.iter().map(|c| (c * values.len() as f64) as usize).collect();
        bounds.extend([0, values.len()]);
        bounds.sort_unstable();
        let parts: Vec<&[Option<f64>]> = bounds.windows(2).map(|w| &values[w[0]..w[1]]).collect();

        // Two-phase aggregation: partial states (lists or histograms, depending on partition
        // size), and rows turned straight into states as when DataFusion skips the partial
        // phase, all merged into one group.
        let mut merged = HdrGroupsAccumulator::new(Input::Durations);
        for (i, part) in parts.iter().enumerate() {
            let mut partial = HdrGroupsAccumulator::new(Input::Durations);
            let state = if i % 2 == 0 {
                partial.update_batch(&[column(part)], &vec![0; part.len()], None, 1).unwrap();
                partial.state(EmitTo::All).unwrap()
            } else {
                partial.convert_to_state(&[column(part)], None).unwrap()
            };
            let rows = state[0].len();
            merged.merge_batch(&state, &vec![0; rows], 1).unwrap();
        }
        let merged = results(&mut merged).remove(0);
        prop_assert_eq!(merged.len(), whole.len());
        prop_assert_eq!(content(&merged), content(&whole));

        // hdr_merge over each partition's finished histogram.
        let mut rollup = HdrGroupsAccumulator::new(Input::Histograms);
        for part in &parts {
            let mut partial = HdrGroupsAccumulator::new(Input::Durations);
            partial.update_batch(&[column(part)], &vec![0; part.len()], None, 1).unwrap();
            let finished = partial.evaluate(EmitTo::All).unwrap();
            rollup.update_batch(&[finished], &[0], None, 1).unwrap();
        }
        let rolled = results(&mut rollup).remove(0);
        prop_assert_eq!(content(&rolled), content(&whole));
    }
}
