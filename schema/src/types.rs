//! Arrow types shared by the tables, and the small builders arrow does not provide.

use std::sync::Arc;

use foldhash::HashMap;

use arrow::array::NullBufferBuilder;
use arrow::array::{
    ArrayBuilder, ArrayRef, DictionaryArray, Int32Array, MapArray, MapBuilder, MapFieldNames,
    StringBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, TimeUnit};

/// Every timestamp in the store: microseconds since the epoch, in UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Low-cardinality strings (service, origin, region, ...) are dictionary-encoded.
pub(crate) fn dict_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// Builds a `Dictionary(Int32, Utf8)` column, remembering the value of the last row: the spans
/// of a trace repeat their kind, service, namespace and region row after row, and comparing with
/// the last value costs less than hashing every one (13 such columns per span).
#[derive(Debug)]
pub(crate) struct DictBuilder {
    keys: Vec<i32>,
    nulls: NullBufferBuilder,
    /// The distinct values, in key order.
    values: StringBuilder,
    index: HashMap<Box<str>, i32>,
    last: Option<i32>,
}

impl Default for DictBuilder {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            nulls: NullBufferBuilder::new(0),
            values: StringBuilder::new(),
            index: HashMap::default(),
            last: None,
        }
    }
}

impl DictBuilder {
    pub(crate) fn append_value(&mut self, value: &str) {
        let key = match self.last {
            Some(k) if self.value(k) == value.as_bytes() => k,
            _ => match self.index.get(value) {
                Some(&k) => k,
                None => {
                    let k = self.index.len() as i32;
                    self.index.insert(value.into(), k);
                    self.values.append_value(value);
                    k
                }
            },
        };
        self.last = Some(key);
        self.keys.push(key);
        self.nulls.append_non_null();
    }

    pub(crate) fn append_option(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.append_value(v),
            None => {
                self.keys.push(0);
                self.nulls.append_null();
            }
        }
    }

    fn value(&self, key: i32) -> &[u8] {
        let offsets = self.values.offsets_slice();
        let (from, to) = (
            offsets[key as usize] as usize,
            offsets[key as usize + 1] as usize,
        );
        &self.values.values_slice()[from..to]
    }

    /// The column so far; the builder starts over with room for as many rows.
    pub(crate) fn finish(&mut self) -> DictionaryArray<Int32Type> {
        let rows = self.keys.len();
        let keys = std::mem::replace(&mut self.keys, Vec::with_capacity(rows));
        let keys = Int32Array::new(keys.into(), self.nulls.finish());
        self.index.clear();
        self.last = None;
        DictionaryArray::try_new(keys, Arc::new(self.values.finish()))
            .expect("every key indexes a value")
    }
}

/// `Map<Utf8, Utf8>` as used by annotations and dimensions.
pub(crate) fn string_map_type() -> DataType {
    let entries = Field::new(
        "entries",
        DataType::Struct(
            vec![
                Field::new("keys", DataType::Utf8, false),
                Field::new("values", DataType::Utf8, true),
            ]
            .into(),
        ),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

/// Epoch seconds (as X-Ray writes them) to epoch microseconds, rounded to the nearest microsecond
/// so that float noise such as `1533928226.6130002` lands on the intended value.
pub fn micros_from_secs(secs: f64) -> i64 {
    (secs * 1_000_000.0).round() as i64
}

/// Finishes `b` and leaves it with room for another batch like the one just finished, so that
/// batches after the first fill their buffers instead of growing them by doubling (a copy of
/// everything so far each time: the `raw` column holds tens of megabytes per batch).
pub(crate) fn finish_reserving(b: &mut StringBuilder) -> ArrayRef {
    let (rows, bytes) = (b.len(), b.values_slice().len());
    let array = b.finish();
    *b = StringBuilder::with_capacity(rows, bytes);
    Arc::new(array)
}

/// Builds a `Map<Utf8, Utf8>` column one row at a time.
pub struct MapColumnBuilder(MapBuilder<StringBuilder, StringBuilder>);

impl Default for MapColumnBuilder {
    fn default() -> Self {
        let names = MapFieldNames {
            entry: "entries".into(),
            key: "keys".into(),
            value: "values".into(),
        };
        Self(MapBuilder::new(
            Some(names),
            StringBuilder::new(),
            StringBuilder::new(),
        ))
    }
}

impl MapColumnBuilder {
    /// Appends one row holding `entries`.
    pub fn append<'a>(&mut self, entries: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (k, v) in entries {
            self.0.keys().append_value(k);
            self.0.values().append_value(v);
        }
        self.0
            .append(true)
            .expect("keys and values are appended in pairs");
    }

    pub fn finish(&mut self) -> ArrayRef {
        let map: MapArray = self.0.finish();
        // MapBuilder marks values nullable and keys non-null, which is the declared type.
        Arc::new(map)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};

    use super::*;

    #[test]
    fn float_noise_rounds_to_the_intended_microsecond() {
        assert_eq!(micros_from_secs(1533928226.6130002), 1_533_928_226_613_000);
        assert_eq!(micros_from_secs(1.478293361271E9), 1_478_293_361_271_000);
    }

    #[test]
    fn finish_reserving_keeps_room_and_starts_empty() {
        let mut b = StringBuilder::new();
        b.append_value("abc");
        b.append_null();
        let first = finish_reserving(&mut b);
        assert_eq!(first.len(), 2);
        assert!(b.is_empty() && b.values_slice().is_empty());
        b.append_value("d");
        assert_eq!(finish_reserving(&mut b).len(), 1);
    }

    #[test]
    fn dictionary_columns_hold_each_row_and_each_value_once() {
        let mut b = DictBuilder::default();
        let rows = [
            Some("fn"),
            Some("fn"),
            None,
            Some("db"),
            Some("fn"),
            Some("db"),
            None,
        ];
        for r in rows {
            b.append_option(r);
        }
        let first = b.finish();
        let values = first.values().as_string::<i32>();
        let got: Vec<Option<&str>> = first
            .keys()
            .iter()
            .map(|k| k.map(|k| values.value(k as usize)))
            .collect();
        assert_eq!(got, rows);
        assert_eq!(values.len(), 2);
        // A new batch starts a new dictionary.
        b.append_value("s3");
        let second = b.finish();
        assert_eq!(second.values().as_string::<i32>().value(0), "s3");
        assert_eq!((second.len(), second.values().len()), (1, 1));
    }

    #[test]
    fn map_builder_matches_declared_type() {
        let mut b = MapColumnBuilder::default();
        b.append([("k", "v")]);
        b.append([]);
        assert_eq!(b.finish().data_type(), &string_map_type());
    }
}
