//! Integration tests of the analyzer over a store built from the committed sample scenarios.

mod alarms;
mod amplification;
mod changes;
mod constructed;
mod hdr;
mod hop_rule;
mod hops;
mod insights;
mod rollups;
mod service_map;
mod sql;
mod timeouts;
mod trace_detail;
mod why;

use hopscope_analyzer::Session;
pub use hopscope_test_support::{sample_store, scenario_stores};

pub async fn session() -> Session {
    Session::open(sample_store()).await.unwrap()
}

/// A query's result as CSV text, for snapshots.
pub async fn csv(session: &Session, sql: &str) -> String {
    let batches = session.collect(sql).await.unwrap();
    let mut out = Vec::new();
    {
        let mut w = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut out);
        for b in &batches {
            w.write(b).unwrap();
        }
    }
    String::from_utf8(out).unwrap()
}
