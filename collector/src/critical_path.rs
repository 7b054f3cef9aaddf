//! The critical path of a trace, computed at ingest so that ranking hops is a plain `GROUP BY`.
//!
//! Each span gets `critical_ms`, its own time on the chain of work its root waited on, and
//! `hop_caller`, the caller of the service visit it belongs to (a visit begins where
//! `enters_service` says the trace entered the service). The walk is Jaeger's: from a span's
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
//! span that waited on it, so a hung call is billed the time its caller spent waiting, and that
//! is also the duration it is counted with (`censored_end`): a lower bound, never a dropped call.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;

use hopscope_schema::spans::{SpanRow, enters_service};

/// Clock skew between the recorders of a parent and a child (API Gateway and Lambda, a
/// function and its SDK calls) that still counts as a synchronous call.
const SKEW_TOLERANCE_US: i64 = 5_000;

/// The walk's buffers, kept between import units: an NDJSON import annotates one document of a
/// few spans at a time, and allocating a dozen vectors for each was a tenth of the import.
/// Holds indices and times only, so one scratch serves rows of any lifetime.
#[derive(Debug, Default)]
pub struct Scratch {
    /// (hash of trace id and id, row), sorted: finds a span's parent.
    ids: Vec<(u64, usize)>,
    parent: Vec<Option<usize>>,
    children: Children,
    /// Parents first: every span reachable from a root, roots in row order.
    order: Vec<usize>,
    end: Vec<i64>,
    own_us: Vec<i64>,
    /// Each span's parent where the parent waited on it (a synchronous call), else `None`.
    sync_parent: Vec<Option<usize>>,
    sync_children: Children,
    path_roots: Vec<usize>,
    walk: Walk,
    /// (hash of trace, hop caller and service, row), sorted: groups a trace's spans by hop.
    hops: Vec<(u64, usize)>,
    /// (first span of a hop in a trace, the hop's critical time in the trace).
    hop_totals: Vec<(usize, f64)>,
}

/// Fills `critical_ms`, `hop_caller`, `censored_end` of the spans that never ended and, for
/// spans their parent did not wait for, `dwell_ms`
/// (from the end of the parent to their start) for the spans of one import unit (one or more traces;
/// parents outside `rows` make their children roots). Spans caught in a parent cycle (ids
/// reused within a trace) keep `critical_ms` null.
pub fn annotate(rows: &mut [SpanRow<'_>], s: &mut Scratch) {
    link_parents(rows, s);
    for &i in &s.order {
        rows[i].hop_caller = match s.parent[i] {
            Some(p) if !enters_service(Some(rows[p].service), rows[i].service) => {
                rows[p].hop_caller
            }
            _ => rows[i].parent_service,
        };
    }
    effective_ends(rows, s);
    for &i in &s.order {
        if rows[i].end_time.is_none() && s.end[i] > rows[i].start_time {
            rows[i].censored_end = Some(s.end[i]);
        }
    }
    s.own_us.clear();
    s.own_us.resize(rows.len(), 0);
    s.sync_parent.clear();
    s.sync_parent.resize(rows.len(), None);
    s.path_roots.clear();
    for &i in &s.order {
        match s.parent[i] {
            Some(p)
                if is_synchronous(rows[i].start_time, s.end[i], rows[p].start_time, s.end[p]) =>
            {
                s.sync_parent[i] = Some(p);
            }
            Some(p) => {
                rows[i].dwell_ms = Some((rows[i].start_time - s.end[p]).max(0) as f64 / 1000.0);
                s.path_roots.push(i);
            }
            None => s.path_roots.push(i),
        }
    }
    s.sync_children.rebuild(&s.sync_parent);
    for &root in &s.path_roots {
        s.walk.run(
            root,
            rows[root].start_time,
            s.end[root],
            &s.sync_children,
            rows,
            &s.end,
            &mut s.own_us,
        );
    }
    for &i in &s.order {
        rows[i].critical_ms = Some(s.own_us[i] as f64 / 1000.0);
    }
    total_per_hop_and_trace(rows, &mut s.hops, &mut s.hop_totals);
}

/// Hashes of span keys within one import unit: equal keys hash equal, and the strings are
/// compared wherever hashes are, so a collision costs a comparison, never a wrong link.
fn key_hash(key: impl std::hash::Hash) -> u64 {
    FixedState::with_seed(0).hash_one(key)
}

/// Sets `hop_trace_critical_ms` on the first span of each hop in each trace to the critical
/// time of all that hop's spans in the trace.
fn total_per_hop_and_trace(
    rows: &mut [SpanRow<'_>],
    hops: &mut Vec<(u64, usize)>,
    totals: &mut Vec<(usize, f64)>,
) {
    let key = |i: usize| (rows[i].trace_id, rows[i].hop_caller, rows[i].service);
    hops.clear();
    hops.extend((0..rows.len()).map(|i| (key_hash(key(i)), i)));
    // Equal keys end up adjacent, each group in row order (so its sum adds up as it always did).
    hops.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| key(a.1).cmp(&key(b.1)))
            .then(a.1.cmp(&b.1))
    });
    totals.clear();
    for group in hops.chunk_by(|a, b| a.0 == b.0 && key(a.1) == key(b.1)) {
        let first = group
            .iter()
            .map(|&(_, i)| i)
            .min_by_key(|&i| (rows[i].start_time, i))
            .expect("chunks are never empty");
        let total = group
            .iter()
            .map(|&(_, i)| rows[i].critical_ms.unwrap_or(0.0))
            .sum();
        totals.push((first, total));
    }
    for &(first, total) in totals.iter() {
        rows[first].hop_trace_critical_ms = Some(total);
    }
}

/// Each span's children in row order, all in one buffer (compressed sparse rows).
#[derive(Debug, Default)]
struct Children {
    start: Vec<usize>,
    next: Vec<usize>,
    flat: Vec<usize>,
}

impl Children {
    fn rebuild(&mut self, parent: &[Option<usize>]) {
        self.start.clear();
        self.start.resize(parent.len() + 1, 0);
        for p in parent.iter().flatten() {
            self.start[p + 1] += 1;
        }
        for i in 0..parent.len() {
            self.start[i + 1] += self.start[i];
        }
        self.next.clear();
        self.next.extend_from_slice(&self.start);
        self.flat.clear();
        self.flat.resize(self.start[parent.len()], 0);
        for (c, p) in parent.iter().enumerate() {
            if let Some(p) = *p {
                self.flat[self.next[p]] = c;
                self.next[p] += 1;
            }
        }
    }

    fn of(&self, parent: usize) -> &[usize] {
        &self.flat[self.start[parent]..self.start[parent + 1]]
    }
}

/// Parent links (the last span with the parent's id, as ids may repeat) and a parents-first
/// order of the spans reachable from a root.
fn link_parents(rows: &[SpanRow<'_>], s: &mut Scratch) {
    s.ids.clear();
    s.ids.extend(
        rows.iter()
            .enumerate()
            .map(|(i, r)| (key_hash((r.trace_id, r.id)), i)),
    );
    s.ids.sort_unstable();
    s.parent.clear();
    s.parent.extend(rows.iter().enumerate().map(|(i, r)| {
        let wanted = (r.trace_id, r.parent_id?);
        let h = key_hash(wanted);
        let from = s.ids.partition_point(|&(k, _)| k < h);
        let to = from + s.ids[from..].partition_point(|&(k, _)| k == h);
        s.ids[from..to]
            .iter()
            .rev()
            .map(|&(_, p)| p)
            .find(|&p| (rows[p].trace_id, rows[p].id) == wanted)
            .filter(|&p| p != i)
    }));
    s.children.rebuild(&s.parent);
    s.order.clear();
    s.order
        .extend((0..rows.len()).filter(|&i| s.parent[i].is_none()));
    let mut next = 0;
    while next < s.order.len() {
        s.order.extend_from_slice(s.children.of(s.order[next]));
        next += 1;
    }
}

/// End of each span; one still open ends with the span that waited on it, a root with its
/// last descendant.
fn effective_ends(rows: &[SpanRow<'_>], s: &mut Scratch) {
    let end = &mut s.end;
    end.clear();
    end.extend(rows.iter().map(|r| r.start_time));
    for &i in s.order.iter().rev() {
        if let Some(e) = rows[i].end_time {
            end[i] = e;
        }
        if let Some(p) = s.parent[i] {
            end[p] = end[p].max(end[i]);
        }
    }
    for &i in &s.order {
        if let (None, Some(p)) = (rows[i].end_time, s.parent[i]) {
            end[i] = end[i].max(end[p]);
        }
    }
}

/// A child runs synchronously when it starts before its parent ends and ends with it (give or
/// take the skew between their clocks).
fn is_synchronous(start: i64, end: i64, parent_start: i64, parent_end: i64) -> bool {
    start < parent_end.max(parent_start + 1) && end <= parent_end + SKEW_TOLERANCE_US
}

#[derive(Debug)]
struct Frame {
    span: usize,
    lo: i64,
    cursor: i64,
    /// Its children in `Walk::children[first..]` as (clipped start, clipped end, index),
    /// latest end first. Frames nest, so each one's children sit above its parent's.
    first: usize,
    next: usize,
}

/// The walk's stack of frames and the one buffer of their children.
#[derive(Debug, Default)]
struct Walk {
    stack: Vec<Frame>,
    children: Vec<(i64, i64, usize)>,
}

impl Walk {
    /// Walks the critical path below `span` within `[lo, hi]`, adding each span's own time.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        span: usize,
        lo: i64,
        hi: i64,
        sync_children: &Children,
        rows: &[SpanRow<'_>],
        end: &[i64],
        own_us: &mut [i64],
    ) {
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
        let (stack, buf) = (&mut self.stack, &mut self.children);
        stack.clear();
        buf.clear();
        stack.push(frame(buf, span, lo, hi.max(lo)));
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
                    let child = frame(buf, child, start, child_end);
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
        for row in &mut rows {
            if let Some(p) = row.parent_id {
                row.parent_service = specs.iter().find(|s| s.0 == p).map(|s| s.2);
            }
        }
        rows
    }

    fn critical(specs: &[Spec]) -> Vec<(&'static str, Option<f64>, Option<&'static str>)> {
        let mut rows = rows(specs);
        annotate(&mut rows, &mut Scratch::default());
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
        annotate(&mut rows, &mut Scratch::default());
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
    fn a_call_that_never_ended_lasts_until_its_caller_gave_up() {
        let mut rows = rows(&[
            ("fn", None, "etl", 0, Some(30_000)),
            ("inv", Some("fn"), "etl", 100, None),
            ("http", Some("inv"), "api.example.org", 200, None),
            ("lost", None, "orphan", 500, None),
        ]);
        annotate(&mut rows, &mut Scratch::default());
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.id, r.censored_end, r.duration_ms()))
            .collect();
        assert_eq!(
            got,
            [
                ("fn", None, Some(30_000.0)),
                ("inv", Some(30_000_000), Some(29_900.0)),
                ("http", Some(30_000_000), Some(29_800.0)),
                // Nothing around it ended: no bound to count it with.
                ("lost", None, None),
            ]
        );
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
        annotate(&mut rows, &mut Scratch::default());
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
