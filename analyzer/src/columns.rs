//! Reading query results column by column into plain Rust values.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};

/// Text, dictionary-encoded or not; NULL stays `None`.
pub fn strings(b: &RecordBatch, col: usize) -> Vec<Option<String>> {
    let c = cast(b.column(col), &DataType::Utf8).expect("names cast to text");
    let s = c.as_string::<i32>();
    (0..s.len())
        .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
        .collect()
}

/// Counts: NULL reads as 0 (a count over nothing).
pub fn ints(b: &RecordBatch, col: usize) -> Vec<i64> {
    let c = cast(b.column(col), &DataType::Int64).expect("counts cast to Int64");
    let a = c.as_primitive::<Int64Type>();
    (0..a.len())
        .map(|i| if a.is_valid(i) { a.value(i) } else { 0 })
        .collect()
}

/// Durations: NULL reads as NaN.
pub fn floats(b: &RecordBatch, col: usize) -> Vec<f64> {
    let c = cast(b.column(col), &DataType::Float64).expect("durations cast to Float64");
    let a = c.as_primitive::<Float64Type>();
    (0..a.len())
        .map(|i| if a.is_valid(i) { a.value(i) } else { f64::NAN })
        .collect()
}

/// Optional floats: NULL stays `None`.
pub fn opt_floats(b: &RecordBatch, col: usize) -> Vec<Option<f64>> {
    let c = cast(b.column(col), &DataType::Float64).expect("numbers cast to Float64");
    let a = c.as_primitive::<Float64Type>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect()
}

/// Optional integers: NULL stays `None`.
pub fn opt_ints(b: &RecordBatch, col: usize) -> Vec<Option<i64>> {
    let c = cast(b.column(col), &DataType::Int64).expect("numbers cast to Int64");
    let a = c.as_primitive::<Int64Type>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect()
}

/// Timestamps as epoch microseconds, whatever their unit or zone.
pub fn micros(b: &RecordBatch, col: usize) -> Vec<Option<i64>> {
    let c = cast(
        b.column(col),
        &DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
    )
    .expect("timestamps cast to microseconds");
    let a = c.as_primitive::<TimestampMicrosecondType>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect()
}

/// A `Map<Utf8, Utf8>` column (annotations) as key-value pairs per row; a NULL map is empty,
/// a NULL value reads as "".
pub fn string_maps(b: &RecordBatch, col: usize) -> Vec<Vec<(String, String)>> {
    let maps = b.column(col).as_map();
    (0..maps.len())
        .map(|i| {
            if !maps.is_valid(i) {
                return Vec::new();
            }
            let entries = maps.value(i);
            let (k, v) = (
                entries.column(0).as_string::<i32>(),
                entries.column(1).as_string::<i32>(),
            );
            (0..entries.len())
                .map(|j| {
                    let value = if v.is_valid(j) { v.value(j) } else { "" };
                    (k.value(j).to_owned(), value.to_owned())
                })
                .collect()
        })
        .collect()
}

/// Flags: NULL reads as false.
pub fn bools(b: &RecordBatch, col: usize) -> Vec<bool> {
    let c = cast(b.column(col), &DataType::Boolean).expect("flags cast to Boolean");
    let a = c.as_boolean();
    (0..a.len()).map(|i| a.is_valid(i) && a.value(i)).collect()
}
