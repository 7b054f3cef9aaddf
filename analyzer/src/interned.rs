//! Text columns as small integer ids, for the hand-written tallies (`hops`, the service map).
//!
//! Each distinct name of a partition gets one id; a dictionary column is interned once per
//! distinct value per batch, not per row, and rows are then compared and grouped as integers.

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::exec_datafusion_err;

use crate::error::Result;

/// No name (a null).
pub(crate) const NONE: u32 = u32::MAX;

/// An id as an option: `None` for [`NONE`] (a null).
pub(crate) fn known(id: u32) -> Option<u32> {
    (id != NONE).then_some(id)
}

/// An account id and a Region id packed into one group key (each id + 1, 0 for none).
pub(crate) fn pack_origin(account: u32, region: u32) -> u64 {
    let id = |id: u32| if id == NONE { 0 } else { u64::from(id) + 1 };
    (id(account) << 32) | id(region)
}

/// The names of one partition and their ids.
#[derive(Default)]
pub(crate) struct Interner {
    ids: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Interner {
    pub(crate) fn intern(&mut self, v: &str) -> u32 {
        if let Some(&id) = self.ids.get(v) {
            return id;
        }
        let id = self.names.len() as u32;
        let name: Arc<str> = Arc::from(v);
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }

    /// The name of an id [`Interner::intern`] gave.
    pub(crate) fn name(&self, id: u32) -> &Arc<str> {
        &self.names[id as usize]
    }

    /// A text column (dictionary-encoded or not) as one id per row, [`NONE`] for null.
    pub(crate) fn column(&mut self, a: &ArrayRef) -> Result<Vec<u32>> {
        if let DataType::Dictionary(_, _) = a.data_type() {
            let dict = a.as_any_dictionary();
            if dict.values().is_empty() {
                // Every row null (a builder's column before it meets Parquet has no values).
                return Ok(vec![NONE; a.len()]);
            }
            let values = text(dict.values())?;
            let interned: Vec<u32> = (0..values.len())
                .map(|i| values.get(i).map_or(NONE, |v| self.intern(v)))
                .collect();
            let keys = dict.normalized_keys();
            let nulls = a.nulls();
            return Ok((0..a.len())
                .map(|i| {
                    if nulls.is_none_or(|n| n.is_valid(i)) {
                        interned[keys[i]]
                    } else {
                        NONE
                    }
                })
                .collect());
        }
        let t = text(a)?;
        Ok((0..a.len())
            .map(|i| t.get(i).map_or(NONE, |v| self.intern(v)))
            .collect())
    }
}

/// Hashes packed integer keys: one multiply, the high bits mixed down.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        let h = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_i64(&mut self, v: i64) {
        self.write_u64(v as u64);
    }

    fn write_u128(&mut self, v: u128) {
        self.write_u64(v as u64);
        self.write_u64((v >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A text column of any string encoding, read row by row without copying.
pub(crate) enum Text<'a> {
    Utf8(&'a datafusion::arrow::array::StringArray),
    Large(&'a datafusion::arrow::array::LargeStringArray),
    View(&'a datafusion::arrow::array::StringViewArray),
    Null,
}

impl Text<'_> {
    pub(crate) fn get(&self, i: usize) -> Option<&str> {
        match self {
            Text::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Text::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Text::View(a) => a.is_valid(i).then(|| a.value(i)),
            Text::Null => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Text::Utf8(a) => a.len(),
            Text::Large(a) => a.len(),
            Text::View(a) => a.len(),
            Text::Null => 0,
        }
    }
}

pub(crate) fn text(a: &ArrayRef) -> Result<Text<'_>> {
    Ok(match a.data_type() {
        DataType::Utf8 => Text::Utf8(a.as_string::<i32>()),
        DataType::LargeUtf8 => Text::Large(a.as_string::<i64>()),
        DataType::Utf8View => Text::View(a.as_string_view()),
        DataType::Null => Text::Null,
        other => {
            return Err(exec_datafusion_err!("a text column of type {other}").into());
        }
    })
}

/// Each row of a boolean column as one bit, false where null.
pub(crate) fn flags(a: &ArrayRef) -> impl Fn(usize) -> bool + use<> {
    let a = a.as_boolean();
    let bits = match a.nulls() {
        Some(n) => a.values() & n.inner(),
        None => a.values().clone(),
    };
    move |row: usize| bits.value(row)
}
