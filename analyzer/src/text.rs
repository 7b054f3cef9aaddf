//! Text from the outside world (log lines, names, annotations, query results) made safe for a
//! terminal: the CLI's tables and the dashboard both show data through here.

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// Makes text that came from outside (log lines, names, annotations) safe for a terminal: every
/// control character is shown as an escape (`\x1b`, `\n`, `\u{9b}`), as `cat -v` or ripgrep
/// show them, so a log line's escape sequence (an OSC 52 clipboard write, a screen clear) is
/// seen, not obeyed. Newlines and tabs are escaped too: a cell stays on its line.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c, false);
    }
    out
}

/// Appends `c` to `out`, escaped when it is a control character (`\n` and `\t` kept as they
/// are when `keep_lines`: a stream of lines, not a cell).
pub fn push_escaped(out: &mut String, c: char, keep_lines: bool) {
    use std::fmt::Write;
    match c {
        '\n' | '\t' if keep_lines => out.push(c),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        // Writing to a String cannot fail.
        c if u32::from(c) < 0x80 && c.is_control() => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if c.is_control() => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Escapes a byte stream for a terminal the way [`sanitize`] escapes text, keeping newlines and
/// tabs; bytes that are not UTF-8 are shown as `\xNN`. Feed it chunks in order: a character
/// split between two chunks is held back until the next one.
#[derive(Debug, Default)]
pub struct StreamEscaper {
    held: Vec<u8>,
}

impl StreamEscaper {
    /// Appends the escaped form of `chunk` to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut String) {
        self.held.extend_from_slice(chunk);
        let mut rest: &[u8] = &self.held;
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    text.chars().for_each(|c| push_escaped(out, c, true));
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // Valid up to here by the error's own account.
                    let valid = std::str::from_utf8(valid).unwrap_or_default();
                    valid.chars().for_each(|c| push_escaped(out, c, true));
                    match e.error_len() {
                        Some(n) => {
                            for b in &after[..n] {
                                use std::fmt::Write;
                                let _ = write!(out, "\\x{b:02x}");
                            }
                            rest = &after[n..];
                        }
                        // An incomplete character at the end: wait for the next chunk.
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        let keep = rest.len();
        let len = self.held.len();
        self.held.drain(..len - keep);
    }

    /// Appends what is still held (an incomplete character at the end of the stream).
    pub fn finish(&mut self, out: &mut String) {
        use std::fmt::Write;
        for b in self.held.drain(..) {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
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

/// Values as a line of block characters scaled to their maximum; gaps as spaces (the lanes of
/// the dashboard and of the commands that print series).
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    values
        .iter()
        .map(|v| match v {
            Some(v) if v.is_finite() && max > 0.0 => {
                BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
            Some(_) => BARS[0],
            None => ' ',
        })
        .collect()
}

/// `text` cut to `width` characters, with `…` when cut (tables and panes that keep their
/// columns).
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// `HH:MM:SS` UTC of a time in microseconds.
pub fn clock(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map_or_else(|| "?".into(), |t| t.format("%H:%M:%S").to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn sparklines_scale_to_the_maximum_and_keep_gaps() {
        assert_eq!(sparkline(&[Some(1.0), None, Some(8.0), Some(0.0)]), "▂ █▁");
        assert_eq!(sparkline(&[Some(0.0), None]), "▁ ");
    }

    #[test]
    fn sanitize_shows_escapes_and_whitespace_instead_of_obeying_them() {
        assert_eq!(
            sanitize("a\u{1b}[31mred\u{1b}[0m\tb\n\u{7}"),
            r"a\x1b[31mred\x1b[0m\tb\n\x07"
        );
        assert_eq!(
            sanitize("x\u{1b}]52;c;aGk=\u{7}y\r\u{7f}!\u{9b}2J"),
            r"x\x1b]52;c;aGk=\x07y\r\x7f!\u{9b}2J"
        );
        assert_eq!(sanitize("größe ✓"), "größe ✓");
    }

    #[test]
    fn the_stream_escaper_keeps_lines_and_joins_characters_split_between_chunks() {
        let mut e = StreamEscaper::default();
        let mut out = String::new();
        let text = "ok\tgröße\n\u{1b}]52;c;aGk=\u{7}\u{9b}\n".as_bytes();
        // Split inside `ö` (2 bytes) and inside U+009B (2 bytes).
        let umlaut = text.iter().position(|&b| b == 0xc3).unwrap() + 1;
        let c1 = text.iter().position(|&b| b == 0xc2).unwrap() + 1;
        e.push(&text[..umlaut], &mut out);
        e.push(&text[umlaut..c1], &mut out);
        e.push(&text[c1..], &mut out);
        e.push(b"bad \xff\xfe end\xe2\x9c", &mut out);
        e.finish(&mut out);
        assert_eq!(
            out,
            "ok\tgröße\n\\x1b]52;c;aGk=\\x07\\u{9b}\nbad \\xff\\xfe end\\xe2\\x9c"
        );
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
        assert_eq!(t.rows[0], [r"a\x1b[2Jb", "1"]);
        assert_eq!(t.rows[1], ["", "2"]);
        assert_eq!(t.rows[2], ["c", ""]);
    }
}
