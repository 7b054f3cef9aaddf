//! Alarm state and history in the store: `STORE/_alarms/state.json` (each alarm's current state)
//! and `STORE/_alarms/history.ndjson` (every change of state). Both are written to a temporary
//! file and renamed, so a killed evaluator leaves the previous version whole.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::eval::State;
use super::{AlarmStatus, Transition};

pub const DIR: &str = "_alarms";
pub const STATE_FILE: &str = "state.json";
pub const HISTORY_FILE: &str = "history.ndjson";

/// One alarm's stored state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlarm {
    pub state: State,
    pub reason: String,
    /// When it entered this state (RFC 3339).
    pub since: String,
    /// The last evaluation time (RFC 3339).
    pub evaluated: String,
}

/// Every alarm's stored state: rule name -> key -> state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    pub alarms: BTreeMap<String, BTreeMap<String, StoredAlarm>>,
}

impl StateFile {
    pub fn state(&self, rule: &str, key: &str) -> Option<&StoredAlarm> {
        self.alarms.get(rule)?.get(key)
    }

    /// The keys an alarm of `rule` has had, so a target that went quiet is still evaluated.
    pub fn keys(&self, rule: &str) -> impl Iterator<Item = &str> {
        self.alarms
            .get(rule)
            .into_iter()
            .flat_map(|m| m.keys().map(String::as_str))
    }

    /// Records an evaluation's outcome.
    pub fn update(&mut self, statuses: &[AlarmStatus]) {
        for s in statuses {
            let entry = self
                .alarms
                .entry(s.rule.clone())
                .or_default()
                .entry(s.key.clone())
                .or_insert_with(|| StoredAlarm {
                    state: s.state,
                    reason: String::new(),
                    since: s.since.clone(),
                    evaluated: String::new(),
                });
            if entry.state != s.state {
                entry.since = s.since.clone();
            }
            entry.state = s.state;
            entry.reason = s.reason.clone();
            entry.evaluated = s.evaluated.clone();
        }
    }
}

/// Where one store keeps its alarm state.
pub struct AlarmStore {
    dir: PathBuf,
}

impl AlarmStore {
    pub fn new(store_root: &Path) -> AlarmStore {
        AlarmStore {
            dir: store_root.join(DIR),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The stored states; empty before the first evaluation.
    pub fn load(&self) -> std::io::Result<StateFile> {
        match std::fs::read(self.dir.join(STATE_FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", self.dir.join(STATE_FILE).display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StateFile::default()),
            Err(e) => Err(e),
        }
    }

    /// Saves the states and appends the transitions to the history.
    pub fn save(&self, state: &StateFile, transitions: &[Transition]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let json = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        write_atomically(&self.dir.join(STATE_FILE), &json)?;
        if !transitions.is_empty() {
            let path = self.dir.join(HISTORY_FILE);
            let mut history = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e),
            };
            for t in transitions {
                serde_json::to_writer(&mut history, t).map_err(std::io::Error::other)?;
                history.push(b'\n');
            }
            write_atomically(&path, &history)?;
        }
        Ok(())
    }

    /// The history, oldest first.
    pub fn history(&self) -> std::io::Result<Vec<Transition>> {
        let text = match std::fs::read_to_string(self.dir.join(HISTORY_FILE)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            })
            .collect()
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
