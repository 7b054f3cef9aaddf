//! The rollups the reports read: what the store's writers summarize each data file into at
//! ingest (`hopscope import` and `collect` install them), and `hopscope store rebuild-rollups`
//! fills in where a summary is missing. [`Plan`] is how a report reads them.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, RecordBatchOptions, new_null_array};
use datafusion::arrow::datatypes::Schema;
use datafusion::common::DataFusionError;
use hopscope_schema::{hops_1m, lambda_invocations_1m, service_edges_1m};
use hopscope_store::{Grain, Summarizer, Summarizers};

pub(crate) mod flagged;
pub(crate) mod functions;
mod plan;
pub(crate) use plan::{Plan, slots_at};

/// The columns `names` of a data file's rows, in that order: what a summarizer tallies.
pub(crate) fn columns_of(rows: &RecordBatch, names: &[&str]) -> crate::error::Result<RecordBatch> {
    let indices = names
        .iter()
        .map(|c| rows.schema().index_of(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(datafusion::common::DataFusionError::from)?;
    Ok(rows
        .project(&indices)
        .map_err(datafusion::common::DataFusionError::from)?)
}

/// [`columns_of`] rows read in their own file's schema (summaries, to coarsen them): a column of
/// `table` the file was written without (nullable, added since) reads as nulls, as it does in a
/// scan of the table.
pub(crate) fn columns_or_nulls(
    rows: &RecordBatch,
    table: &Schema,
    names: &[&str],
) -> crate::error::Result<RecordBatch> {
    let mut fields = Vec::with_capacity(names.len());
    let mut columns = Vec::with_capacity(names.len());
    for name in names {
        match rows.schema().column_with_name(name) {
            Some((i, field)) => {
                fields.push(field.clone());
                columns.push(rows.column(i).clone());
            }
            None => {
                let field = table.field_with_name(name).map_err(DataFusionError::from)?;
                fields.push(field.clone());
                columns.push(new_null_array(field.data_type(), rows.num_rows()));
            }
        }
    }
    // The row count, for a batch of no column at all; a missing column that may not be null
    // fails here.
    let options = RecordBatchOptions::new().with_row_count(Some(rows.num_rows()));
    Ok(
        RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options)
            .map_err(DataFusionError::from)?,
    )
}

/// The least or greatest (`pick`) of two optional values.
pub(crate) fn either(a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

/// The start of the `grain` (µs) holding instant `t`, by which a summary groups its rows; 0
/// for no grain (a report's tally, one group per window).
pub(crate) fn bucket(t: i64, grain: i64) -> i64 {
    if grain == 0 {
        0
    } else {
        t.div_euclid(grain) * grain
    }
}

/// Every rollup the analyzer reads.
pub fn summarizers() -> Summarizers {
    Summarizers::new(vec![
        Arc::new(ServiceEdges),
        Arc::new(Hops),
        Arc::new(Functions),
    ])
}

/// `service_edges_1m`: the service map's tally per minute.
struct ServiceEdges;

impl Summarizer for ServiceEdges {
    fn table(&self) -> &'static str {
        service_edges_1m::TABLE
    }

    fn summarize(&self, rows: &RecordBatch) -> Result<RecordBatch, String> {
        crate::service_map::summarize(rows).map_err(|e| e.to_string())
    }

    fn coarsen(&self, minutes: &[RecordBatch], grain: Grain) -> Result<RecordBatch, String> {
        crate::service_map::coarsen(minutes, grain.micros()).map_err(|e| e.to_string())
    }
}

/// `hops_1m`: the hop ranking's tally per minute.
struct Hops;

impl Summarizer for Hops {
    fn table(&self) -> &'static str {
        hops_1m::TABLE
    }

    fn summarize(&self, rows: &RecordBatch) -> Result<RecordBatch, String> {
        crate::hops::summarize(rows).map_err(|e| e.to_string())
    }

    fn coarsen(&self, minutes: &[RecordBatch], grain: Grain) -> Result<RecordBatch, String> {
        crate::hops::coarsen(minutes, grain.micros()).map_err(|e| e.to_string())
    }
}

/// `lambda_invocations_1m`: the function alarms' tally per minute.
struct Functions;

impl Summarizer for Functions {
    fn table(&self) -> &'static str {
        lambda_invocations_1m::TABLE
    }

    fn summarize(&self, rows: &RecordBatch) -> Result<RecordBatch, String> {
        functions::summarize(rows).map_err(|e| e.to_string())
    }

    fn coarsen(&self, minutes: &[RecordBatch], grain: Grain) -> Result<RecordBatch, String> {
        functions::coarsen(minutes, grain.micros()).map_err(|e| e.to_string())
    }
}
