//! `metric_points`: one row per CloudWatch metric datapoint.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Float64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::MapColumnBuilder;
use crate::types::{DictBuilder, dict_type, string_map_type, timestamp_type};

pub const TABLE: &str = "metric_points";

/// Natural key: one value per metric, dimensions, statistic and timestamp, in an account and
/// Region (the same function name in two Regions is two series).
pub const KEY: &[&str] = &[
    col::ACCOUNT_ID,
    col::REGION,
    col::NAMESPACE,
    col::METRIC,
    col::DIMENSIONS,
    col::STATISTIC,
    col::LABEL,
    col::TIMESTAMP,
];
pub const TIME: &str = col::TIMESTAMP;
/// Metric points repeat their names and dimensions: every text column keeps its dictionary.
pub const UNIQUE_TEXT: &[&str] = &[];

pub mod col {
    pub use crate::origin::{ACCOUNT_ID, REGION};
    pub const NAMESPACE: &str = "namespace";
    pub const METRIC: &str = "metric";
    pub const DIMENSIONS: &str = "dimensions";
    pub const STATISTIC: &str = "statistic";
    pub const TIMESTAMP: &str = "timestamp";
    pub const VALUE: &str = "value";
    pub const UNIT: &str = "unit";
    /// GetMetricData's label (or query id) when the response does not name the metric itself.
    pub const LABEL: &str = "label";
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let origin = crate::origin::fields();
    use col::*;
    Arc::new(Schema::new(vec![
        Field::new(NAMESPACE, dict_type(), true),
        Field::new(METRIC, dict_type(), false),
        Field::new(DIMENSIONS, string_map_type(), true),
        Field::new(STATISTIC, dict_type(), true),
        Field::new(TIMESTAMP, timestamp_type(), false),
        Field::new(VALUE, DataType::Float64, false),
        Field::new(UNIT, dict_type(), true),
        Field::new(LABEL, DataType::Utf8, true),
        origin[0].clone(),
        origin[1].clone(),
    ]))
});

pub fn schema() -> SchemaRef {
    SCHEMA.clone()
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricPointRow<'a> {
    pub namespace: Option<&'a str>,
    pub metric: &'a str,
    pub dimensions: Vec<(&'a str, &'a str)>,
    pub statistic: Option<&'a str>,
    /// Epoch microseconds.
    pub timestamp: i64,
    pub value: f64,
    pub unit: Option<&'a str>,
    pub label: Option<&'a str>,
}

#[derive(Default)]
pub struct MetricPointBatchBuilder {
    collected_from: crate::origin::OriginColumns,
    namespace: DictBuilder,
    metric: DictBuilder,
    dimensions: MapColumnBuilder,
    statistic: DictBuilder,
    timestamp: TimestampMicrosecondBuilder,
    value: Float64Builder,
    unit: DictBuilder,
    label: StringBuilder,
    rows: usize,
}

impl MetricPointBatchBuilder {
    /// The account and Region of the rows appended from now on.
    pub fn set_origin(&mut self, origin: &crate::origin::Origin) {
        self.collected_from.set(origin);
    }

    pub fn append(&mut self, r: &MetricPointRow<'_>) {
        self.namespace.append_option(r.namespace);
        self.metric.append_value(r.metric);
        self.dimensions.append(r.dimensions.iter().copied());
        self.statistic.append_option(r.statistic);
        self.timestamp.append_value(r.timestamp);
        self.value.append_value(r.value);
        self.unit.append_option(r.unit);
        self.label.append_option(r.label);
        self.collected_from.append();
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn finish(&mut self) -> RecordBatch {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.namespace.finish()),
            Arc::new(self.metric.finish()),
            self.dimensions.finish(),
            Arc::new(self.statistic.finish()),
            Arc::new(self.timestamp.finish().with_timezone("UTC")),
            Arc::new(self.value.finish()),
            Arc::new(self.unit.finish()),
            Arc::new(self.label.finish()),
        ];
        self.rows = 0;
        columns.extend(self.collected_from.finish());
        RecordBatch::try_new(schema(), columns).expect("builders follow the metric_points schema")
    }
}
