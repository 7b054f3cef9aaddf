//! Text from the outside world (log lines, names, annotations, query results) made safe for a
//! terminal: the CLI's tables and the dashboard both show data through here.

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// Removes control characters and escape sequences from text that came from outside (log lines,
/// names, annotations) before it reaches a terminal; tabs and newlines become visible escapes.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // ESC starts a terminal sequence: drop it with its parameters. CSI (`ESC [`) ends
            // at a final byte; OSC (`ESC ]`, e.g. a clipboard write or a window title) ends at
            // BEL or ST (`ESC \`); any other escape is two characters.
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    for n in chars.by_ref() {
                        if ('@'..='~').contains(&n) {
                            break;
                        }
                    }
                }
                Some(']') | Some('P') | Some('_') | Some('^') => {
                    while let Some(n) = chars.next() {
                        if n == '\u{7}' || (n == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Query results as sanitized text, for display: column names and at most `max_rows` rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Rows in the result, including those past `max_rows`.
    pub total_rows: usize,
}

impl TextTable {
    /// Formats `batches` as Arrow displays values (NULL as empty), every cell sanitized.
    pub fn from_batches(batches: &[RecordBatch], max_rows: usize) -> Result<TextTable, ArrowError> {
        let mut table = TextTable::default();
        if let Some(first) = batches.first() {
            table.columns = first
                .schema()
                .fields()
                .iter()
                .map(|f| sanitize(f.name()))
                .collect();
        }
        let options = FormatOptions::default();
        for batch in batches {
            table.total_rows += batch.num_rows();
            let take = max_rows
                .saturating_sub(table.rows.len())
                .min(batch.num_rows());
            if take == 0 {
                continue;
            }
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()?;
            for row in 0..take {
                table.rows.push(
                    formatters
                        .iter()
                        .zip(batch.columns())
                        .map(|(f, c)| {
                            if c.is_null(row) {
                                String::new()
                            } else if is_text(c.data_type()) || c.data_type().is_nested() {
                                sanitize(&f.value(row).to_string())
                            } else {
                                f.value(row).to_string()
                            }
                        })
                        .collect(),
                );
            }
        }
        Ok(table)
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _)
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn sanitize_drops_escapes_and_shows_whitespace() {
        assert_eq!(sanitize("a\u{1b}[31mred\u{1b}[0m\tb\n\u{7}"), "ared\\tb\\n");
        assert_eq!(
            sanitize("x\u{1b}]52;c;aGk=\u{7}y\u{1b}]0;title\u{1b}\\z\u{1b}7!\u{9b}"),
            "xyz!"
        );
        assert_eq!(sanitize("unfinished \u{1b}[3"), "unfinished ");
        assert_eq!(sanitize("größe ✓"), "größe ✓");
    }

    #[test]
    fn text_table_sanitizes_strings_and_counts_all_rows() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("msg", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![
                    Some("a\u{1b}[2Jb"),
                    None,
                    Some("c"),
                ])),
                Arc::new(Int64Array::from(vec![Some(1), Some(2), None])),
            ],
        )
        .unwrap();
        let t = TextTable::from_batches(&[batch.clone(), batch], 4).unwrap();
        assert_eq!(t.columns, ["msg", "n"]);
        assert_eq!(t.total_rows, 6);
        assert_eq!(t.rows.len(), 4);
        assert_eq!(t.rows[0], ["ab", "1"]);
        assert_eq!(t.rows[1], ["", "2"]);
        assert_eq!(t.rows[2], ["c", ""]);
    }
}
