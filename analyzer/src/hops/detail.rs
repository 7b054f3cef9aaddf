//! One hop up close: the histogram of its calls, its percentiles against a baseline with the
//! samples behind them, and what its errors were.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use hopscope_schema::spans::{TABLE as SPANS, col as s};
use serde::Serialize;

use super::{Hop, hop_filter};
use crate::columns;
use crate::error::Result;
use crate::hdr::{HDR_BUCKETS, HDR_COUNT, HDR_HISTOGRAM, HDR_QUANTILE};
use crate::session::Session;
use crate::significance::is_low_sample;
use crate::window::Window;

/// Buckets of the hop's histogram when the caller has no room to fit them to.
pub const HISTOGRAM_BUCKETS: usize = 12;
/// Error kinds kept, the most frequent.
const ERROR_KINDS: usize = 8;

const PERCENTILES: [(&str, f64); 5] = [
    ("p50", 0.5),
    ("p90", 0.9),
    ("p99", 0.99),
    ("p99.9", 0.999),
    ("max", 1.0),
];

/// What a hop's calls looked like in a window, beyond what the ranking's [`Hop`] holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HopDetail {
    pub buckets: Vec<Bucket>,
    /// Latency percentiles in ms, now and in the baseline.
    pub percentiles: Vec<Percentile>,
    /// Calls with a duration now and in the baseline: what the percentiles are taken over.
    pub samples: (i64, Option<i64>),
    /// Error kinds (cause type, else the HTTP status) and how often they happened, most first.
    pub error_types: Vec<(String, i64)>,
}

/// One percentile of a hop, now and in the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentile {
    pub label: &'static str,
    pub now: Option<f64>,
    pub before: Option<f64>,
    /// Below CloudWatch's significance bound for this percentile (never for `max`).
    pub now_low_sample: bool,
    pub before_low_sample: bool,
}

/// One bar of the histogram: calls that took `lower_ms..upper_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bucket {
    pub lower_ms: f64,
    pub upper_ms: f64,
    pub count: i64,
}

/// The spans of `hop` where the trace entered its callee (its calls), in `window`.
fn hop_spans(hop: &Hop, window: Window) -> String {
    format!(
        "({}) AND {} AND {}",
        hop_filter(std::slice::from_ref(hop)),
        crate::entry::enters_service(),
        window.predicate(s::START_TIME)
    )
}

impl HopDetail {
    /// `hop` over `window`, its percentiles also over `baseline` when there is one, its
    /// histogram in `bucket_count` log-scaled buckets.
    pub async fn load(
        session: &Session,
        hop: &Hop,
        window: Window,
        baseline: Option<Window>,
        bucket_count: usize,
    ) -> Result<HopDetail> {
        let quantiles = |w: Window| {
            let columns: Vec<String> = PERCENTILES
                .iter()
                .map(|(_, q)| format!("{HDR_QUANTILE}(h, {q})"))
                .collect();
            format!(
                "SELECT {}, {HDR_COUNT}(h) FROM (SELECT {HDR_HISTOGRAM}({}) AS h FROM {SPANS} WHERE {})",
                columns.join(", "),
                s::DURATION_MS,
                hop_spans(hop, w)
            )
        };
        let now = first_row_floats(&session.collect(&quantiles(window)).await?);
        let before = match baseline {
            Some(b) => Some(first_row_floats(&session.collect(&quantiles(b)).await?)),
            None => None,
        };
        let count = |row: &[Option<f64>]| {
            row.get(PERCENTILES.len())
                .copied()
                .flatten()
                .map_or(0, |n| n as i64)
        };
        let samples = (count(&now), before.as_deref().map(count));
        let percentiles = PERCENTILES
            .iter()
            .enumerate()
            .map(|(i, &(label, q))| Percentile {
                label,
                now: now.get(i).copied().flatten(),
                before: before.as_ref().and_then(|b| b.get(i).copied().flatten()),
                now_low_sample: is_low_sample(samples.0, q),
                before_low_sample: samples.1.is_some_and(|n| is_low_sample(n, q)),
            })
            .collect();
        let buckets = buckets(
            &session
                .collect(&format!(
                    "SELECT {HDR_BUCKETS}({HDR_HISTOGRAM}({}), {bucket_count}) FROM {SPANS} WHERE {}",
                    s::DURATION_MS,
                    hop_spans(hop, window)
                ))
                .await?,
        );
        let kinds = session
            .collect(&format!(
                "SELECT coalesce({ct}, CASE WHEN {th} THEN 'throttled' WHEN {ip} THEN 'no answer (in progress)' END,
                                 'HTTP ' || CAST({hs} AS VARCHAR), 'error') AS kind, count(*) AS n
                 FROM {SPANS} WHERE {filter} AND ({e} OR {f} OR {th} OR {ip})
                 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {ERROR_KINDS}",
                ct = s::CAUSE_TYPE,
                th = s::THROTTLE,
                ip = s::IN_PROGRESS,
                hs = s::HTTP_STATUS,
                e = s::ERROR,
                f = s::FAULT,
                filter = hop_spans(hop, window),
            ))
            .await?;
        let mut error_types = Vec::new();
        for b in &kinds {
            let (names, counts) = (columns::strings(b, 0), columns::ints(b, 1));
            error_types.extend(names.into_iter().map(Option::unwrap_or_default).zip(counts));
        }
        Ok(HopDetail {
            buckets,
            percentiles,
            samples,
            error_types,
        })
    }
}

/// The first row's values as floats (`None` for NULL); empty with no row.
fn first_row_floats(batches: &[RecordBatch]) -> Vec<Option<f64>> {
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Vec::new();
    };
    (0..b.num_columns())
        .map(|i| columns::opt_floats(b, i)[0])
        .collect()
}

/// The `hdr_buckets` list of the first row.
fn buckets(batches: &[RecordBatch]) -> Vec<Bucket> {
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Vec::new();
    };
    let list = b.column(0).as_list::<i32>();
    if list.is_null(0) {
        return Vec::new();
    }
    let items = list.value(0);
    let items = items.as_struct();
    let field = |name: &str, t: &DataType| items.column_by_name(name).and_then(|c| cast(c, t).ok());
    let (Some(lower), Some(upper), Some(count)) = (
        field("lower_ms", &DataType::Float64),
        field("upper_ms", &DataType::Float64),
        field("count", &DataType::Int64),
    ) else {
        return Vec::new();
    };
    let (lower, upper, count) = (
        lower.as_primitive::<Float64Type>(),
        upper.as_primitive::<Float64Type>(),
        count.as_primitive::<Int64Type>(),
    );
    (0..items.len())
        .map(|i| Bucket {
            lower_ms: lower.value(i),
            upper_ms: upper.value(i),
            count: count.value(i),
        })
        .collect()
}
