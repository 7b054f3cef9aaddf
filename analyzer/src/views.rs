//! The views of the SQL surface, derived from the stored tables at query time.

use hopscope_schema::spans::{TABLE as SPANS, col as s, kind};
use hopscope_schema::traces;

use crate::{entry, hdr, hops};

/// A view: its name and its `CREATE VIEW` statement.
pub struct View {
    pub name: &'static str,
    pub sql: String,
}

pub const SERVICE_EDGES: &str = "service_edges";
pub const SERVICE_NODES: &str = "service_nodes";

pub fn all() -> Vec<View> {
    vec![
        View {
            name: traces::TABLE,
            sql: traces_view_sql(),
        },
        View {
            name: SERVICE_EDGES,
            sql: service_edges_sql(),
        },
        View {
            name: SERVICE_NODES,
            sql: service_nodes_sql(),
        },
        View {
            name: hops::HOPS,
            sql: hops::hops_view_sql(),
        },
    ]
}

/// Outcome counts with X-Ray's meaning (error = 4xx, throttle = 429 (a kind of error),
/// fault = 5xx), the latency histogram, and for asynchronous calls (queue consumers,
/// asynchronous executions) the histogram of their queue dwell, aggregated per group.
fn outcome_aggregates() -> String {
    format!(
        "count(*) AS requests,
         sum(CASE WHEN NOT {e} AND NOT {f} THEN 1 ELSE 0 END) AS ok,
         sum(CASE WHEN {e} AND NOT {t} THEN 1 ELSE 0 END) AS errors,
         sum(CASE WHEN {t} THEN 1 ELSE 0 END) AS throttles,
         sum(CASE WHEN {f} THEN 1 ELSE 0 END) AS faults,
         sum({d}) AS total_ms, avg({d}) AS avg_ms,
         {hist}({d}) AS histogram, count({d}) AS samples,
         sum(CASE WHEN {d} IS NOT NULL AND ({censored}) THEN 1 ELSE 0 END) AS censored,
         count({dw}) AS async_calls, {hist}({dw}) AS dwell_histogram,
         min({st}) AS first_seen, max({st}) AS last_seen",
        e = s::ERROR,
        f = s::FAULT,
        t = s::THROTTLE,
        d = s::DURATION_MS,
        dw = s::DWELL_MS,
        st = s::START_TIME,
        hist = hdr::HDR_HISTOGRAM,
        censored = censored_predicate(),
    )
}

/// A span whose duration is a lower bound: it never ended (counted up to when its caller gave
/// up), or it is a Lambda invocation that hit its timeout.
pub(crate) fn censored_predicate() -> String {
    format!(
        "{ip} OR {cm} LIKE '%{timeout}%'",
        ip = s::IN_PROGRESS,
        cm = s::CAUSE_MESSAGE,
        timeout = hops::TIMEOUT_MESSAGE,
    )
}

/// The columns of a grouped `outcome_aggregates()` row, with percentiles read off its histogram.
fn outcome_columns() -> String {
    let q = |p: f64, name: &str| format!("{}(histogram, {p}) AS {name}", hdr::HDR_QUANTILE);
    let dwell =
        |p: f64, name: &str| format!("{}(dwell_histogram, {p}) AS {name}", hdr::HDR_QUANTILE);
    let low = |p: f64, name: &str| {
        format!(
            "samples < {} AS {name}",
            crate::significance::min_samples(p).unwrap_or(0)
        )
    };
    format!(
        "requests, ok, errors, throttles, faults, total_ms, avg_ms, {}, {}, {}, samples, censored,
         {}, {}, {}, histogram, async_calls, {}, {}, dwell_histogram, first_seen, last_seen",
        q(0.5, "p50_ms"),
        q(0.9, "p90_ms"),
        q(0.99, "p99_ms"),
        low(0.5, "p50_low_sample"),
        low(0.9, "p90_low_sample"),
        low(0.99, "p99_low_sample"),
        dwell(0.5, "dwell_p50_ms"),
        dwell(0.99, "dwell_p99_ms"),
    )
}

/// An edge of the map: a span that enters its node from a known caller.
pub(crate) fn hop_predicate() -> String {
    format!(
        "{} IS NOT NULL AND {}",
        s::PARENT_SERVICE,
        entry::enters_node()
    )
}

/// `service_edges`: one row per caller -> callee pair of the service map: the rows of
/// [`service_map_select`] with a caller.
fn service_edges_sql() -> String {
    format!(
        "CREATE VIEW {SERVICE_EDGES} AS
         SELECT * EXCLUDE (roots) FROM ({}) WHERE caller IS NOT NULL",
        service_map_select("TRUE")
    )
}

/// Both sides of the service map in one pass: one row per caller -> callee pair (in an account
/// and Region: a collection's rows say which; imported ones leave them null) over the spans that
/// enter a node, where `caller` is null for spans entering it from outside the trace
/// (roots, and spans whose parent was not in the same import unit). Edges are the rows with a
/// caller; a node is the sum of the rows of its callee, and a root when any has `roots`.
pub(crate) fn service_map_select(filter: &str) -> String {
    format!(
        "SELECT caller, caller_type, callee, callee_type, {acc}, {reg}, roots, {columns} FROM (
           SELECT {ps} AS caller, {pst} AS caller_type, {sv} AS callee, {st} AS callee_type,
                  {acc}, {reg}, sum(CASE WHEN {root} THEN 1 ELSE 0 END) AS roots, {aggregates}
           FROM {SPANS} WHERE {enters} AND ({filter})
           GROUP BY {ps}, {pst}, {sv}, {st}, {acc}, {reg})",
        acc = s::ACCOUNT_ID,
        reg = s::REGION,
        ps = s::PARENT_SERVICE,
        pst = s::PARENT_SERVICE_TYPE,
        sv = s::SERVICE,
        st = s::SERVICE_TYPE,
        root = s::ROOT,
        aggregates = outcome_aggregates(),
        columns = outcome_columns(),
        enters = entry::enters_node(),
    )
}

/// `service_nodes`: one row per node, measured on the spans that enter it (roots and hops).
fn service_nodes_sql() -> String {
    format!(
        "CREATE VIEW {SERVICE_NODES} AS
         SELECT node, node_type, {acc}, {reg}, root, {columns} FROM (
           SELECT {sv} AS node, {st} AS node_type, {acc}, {reg},
                  sum(CASE WHEN {root} THEN 1 ELSE 0 END) > 0 AS root, {aggregates}
           FROM {SPANS} WHERE {enters}
           GROUP BY {sv}, {st}, {acc}, {reg})",
        acc = s::ACCOUNT_ID,
        reg = s::REGION,
        sv = s::SERVICE,
        st = s::SERVICE_TYPE,
        root = s::ROOT,
        aggregates = outcome_aggregates(),
        columns = outcome_columns(),
        enters = entry::enters_node(),
    )
}

/// `traces`: one row per trace, summarised from all its spans.
fn traces_view_sql() -> String {
    use traces::col as t;
    let dict = "'Dictionary(Int32, Utf8)'";
    // The root is the parentless segment, else (a partial trace) the earliest segment.
    let root_order = format!(
        "ORDER BY {p} IS NULL DESC, {k} = '{seg}' DESC, {st}",
        p = s::PARENT_ID,
        k = s::KIND,
        seg = kind::SEGMENT,
        st = s::START_TIME
    );
    let first = |col: &str| format!("first_value({col} {root_order})");
    format!(
        "CREATE VIEW {view} AS
         WITH orphans AS (
           SELECT c.{tid} AS trace_id, count(*) AS n FROM {SPANS} c
           WHERE c.{pid} IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM {SPANS} p WHERE p.{tid} = c.{tid} AND p.{id} = c.{pid})
           GROUP BY c.{tid})
         SELECT a.{tid} AS {t_tid}, a.start_time AS {t_start}, a.end_time AS {t_end},
                (CAST(a.end_time AS BIGINT) - CAST(a.start_time AS BIGINT)) / 1000.0 AS {t_dur},
                arrow_cast(a.root_service, {dict}) AS {t_rs}, arrow_cast(a.root_service_type, {dict}) AS {t_rst},
                a.root_segment_id AS {t_rsid}, arrow_cast(a.http_method, {dict}) AS {t_m}, a.http_url AS {t_u},
                a.http_status AS {t_hs}, a.error AS {t_e}, a.fault AS {t_f}, a.throttle AS {t_th},
                a.span_count AS {t_sc}, a.segment_count AS {t_segc},
                (a.in_progress OR coalesce(o.n, 0) > 0) AS {t_p}
         FROM (
           SELECT {tid}, min({st}) AS start_time, max({et}) AS end_time,
                  {rs} AS root_service, {rst} AS root_service_type, {rsid} AS root_segment_id,
                  {m} AS http_method, {u} AS http_url, {hs} AS http_status,
                  bool_or({err}) AS error, bool_or({flt}) AS fault, bool_or({thr}) AS throttle,
                  count(*) AS span_count,
                  sum(CASE WHEN {k} = '{seg}' THEN 1 ELSE 0 END) AS segment_count,
                  bool_or({ip}) AS in_progress
           FROM {SPANS} GROUP BY {tid}) a
         LEFT JOIN orphans o ON o.trace_id = a.{tid}",
        view = traces::TABLE,
        tid = s::TRACE_ID,
        pid = s::PARENT_ID,
        id = s::ID,
        st = s::START_TIME,
        et = s::END_TIME,
        k = s::KIND,
        seg = kind::SEGMENT,
        err = s::ERROR,
        flt = s::FAULT,
        thr = s::THROTTLE,
        ip = s::IN_PROGRESS,
        rs = first(s::SERVICE),
        rst = first(s::SERVICE_TYPE),
        rsid = first(s::SEGMENT_ID),
        m = first(s::HTTP_METHOD),
        u = first(s::HTTP_URL),
        hs = first(s::HTTP_STATUS),
        t_tid = t::TRACE_ID,
        t_start = t::START_TIME,
        t_end = t::END_TIME,
        t_dur = t::DURATION_MS,
        t_rs = t::ROOT_SERVICE,
        t_rst = t::ROOT_SERVICE_TYPE,
        t_rsid = t::ROOT_SEGMENT_ID,
        t_m = t::HTTP_METHOD,
        t_u = t::HTTP_URL,
        t_hs = t::HTTP_STATUS,
        t_e = t::ERROR,
        t_f = t::FAULT,
        t_th = t::THROTTLE,
        t_sc = t::SPAN_COUNT,
        t_segc = t::SEGMENT_COUNT,
        t_p = t::PARTIAL,
    )
}
