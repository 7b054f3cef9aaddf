//! The critical path of a trace, computed at ingest so that ranking hops is a plain `GROUP BY`.
//!
//! Each span gets `critical_ms`, its own time on the chain of work its root waited on, and
//! `hop_caller`, the caller of the node visit it belongs to. The walk is Jaeger's: from a span's
//! end, step back to the child that finished last before that point, descend into it, continue
//! from that child's start; time not covered by such a child is the span's own. Two choices
//! differ from Jaeger, both for X-Ray data:
//! - A child that ends where the next one starts is still on the path (Jaeger's strict `<`
//!   drops back-to-back sequential calls and bills their time to the parent).
//! - A child that outlives its parent (an SQS consumer, a Step Functions execution started
//!   asynchronously) is work nobody in that span waited for: it starts a critical path of its
//!   own instead of being cut at the parent's end.
//!
//! A span that never ended (in progress, or cut off by a Lambda timeout) lasts as long as the
//! span that waited on it, so a hung call is billed the time its caller spent waiting.

use foldhash::{HashMap, HashMapExt};

use hopscope_schema::spans::SpanRow;

/// Clock skew between the recorders of a parent and a child (API Gateway and Lambda, a
/// function and its SDK calls) that still counts as a synchronous call.
const SKEW_TOLERANCE_US: i64 = 5_000;

/// Fills `critical_ms`, `hop_caller` and, for spans their parent did not wait for, `dwell_ms`
/// (from the end of the parent to their start) for the spans of one import unit (one or more traces;
/// parents outside `rows` make their children roots). Spans caught in a parent cycle (ids
/// reused within a trace) keep `critical_ms` null.
pub fn annotate(rows: &mut [SpanRow<'_>]) {
    let tree = Tree::new(rows);
    for &i in &tree.order {
        rows[i].hop_caller = match tree.parent[i] {
            Some(p) if rows[p].service == rows[i].service => rows[p].hop_caller,
            _ => rows[i].parent_service,
        };
    }
    let end = effective_ends(rows, &tree);
    let mut own_us = vec![0i64; rows.len()];
    let mut sync_edges = Vec::with_capacity(rows.len());
    let mut path_roots = Vec::new();
    for &i in &tree.order {
        match tree.parent[i] {
            Some(p) if is_synchronous(rows[i].start_time, end[i], rows[p].start_time, end[p]) => {
                sync_edges.push((p, i))
            }
            Some(p) => {
                rows[i].dwell_ms = Some((rows[i].start_time - end[p]).max(0) as f64 / 1000.0);
                path_roots.push(i);
            }
            None => path_roots.push(i),
        }
    }
    let sync_children = Children::new(rows.len(), &sync_edges);
    for &root in &path_roots {
        walk(
            root,
            rows[root].start_time,
            end[root],
            &sync_children,
            rows,
            &end,
            &mut own_us,
        );
    }
    for &i in &tree.order {
        rows[i].critical_ms = Some(own_us[i] as f64 / 1000.0);
    }
    total_per_hop_and_trace(rows);
}

/// Sets `hop_trace_critical_ms` on the first span of each hop in each trace to the critical
/// time of all that hop's spans in the trace.
fn total_per_hop_and_trace(rows: &mut [SpanRow<'_>]) {
    let mut first: HashMap<(&str, Option<&str>, &str), (usize, f64)> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let (at, total) = first
            .entry((r.trace_id, r.hop_caller, r.service))
            .or_insert((i, 0.0));
        if (r.start_time, i) < (rows[*at].start_time, *at) {
            *at = i;
        }
        *total += r.critical_ms.unwrap_or(0.0);
    }
    let totals: Vec<(usize, f64)> = first.into_values().collect();
    for (i, total) in totals {
        rows[i].hop_trace_critical_ms = Some(total);
    }
}

/// Each span's children in the order they were listed, all in one buffer: a document's walk
/// allocates a few vectors, not one per parent.
struct Children {
    start: Vec<usize>,
    flat: Vec<usize>,
}

impl Children {
    /// From (parent, child) pairs, each parent's children in their order in `edges`.
    fn new(spans: usize, edges: &[(usize, usize)]) -> Children {
        let mut start = vec![0; spans + 1];
        for &(p, _) in edges {
            start[p + 1] += 1;
        }
        for i in 0..spans {
            start[i + 1] += start[i];
        }
        let mut next = start.clone();
        let mut flat = vec![0; edges.len()];
        for &(p, c) in edges {
            flat[next[p]] = c;
            next[p] += 1;
        }
        Children { start, flat }
    }

    fn of(&self, parent: usize) -> &[usize] {
        &self.flat[self.start[parent]..self.start[parent + 1]]
    }
}

/// Parent links and a parents-first order of the spans reachable from a root.
struct Tree {
    parent: Vec<Option<usize>>,
    order: Vec<usize>,
}

impl Tree {
    fn new(rows: &[SpanRow<'_>]) -> Tree {
        // Built once per document: foldhash, as SipHash over two strings per span is a visible
        // share of the import.
        let index: HashMap<(&str, &str), usize> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.trace_id, r.id), i))
            .collect();
        let parent: Vec<Option<usize>> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                r.parent_id
                    .and_then(|p| index.get(&(r.trace_id, p)).copied())
                    .filter(|&p| p != i)
            })
            .collect();
        let edges: Vec<(usize, usize)> = parent
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|p| (p, i)))
            .collect();
        let children = Children::new(rows.len(), &edges);
        let mut order: Vec<usize> = Vec::with_capacity(rows.len());
        order.extend((0..rows.len()).filter(|&i| parent[i].is_none()));
        let mut next = 0;
        while next < order.len() {
            order.extend_from_slice(children.of(order[next]));
            next += 1;
        }
        Tree { parent, order }
    }
}

/// End of each span; one still open ends with the span that waited on it, a root with its
/// last descendant.
fn effective_ends(rows: &[SpanRow<'_>], tree: &Tree) -> Vec<i64> {
    let mut end: Vec<i64> = rows.iter().map(|r| r.start_time).collect();
    for &i in tree.order.iter().rev() {
        if let Some(e) = rows[i].end_time {
            end[i] = e;
        }
        if let Some(p) = tree.parent[i] {
            end[p] = end[p].max(end[i]);
        }
    }
    for &i in &tree.order {
        if let (None, Some(p)) = (rows[i].end_time, tree.parent[i]) {
            end[i] = end[i].max(end[p]);
        }
    }
    end
}

fn is_synchronous(start: i64, end: i64, parent_start: i64, parent_end: i64) -> bool {
    start < parent_end.max(parent_start + 1) && end <= parent_end + SKEW_TOLERANCE_US
}

/// Walks the critical path below `span` within `[lo, hi]`, adding each span's own time.
fn walk(
    span: usize,
    lo: i64,
    hi: i64,
    sync_children: &Children,
    rows: &[SpanRow<'_>],
    end: &[i64],
    own_us: &mut [i64],
) {
    struct Frame {
        span: usize,
        lo: i64,
        cursor: i64,
        /// Its children in `buf[first..end]` as (clipped start, clipped end, index), latest end
        /// first. Frames nest, so each one's children sit above its parent's in `buf`.
        first: usize,
        next: usize,
    }
    let mut buf: Vec<(i64, i64, usize)> = Vec::new();
    let frame = |buf: &mut Vec<(i64, i64, usize)>, span: usize, lo: i64, hi: i64| {
        let first = buf.len();
        buf.extend(sync_children.of(span).iter().map(|&c| {
            let start = rows[c].start_time.clamp(lo, hi);
            (start, end[c].clamp(start, hi), c)
        }));
        buf[first..].sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        Frame {
            span,
            lo,
            cursor: hi,
            first,
            next: first,
        }
    };
    let mut stack = vec![frame(&mut buf, span, lo, hi.max(lo))];
    while let Some(top) = stack.last_mut() {
        let cursor = top.cursor;
        while top.next < buf.len() && buf[top.next].1 > cursor {
            top.next += 1;
        }
        match buf.get(top.next).copied() {
            Some((start, child_end, child)) => {
                top.next += 1;
                own_us[top.span] += cursor - child_end;
                top.cursor = start;
                let child = frame(&mut buf, child, start, child_end);
                stack.push(child);
            }
            None => {
                own_us[top.span] += cursor - top.lo;
                let first = top.first;
                stack.pop();
                buf.truncate(first);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (id, parent id, service, start ms, end ms or None for a span still open)
    type Spec = (
        &'static str,
        Option<&'static str>,
        &'static str,
        i64,
        Option<i64>,
    );

    fn rows(specs: &[Spec]) -> Vec<SpanRow<'static>> {
        let mut rows: Vec<SpanRow<'static>> = specs
            .iter()
            .map(|&(id, parent_id, service, start, end)| SpanRow {
                trace_id: "1-t",
                id,
                parent_id,
                segment_id: id,
                service,
                start_time: start * 1000,
                end_time: end.map(|e| e * 1000),
                ..SpanRow::default()
            })
            .collect();
        for i in 0..rows.len() {
            if let Some(p) = rows[i].parent_id {
                rows[i].parent_service = specs.iter().find(|s| s.0 == p).map(|s| s.2);
            }
        }
        rows
    }

    fn critical(specs: &[Spec]) -> Vec<(&'static str, Option<f64>, Option<&'static str>)> {
        let mut rows = rows(specs);
        annotate(&mut rows);
        rows.iter()
            .map(|r| (r.id, r.critical_ms, r.hop_caller))
            .collect()
    }

    #[test]
    fn sequential_calls_and_gaps_add_up_to_the_root() {
        // api [0,100] calls fn [10,90]; fn calls db [20,50] then s3 [50,80].
        let got = critical(&[
            ("api", None, "api", 0, Some(100)),
            ("fn", Some("api"), "fn", 10, Some(90)),
            ("db", Some("fn"), "db", 20, Some(50)),
            ("s3", Some("fn"), "s3", 50, Some(80)),
        ]);
        assert_eq!(
            got,
            vec![
                ("api", Some(20.0), None),
                ("fn", Some(20.0), Some("api")),
                ("db", Some(30.0), Some("fn")),
                ("s3", Some(30.0), Some("fn")),
            ]
        );
    }

    #[test]
    fn each_hop_totals_its_trace_on_its_first_span() {
        // fn calls db twice; the function's own subsegment belongs to the api -> fn hop.
        let mut rows = rows(&[
            ("api", None, "api", 0, Some(100)),
            ("fn", Some("api"), "fn", 10, Some(90)),
            ("init", Some("fn"), "fn", 10, Some(15)),
            ("db2", Some("fn"), "db", 50, Some(80)),
            ("db1", Some("fn"), "db", 20, Some(40)),
        ]);
        annotate(&mut rows);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.id, r.hop_trace_critical_ms))
            .collect();
        assert_eq!(
            got,
            [
                ("api", Some(20.0)),
                ("fn", Some(30.0)),
                ("init", None),
                ("db2", None),
                ("db1", Some(50.0)),
            ]
        );
    }

    #[test]
    fn of_parallel_calls_only_the_last_to_finish_counts() {
        let got = critical(&[
            ("root", None, "r", 0, Some(100)),
            ("a", Some("root"), "a", 0, Some(60)),
            ("b", Some("root"), "b", 10, Some(90)),
        ]);
        // b covers [10,90]; a ends after b starts, so a's time overlaps b: root owns [0,10]
        // and [90,100].
        assert_eq!(
            got.iter().map(|g| g.1.unwrap()).collect::<Vec<_>>(),
            [20.0, 0.0, 80.0]
        );
    }

    #[test]
    fn a_hung_call_is_billed_until_its_caller_gave_up() {
        // The function times out at 30 s with its HTTP call still open.
        let got = critical(&[
            ("fn", None, "etl", 0, Some(30_000)),
            ("inv", Some("fn"), "etl", 100, Some(30_000)),
            ("http", Some("inv"), "api.example.org", 200, None),
        ]);
        assert_eq!(got[2], ("http", Some(29_800.0), Some("etl")));
        assert_eq!(got[1].1, Some(100.0));
        assert_eq!(got[0].1, Some(100.0));
    }

    #[test]
    fn spans_of_one_node_share_the_hop_that_entered_it() {
        // API Gateway -> Lambda service segment -> function segment -> Initialization.
        let got = critical(&[
            ("gw", None, "api/prod", 0, Some(1000)),
            ("lam", Some("gw"), "fn", 5, Some(995)),
            ("func", Some("lam"), "fn", 10, Some(990)),
            ("init", Some("func"), "fn", 10, Some(600)),
            ("ddb", Some("func"), "DynamoDB:t", 700, Some(900)),
        ]);
        let hops: Vec<_> = got.iter().map(|g| g.2).collect();
        assert_eq!(
            hops,
            [
                None,
                Some("api/prod"),
                Some("api/prod"),
                Some("api/prod"),
                Some("fn")
            ]
        );
        let total: f64 = got.iter().map(|g| g.1.unwrap()).sum();
        assert_eq!(total, 1000.0);
        assert_eq!(got[3].1, Some(590.0));
    }

    #[test]
    fn async_children_get_a_path_of_their_own() {
        // The producer's SendMessage ends at 30; the consumer runs [200, 500].
        let got = critical(&[
            ("prod", None, "producer", 0, Some(50)),
            ("send", Some("prod"), "SQS:q", 10, Some(30)),
            ("cons", Some("send"), "consumer", 200, Some(500)),
        ]);
        assert_eq!(
            got.iter().map(|g| g.1.unwrap()).collect::<Vec<_>>(),
            [30.0, 20.0, 300.0]
        );
        let mut rows = rows(&[
            ("prod", None, "producer", 0, Some(50)),
            ("send", Some("prod"), "SQS:q", 10, Some(30)),
            ("cons", Some("send"), "consumer", 200, Some(500)),
        ]);
        annotate(&mut rows);
        let dwell: Vec<_> = rows.iter().map(|r| r.dwell_ms).collect();
        assert_eq!(dwell, [None, None, Some(170.0)]);
    }

    #[test]
    fn children_outside_the_parent_are_clipped_to_it() {
        // Skew: the child starts 2 ms before its parent and ends 3 ms after it.
        let got = critical(&[
            ("p", None, "p", 100, Some(200)),
            ("c", Some("p"), "c", 98, Some(203)),
        ]);
        assert_eq!(got[0].1, Some(0.0));
        assert_eq!(got[1].1, Some(100.0));
    }

    #[test]
    fn a_parent_cycle_is_left_unannotated() {
        let got = critical(&[
            ("root", None, "r", 0, Some(10)),
            ("x", Some("y"), "x", 1, Some(2)),
            ("y", Some("x"), "y", 1, Some(2)),
        ]);
        assert_eq!(got[0].1, Some(10.0));
        assert_eq!((got[1].1, got[2].1), (None, None));
    }
}
