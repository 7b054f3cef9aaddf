//! What `service_edges_1m` holds since `flagged_errors`, `min_ms` and `max_ms` were added: the
//! spans with the error flag (throttles included) and their least and greatest duration, which an
//! error rate, a min and a max over spans need. Summaries written before hold them null, and
//! whatever merges one in cannot know them either: it says so rather than count zero.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};

use super::either;

/// A group's error flags and duration extremes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Flagged {
    Known {
        errors: i64,
        /// `None` while no span has a duration.
        min_ms: Option<f64>,
        max_ms: Option<f64>,
    },
    /// A summary written before the columns went in.
    Unknown,
}

impl Default for Flagged {
    fn default() -> Flagged {
        Flagged::Known {
            errors: 0,
            min_ms: None,
            max_ms: None,
        }
    }
}

impl Flagged {
    /// Counts one span: its error flag and its duration, if it has one.
    pub(crate) fn add_span(&mut self, error: bool, duration_ms: Option<f64>) {
        self.merge(Flagged::Known {
            errors: i64::from(error),
            min_ms: duration_ms,
            max_ms: duration_ms,
        });
    }

    pub(crate) fn merge(&mut self, other: Flagged) {
        *self = match (*self, other) {
            (
                Flagged::Known {
                    errors,
                    min_ms,
                    max_ms,
                },
                Flagged::Known {
                    errors: their_errors,
                    min_ms: their_min,
                    max_ms: their_max,
                },
            ) => Flagged::Known {
                errors: errors + their_errors,
                min_ms: either(min_ms, their_min, f64::min),
                max_ms: either(max_ms, their_max, f64::max),
            },
            _ => Flagged::Unknown,
        };
    }

    /// As a summary row's `flagged_errors`, `min_ms` and `max_ms`: all null when unknown.
    pub(crate) fn columns(self) -> (Option<i64>, Option<f64>, Option<f64>) {
        match self {
            Flagged::Known {
                errors,
                min_ms,
                max_ms,
            } => (Some(errors), min_ms, max_ms),
            Flagged::Unknown => (None, None, None),
        }
    }
}

/// A summary batch's `flagged_errors`, `min_ms` and `max_ms` columns.
pub(crate) struct FlaggedColumns<'a> {
    errors: &'a Int64Array,
    min_ms: &'a Float64Array,
    max_ms: &'a Float64Array,
}

impl<'a> FlaggedColumns<'a> {
    /// Of the three columns, in that order.
    pub(crate) fn new([errors, min_ms, max_ms]: [&'a ArrayRef; 3]) -> FlaggedColumns<'a> {
        FlaggedColumns {
            errors: errors.as_primitive::<Int64Type>(),
            min_ms: min_ms.as_primitive::<Float64Type>(),
            max_ms: max_ms.as_primitive::<Float64Type>(),
        }
    }

    pub(crate) fn at(&self, row: usize) -> Flagged {
        let ms = |a: &Float64Array| a.is_valid(row).then(|| a.value(row));
        if self.errors.is_null(row) {
            return Flagged::Unknown;
        }
        Flagged::Known {
            errors: self.errors.value(row),
            min_ms: ms(self.min_ms),
            max_ms: ms(self.max_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merge_with_an_unknown_part_is_unknown_and_extremes_skip_the_untimed() {
        let mut a = Flagged::default();
        a.add_span(true, Some(5.0));
        a.add_span(false, None);
        let mut b = Flagged::default();
        b.add_span(true, Some(2.0));
        b.add_span(true, Some(9.0));
        a.merge(b);
        assert_eq!(a.columns(), (Some(3), Some(2.0), Some(9.0)));
        let mut untimed = Flagged::default();
        untimed.add_span(false, None);
        assert_eq!(untimed.columns(), (Some(0), None, None));
        a.merge(untimed);
        assert_eq!(a.columns(), (Some(3), Some(2.0), Some(9.0)));
        a.merge(Flagged::Unknown);
        assert_eq!(a.columns(), (None, None, None));
        let mut unknown_first = Flagged::Unknown;
        unknown_first.add_span(true, Some(1.0));
        assert_eq!(unknown_first, Flagged::Unknown);
    }
}
