//! Log lines -> templates with counts: a Drain clusterer (He et al., "Drain: An Online Log
//! Parsing Approach with Fixed Depth Tree", ICWS 2017), as `pattern` and `diff` use it.
//!
//! A line is split on white space. Tokens of a known shape (numbers, UUIDs, X-Ray trace ids,
//! timestamps, IPv4 addresses, hex ids) are variables from the start, as Drain's masking step
//! makes them. Lines are grouped by token count and their first two tokens (a token with a digit
//! counts as any token; past [`MAX_CHILDREN`] distinct tokens at a level, new ones share one
//! branch), and within a group a line joins the template it shares the most constant tokens
//! with, when that share reaches [`SIMILARITY`]; otherwise it starts a template of its own. (A
//! value that fits a variable of its shape counts neither way: with Drain's plain share, lines
//! made mostly of timestamps and ids join whatever template has the same length.) Positions where a
//! template's lines differ become variables. A variable is shown as Logs Insights shows tokens:
//! `<NUMBER-2>` when every value at that position had one shape, `<Token-2>` otherwise, numbered
//! from 1 along the template.
//!
//! Deterministic: the same lines in the same order give the same templates, ids and counts
//! (no hashing with random state, no threads). Templates are never merged with each other, so a
//! template's id stays valid while lines are added.

use std::collections::{HashMap, HashSet};

/// The share of positions a line must have in common with a template to join it (Drain's
/// `st`; drain3's default).
pub const SIMILARITY: f64 = 0.4;
/// Distinct tokens kept at each of the two prefix levels of a length group before new tokens
/// share a wildcard branch (drain3's default).
pub const MAX_CHILDREN: usize = 100;
const PREFIX_DEPTH: usize = 2;

/// Shapes a variable's values can have, as bits.
const NUMBER: u8 = 1;
const UUID: u8 = 1 << 1;
const TRACE_ID: u8 = 1 << 2;
const TIMESTAMP: u8 = 1 << 3;
const IPV4: u8 = 1 << 4;
const HEX: u8 = 1 << 5;
/// Any other text.
const OTHER: u8 = 1 << 7;

const SHAPE_NAMES: [(u8, &str); 6] = [
    (NUMBER, "NUMBER"),
    (UUID, "UUID"),
    (TRACE_ID, "TRACE_ID"),
    (TIMESTAMP, "TIMESTAMP"),
    (IPV4, "IPV4"),
    (HEX, "HEX"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Const(Box<str>),
    /// The shapes of the values seen at this position.
    Var(u8),
}

#[derive(Debug, Clone)]
struct Template {
    slots: Vec<Slot>,
    lines: u64,
}

/// An online Drain clusterer. See the module documentation.
#[derive(Debug, Default)]
pub struct Drain {
    templates: Vec<Template>,
    /// Length group and prefix path (as a key) -> the templates under it, oldest first.
    leaves: HashMap<u64, Vec<usize>>,
    /// Prefix node -> how many distinct child tokens it has.
    children: HashMap<u64, usize>,
    /// Prefix nodes that exist.
    nodes: HashSet<u64>,
}

/// One template of a [`Drain`].
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub id: usize,
    /// The template: constant tokens, and variables as `<NUMBER-1>` or `<Token-2>`.
    pub text: String,
    pub lines: u64,
    /// `Error`, `Warning`, `Info`, `Debug` or `Trace`, from the first level word among the
    /// template's constant tokens (`[ERROR]`, `WARN`, `level=info`).
    pub severity: Option<&'static str>,
}

impl Drain {
    pub fn new() -> Drain {
        Drain::default()
    }

    /// Adds a line; returns the id of the template it joined or started.
    pub fn add(&mut self, line: &str) -> usize {
        let tokens: Vec<(&str, u8)> = line
            .split_ascii_whitespace()
            .map(|t| (t, shape(t)))
            .collect();
        let leaf = self.leaf(&tokens);
        let candidates = self.leaves.entry(leaf).or_default();
        let mut best: Option<(usize, f64, usize)> = None;
        for &id in candidates.iter() {
            let (share, variables) = similarity(&self.templates[id].slots, &tokens);
            let better = match best {
                None => true,
                Some((_, s, v)) => share > s || (share == s && variables > v),
            };
            if better {
                best = Some((id, share, variables));
            }
        }
        if let Some((id, share, _)) = best
            && share >= SIMILARITY
        {
            let template = &mut self.templates[id];
            template.lines += 1;
            for (slot, (text, kind)) in template.slots.iter_mut().zip(&tokens) {
                match slot {
                    Slot::Const(c) if **c == **text => {}
                    Slot::Const(_) => *slot = Slot::Var(bits(*kind)),
                    Slot::Var(mask) => *mask |= bits(*kind),
                }
            }
            return id;
        }
        let id = self.templates.len();
        self.templates.push(Template {
            slots: tokens
                .iter()
                .map(|(text, kind)| match kind {
                    0 => Slot::Const((*text).into()),
                    k => Slot::Var(*k),
                })
                .collect(),
            lines: 1,
        });
        candidates.push(id);
        id
    }

    /// The key of the leaf a line goes to: its length, then up to two prefix tokens.
    fn leaf(&mut self, tokens: &[(&str, u8)]) -> u64 {
        let mut node = fnv(FNV_OFFSET, &tokens.len().to_le_bytes());
        for (text, kind) in tokens.iter().take(PREFIX_DEPTH) {
            let wildcard = fnv(node, b"\0<*>");
            if *kind != 0 || text.bytes().any(|b| b.is_ascii_digit()) {
                node = wildcard;
                continue;
            }
            let child = fnv(fnv(node, b"\0"), text.as_bytes());
            if !self.nodes.contains(&child) {
                let count = self.children.entry(node).or_default();
                if *count == MAX_CHILDREN {
                    node = wildcard;
                    continue;
                }
                *count += 1;
                self.nodes.insert(child);
            }
            node = child;
        }
        node
    }

    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// Every template, in the order they were started.
    pub fn patterns(&self) -> Vec<Pattern> {
        self.templates
            .iter()
            .enumerate()
            .map(|(id, t)| Pattern {
                id,
                text: render(&t.slots),
                lines: t.lines,
                severity: severity(&t.slots),
            })
            .collect()
    }
}

/// How much of a line a template shares: its constant tokens equal to the template's, out of
/// the tokens that are not shaped values under a variable of their shape (those fit any
/// template that has the variable, so they say nothing); and how many of the template's
/// variables the line fills with other text.
fn similarity(slots: &[Slot], tokens: &[(&str, u8)]) -> (f64, usize) {
    let mut similar = 0u32;
    let mut compared = 0u32;
    let mut variables = 0;
    for (slot, (text, kind)) in slots.iter().zip(tokens) {
        match slot {
            Slot::Var(mask) if *kind != 0 && mask & kind != 0 => {}
            Slot::Var(_) => {
                variables += 1;
                compared += 1;
            }
            Slot::Const(c) => {
                compared += 1;
                if **c == **text {
                    similar += 1;
                }
            }
        }
    }
    let share = if compared == 0 {
        1.0
    } else {
        f64::from(similar) / f64::from(compared)
    };
    (share, variables)
}

fn render(slots: &[Slot]) -> String {
    let mut out = String::new();
    let mut n = 0;
    for slot in slots {
        if !out.is_empty() {
            out.push(' ');
        }
        match slot {
            Slot::Const(c) => out.push_str(c),
            Slot::Var(mask) => {
                n += 1;
                let name = SHAPE_NAMES
                    .iter()
                    .find(|(bit, _)| *mask == *bit)
                    .map_or("Token", |(_, name)| name);
                out.push_str(&format!("<{name}-{n}>"));
            }
        }
    }
    out
}

fn severity(slots: &[Slot]) -> Option<&'static str> {
    slots.iter().find_map(|slot| {
        let Slot::Const(c) = slot else { return None };
        let word = c.rsplit('=').next().unwrap_or(c);
        let word = word.trim_matches(|ch: char| !ch.is_ascii_alphabetic());
        match word.to_ascii_uppercase().as_str() {
            "ERROR" | "ERR" | "FATAL" | "CRITICAL" => Some("Error"),
            "WARN" | "WARNING" => Some("Warning"),
            "INFO" => Some("Info"),
            "DEBUG" => Some("Debug"),
            "TRACE" => Some("Trace"),
            _ => None,
        }
    })
}

/// The shape of a token (0: plain text). Surrounding punctuation (`(404),`) is ignored.
fn shape(token: &str) -> u8 {
    let t = token.trim_matches(|c: char| {
        matches!(
            c,
            '(' | ')' | '[' | ']' | ',' | ';' | ':' | '"' | '\'' | '.'
        )
    });
    let b = t.as_bytes();
    if b.is_empty() || !b.iter().any(u8::is_ascii_digit) {
        return 0;
    }
    if is_number(t) {
        NUMBER
    } else if is_uuid(b) {
        UUID
    } else if b.len() == 35
        && b.starts_with(b"1-")
        && b[10] == b'-'
        && hex(&b[2..10])
        && hex(&b[11..])
    {
        TRACE_ID
    } else if is_timestamp(b) {
        TIMESTAMP
    } else if is_ipv4(t) {
        IPV4
    } else if b.len() >= 8 && hex(b) {
        HEX
    } else {
        0
    }
}

/// A value's shape as variable bits: its own, or [`OTHER`] for plain text.
fn bits(kind: u8) -> u8 {
    if kind == 0 { OTHER } else { kind }
}

fn hex(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_hexdigit)
}

fn is_number(t: &str) -> bool {
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    let mut parts = t.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|c| c.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()))
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `2026-11-20`, `2026-11-20T09:00:15.327Z`, `2026/11/20` or `09:00:15`, `09:00:15.327`.
fn is_timestamp(b: &[u8]) -> bool {
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let date = b.len() >= 10
        && digits(0..4)
        && matches!(b[4], b'-' | b'/')
        && digits(5..7)
        && b[7] == b[4]
        && digits(8..10);
    let time = b.len() >= 8
        && digits(0..2)
        && b[2] == b':'
        && digits(3..5)
        && b[5] == b':'
        && digits(6..8);
    date || time
}

fn is_ipv4(t: &str) -> bool {
    let t = t.split(':').next().unwrap_or(t);
    let parts: Vec<&str> = t.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u16>().is_ok_and(|v| v <= 255))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a: a fixed hash, so keys (and so results) never depend on a random seed.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn cluster(lines: &[&str]) -> Vec<(String, u64)> {
        let mut drain = Drain::new();
        for l in lines {
            drain.add(l);
        }
        drain
            .patterns()
            .into_iter()
            .map(|p| (p.text, p.lines))
            .collect()
    }

    #[test]
    fn groups_lines_that_differ_in_their_variable_parts() {
        let got = cluster(&[
            "REPORT RequestId: 1d6c3d9c-cc64-45b2-a6e0-3f961495ca1e Duration: 9.45 ms Billed Duration: 404 ms",
            "Creating user 1965e7c7-70fc-4c6c-a96e-3bbc0e17eafe",
            "REPORT RequestId: 71f66137-c3d3-40a3-a1da-a2431ef26a0d Duration: 12.00 ms Billed Duration: 13 ms",
            "Creating user 3d6868b4-6c82-454e-a794-a340efc61598",
            "Creating order 3d6868b4-6c82-454e-a794-a340efc61598",
        ]);
        assert_eq!(
            got,
            vec![
                (
                    "REPORT RequestId: <UUID-1> Duration: <NUMBER-2> ms Billed Duration: <NUMBER-3> ms".to_string(),
                    2
                ),
                ("Creating user <UUID-1>".to_string(), 2),
                ("Creating order <UUID-1>".to_string(), 1),
            ]
        );
    }

    #[test]
    fn lines_of_other_lengths_or_too_different_start_their_own_template() {
        let got = cluster(&["a b c d e f", "a b c d f", "a b x y z w", "a b c d e g"]);
        assert_eq!(
            got,
            vec![
                ("a b c d e <Token-1>".to_string(), 2),
                ("a b c d f".to_string(), 1),
                ("a b x y z w".to_string(), 1),
            ]
        );
    }

    #[test]
    fn the_same_lines_give_the_same_templates() {
        let lines: Vec<String> = (0..500)
            .map(|i| format!("user u{} did {} in {} ms", i % 7, ["get", "put"][i % 2], i))
            .collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(cluster(&refs), cluster(&refs));
    }

    #[rstest]
    #[case("42", NUMBER)]
    #[case("-3.5,", NUMBER)]
    #[case("1d6c3d9c-cc64-45b2-a6e0-3f961495ca1e", UUID)]
    #[case("1-6b000c1e-c65d0294c23ce917fcdb4190", TRACE_ID)]
    #[case("2026-11-20T09:00:15.327Z", TIMESTAMP)]
    #[case("(10.0.0.12:443)", IPV4)]
    #[case("e3a1fb81214c0bf9", HEX)]
    #[case("v2", 0)]
    #[case("[ERROR]", 0)]
    fn knows_the_shapes_of_common_variables(#[case] token: &str, #[case] want: u8) {
        assert_eq!(shape(token), want);
    }

    #[rstest]
    #[case("[ERROR] 2026-11-20T10:00:00Z failed", Some("Error"))]
    #[case("level=warn msg=slow", Some("Warning"))]
    #[case("Task timed out after 30.00 seconds", None)]
    fn reads_the_severity_from_level_words(#[case] line: &str, #[case] want: Option<&str>) {
        let mut drain = Drain::new();
        drain.add(line);
        assert_eq!(drain.patterns()[0].severity, want);
    }
}
