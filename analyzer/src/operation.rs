//! What a call did, as one short line: the sanitized SQL, the AWS operation (and resource), or
//! the HTTP method and route. Two calls with the same callee and operation are "the same call"
//! for the timeout groups and for repeated identical calls in a trace.

/// The fields of a span that say what it did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallFields<'a> {
    pub service: &'a str,
    pub name: &'a str,
    pub http_method: Option<&'a str>,
    pub http_url: Option<&'a str>,
    pub aws_operation: Option<&'a str>,
    pub aws_resource: Option<&'a str>,
    pub sql_query: Option<&'a str>,
}

/// The operation of a call: `SELECT … WHERE id = ?` (whitespace collapsed), `PutItem`
/// (with its resource unless the callee's name already says it), `GET /v2/items/{id}`, or the
/// span's name where it differs from the callee's. Empty when nothing says more than the callee.
pub(crate) fn operation(f: &CallFields<'_>) -> String {
    if let Some(q) = f.sql_query.filter(|q| !q.trim().is_empty()) {
        return q.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    if let Some(op) = f.aws_operation {
        return match f.aws_resource {
            Some(r) if !r.is_empty() && !f.service.contains(r) => format!("{op} {r}"),
            _ => op.to_owned(),
        };
    }
    if let Some(url) = f.http_url {
        let route = route(url);
        return match f.http_method {
            Some(m) => format!("{m} {route}"),
            None => route,
        };
    }
    if let Some(m) = f.http_method {
        return m.to_owned();
    }
    if f.name == f.service {
        String::new()
    } else {
        f.name.to_owned()
    }
}

/// The path of a URL without scheme, host, query or fragment, its id-like segments (numbers,
/// UUIDs, long hex or numbered tokens) as `{id}`: the route that many requests share.
pub(crate) fn route(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = if url.contains("://") {
        after_scheme.find('/').map_or("/", |at| &after_scheme[at..])
    } else {
        after_scheme
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path
        .split('/')
        .map(|seg| if is_id(seg) { "{id}" } else { seg })
        .collect();
    let route = segments.join("/");
    if route.is_empty() { "/".into() } else { route }
}

/// A path segment that names one item rather than a kind of resource: all digits, or at
/// least 8 characters of hex digits, dashes and underscores with a digit among them.
fn is_id(seg: &str) -> bool {
    if seg.is_empty() {
        return false;
    }
    if seg.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    seg.len() >= 8
        && seg.bytes().any(|b| b.is_ascii_digit())
        && seg
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(
        "https://api.worldbank.org/v2/country/all/indicator/SP.POP.TOTL?format=json&page=2",
        "/v2/country/all/indicator/SP.POP.TOTL"
    )]
    #[case(
        "https://h.example/users/12345/orders/9f1c2a4e-13b4-40c9-be78-4fe24d08ecb4",
        "/users/{id}/orders/{id}"
    )]
    #[case("https://h.example/blobs/0a200ff4389301de#frag", "/blobs/{id}")]
    #[case("https://h.example", "/")]
    #[case("https://h.example/", "/")]
    #[case("/relative/42?x=1", "/relative/{id}")]
    #[case("https://h.example/v2/deadbeef/abcdefgh", "/v2/deadbeef/abcdefgh")]
    fn routes_keep_kinds_and_hide_ids(#[case] url: &str, #[case] expected: &str) {
        assert_eq!(route(url), expected);
    }

    #[rstest]
    #[case(CallFields { service: "db@host", name: "db@host", sql_query: Some("SELECT id\n  FROM t WHERE x = %s"), ..CallFields::default() }, "SELECT id FROM t WHERE x = %s")]
    #[case(CallFields { service: "DynamoDB:users", name: "DynamoDB", aws_operation: Some("PutItem"), aws_resource: Some("users"), ..CallFields::default() }, "PutItem")]
    #[case(CallFields { service: "DynamoDB", name: "DynamoDB", aws_operation: Some("GetItem"), aws_resource: Some("orders"), ..CallFields::default() }, "GetItem orders")]
    #[case(CallFields { service: "api.example", name: "api.example", http_method: Some("GET"), http_url: Some("https://api.example/a/1?b"), ..CallFields::default() }, "GET /a/{id}")]
    #[case(CallFields { service: "fn", name: "fn", ..CallFields::default() }, "")]
    #[case(CallFields { service: "fn", name: "## handler", ..CallFields::default() }, "## handler")]
    fn operations_say_what_a_call_did(#[case] f: CallFields<'_>, #[case] expected: &str) {
        assert_eq!(operation(&f), expected);
    }
}
