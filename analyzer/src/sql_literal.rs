//! Values spliced into SQL text as string literals (quotes doubled), for the places a query is
//! built as text rather than with DataFusion's expressions.

/// `it's` as `'it''s'`.
pub(crate) fn string(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

/// `'a', 'b'`: a list for `IN (...)`.
pub(crate) fn list<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    values
        .into_iter()
        .map(string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_are_doubled() {
        assert_eq!(super::string("it's"), "'it''s'");
        assert_eq!(super::list(["a", "b'c"]), "'a', 'b''c'");
    }
}
