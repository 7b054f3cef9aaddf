//! Deterministic generator of AWS observability data (X-Ray BatchGetTraces answers, Lambda
//! CloudWatch Logs subscription messages, Lambda GetMetricData and ListVersionsByFunction
//! answers) for five reference architectures, each with one incident whose culprit hop is
//! written down in `scenario.toml`.
//!
//! The same (scenario, traces, seed) always gives the same bytes: one ChaCha8 stream drives
//! every choice, times derive from the fixed incident day 2026-11-20 (or a start time given),
//! and output order never depends on hash maps. Files are written while generating, so the
//! run's memory does not grow with the number of traces (except per-minute Lambda durations
//! kept for the p99 metric).

mod arch;
mod lambda;
mod random;
mod scenario;
mod sim;
mod xray;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use scenario::{
    Cause, Culprit, ExpectedAlarm, ExpectedWhy, Scenario, TimeRange, load_scenario,
};

use crate::arch::ArrivalTimes;
use crate::lambda::Lambdas;
use crate::random::Random;
use crate::sim::Sim;
use crate::xray::TraceWriter;

/// The scenario names [`generate`] accepts.
pub const SCENARIOS: &[&str] = &["dietician", "dragons", "chatbot", "etl", "users"];

/// Traces per `traces/batch-NNNN.json`: few files for the committed samples, each still small
/// enough to read in an editor.
const TRACES_PER_FILE: usize = 100;

/// What one [`generate`] run wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenSummary {
    pub traces: u64,
    /// Segment documents (one `Document` string each).
    pub segments: u64,
    /// Segments plus subsegments at every depth.
    pub spans: u64,
    pub log_events: u64,
    /// Lambda invocations (one START/END/REPORT each).
    pub invocations: u64,
    pub metric_points: u64,
    /// Function version configurations in `functions/`.
    pub function_configurations: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown scenario {name:?}; expected one of {SCENARIOS:?}")]
    UnknownScenario { name: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("reading scenario {path}: {reason}")]
    Scenario { path: PathBuf, reason: String },
}

/// Generates `traces` traces of `scenario` with `seed` into `out_dir` (created):
/// `scenario.toml`, `traces/`, `logs/`, `metrics/lambda.json` and `functions/`.
pub fn generate(
    scenario: &str,
    traces: usize,
    seed: u64,
    out_dir: &Path,
) -> Result<GenSummary, Error> {
    generate_from(scenario, traces, seed, default_start(), out_dir)
}

/// When [`generate`]'s two-hour window starts: 09:00 UTC on the incident day.
pub fn default_start() -> DateTime<Utc> {
    arch::window_start()
}

/// [`generate`] with the window (and the incident in it) moved to start at `start`: the same
/// system and incident on another day or hour, so a bench can lay many windows side by side.
pub fn generate_from(
    scenario: &str,
    traces: usize,
    seed: u64,
    start: DateTime<Utc>,
    out_dir: &Path,
) -> Result<GenSummary, Error> {
    let arch = arch::architecture(scenario).ok_or_else(|| Error::UnknownScenario {
        name: scenario.to_owned(),
    })?;
    let mut spec = (arch.scenario)();
    let shift = start - spec.window.start;
    for range in [&mut spec.window, &mut spec.incident] {
        range.start += shift;
        range.end += shift;
    }
    for dir in ["traces", "logs", "metrics", lambda::FUNCTIONS_DIR] {
        let path = out_dir.join(dir);
        std::fs::create_dir_all(&path).map_err(|source| Error::Io { path, source })?;
    }
    let toml_path = out_dir.join("scenario.toml");
    let text = toml::to_string(&spec).map_err(|e| Error::Write {
        path: toml_path.clone(),
        reason: e.to_string(),
    })?;
    std::fs::write(&toml_path, text).map_err(|source| Error::Io {
        path: toml_path,
        source,
    })?;

    // Mixing in the name keeps scenarios generated with the same seed from sharing ids.
    let mut rnd = Random::new(ChaCha8Rng::seed_from_u64(seed ^ fnv1a(scenario)));
    let lambdas = Lambdas::new(
        &mut rnd,
        out_dir.join("logs"),
        arch.functions,
        spec.window.start_us(),
        (spec.incident.start_us(), spec.incident.end_us()),
    );
    let mut sim = Sim {
        rnd,
        incident: spec.incident,
        lambdas,
        trace_id: String::new(),
        segments: Vec::new(),
    };
    let mut writer = TraceWriter::new(out_dir.join("traces"), TRACES_PER_FILE);
    let mut summary = GenSummary::default();
    let mut arrivals = ArrivalTimes::new(arch.arrivals, spec.window, traces);
    while let Some(start) = arrivals.next(&mut sim.rnd) {
        sim.trace_id = sim.rnd.trace_id(start);
        sim.segments.clear();
        (arch.trace)(&mut sim, start)?;
        summary.traces += 1;
        summary.segments += sim.segments.len() as u64;
        summary.spans += writer.write(&sim.trace_id, &sim.segments)?;
    }
    writer.close()?;
    sim.lambdas.finish(&mut sim.rnd, out_dir, &mut summary)?;
    Ok(summary)
}

/// FNV-1a: a fixed, portable string hash (std's hashers are not guaranteed stable).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
