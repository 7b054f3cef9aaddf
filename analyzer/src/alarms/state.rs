//! Alarm state and history in the store, under `STORE/_alarms/`:
//!
//! ```text
//! state.json                             each alarm's state, and how many history files count
//! history/part-00000000000000000001.parquet   the changes of one evaluation (`alarm_history`)
//! lock                                   the evaluator allowed to write: pid and command
//! ```
//!
//! Both are written through [`hopscope_store::atomic::write`]: the state is small and replaced
//! whole, and a killed run's temporaries are cleared as the store's are. History files are numbered
//! and never rewritten: an evaluation with changes writes the next file, then the state that
//! counts it. A run killed in between leaves a file the state does not count: readers skip it,
//! and the next evaluation, which finds the same changes again, writes over it. So each change
//! is recorded once, and a killed run never leaves a half-written file where readers look.
//!
//! Only the holder of the [`AlarmLock`] writes: two evaluators would both see a change and
//! both notify it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimestampMicrosecondType};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::WriterProperties;
use hopscope_schema::alarm_history::{self, AlarmHistoryBatchBuilder, AlarmHistoryRow, col};
use hopscope_schema::store_layout::{DATA_EXTENSION, VERSION_METADATA_KEY};
use hopscope_store::atomic;
use serde::{Deserialize, Serialize};

use super::eval::State;
use super::{AlarmStatus, Transition};

pub const DIR: &str = "_alarms";
pub const STATE_FILE: &str = "state.json";
pub const HISTORY_DIR: &str = "history";
pub const LOCK_FILE: &str = "lock";

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
    /// History files 1..=N hold the changes that led to these states; a higher number is the
    /// leftover of a killed run.
    #[serde(default)]
    pub history_files: u64,
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

/// Who holds the lock, as the holder wrote it into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    /// `watch`, `check`, ...
    pub command: String,
}

/// The right to write the alarm state, held until dropped (or the process ends: the operating
/// system releases the lock of a killed process, so no stale lock outlives it).
#[derive(Debug)]
pub struct AlarmLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{} is locked by {}", path.display(), describe(holder))]
    Held {
        path: PathBuf,
        holder: Option<LockHolder>,
    },
    #[error("locking {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn describe(holder: &Option<LockHolder>) -> String {
    match holder {
        Some(h) => format!("`hopscope alarms {}` (pid {})", h.command, h.pid),
        None => "another evaluator".to_string(),
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

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// Takes the write lock without waiting, recording this process as its holder.
    pub fn try_lock(&self, command: &str) -> Result<AlarmLock, LockError> {
        let path = self.lock_path();
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        // Never truncated before the lock is ours: the holder's pid is in it.
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    path: path.clone(),
                    holder: read_holder(&mut file),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let holder = LockHolder {
            pid: std::process::id(),
            command: command.to_string(),
        };
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        serde_json::to_writer(&mut file, &holder).map_err(|e| io(e.into()))?;
        file.flush().map_err(io)?;
        Ok(AlarmLock { _file: file })
    }

    /// The stored states; empty before the first evaluation.
    pub fn load(&self) -> std::io::Result<StateFile> {
        let path = self.dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| invalid(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StateFile::default()),
            Err(e) => Err(e),
        }
    }

    /// Saves the states, first appending the transitions to the history as a new file (which
    /// `state` then counts). Only the lock's holder may write.
    pub fn save(
        &self,
        _lock: &AlarmLock,
        state: &mut StateFile,
        transitions: &[Transition],
    ) -> std::io::Result<()> {
        atomic::create_dir(&self.dir).map_err(std::io::Error::other)?;
        if !transitions.is_empty() {
            let number = state.history_files + 1;
            let dir = self.dir.join(HISTORY_DIR);
            atomic::create_dir(&dir).map_err(std::io::Error::other)?;
            write_history_file(&dir, number, transitions)?;
            state.history_files = number;
        }
        let json = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        atomic::write_bytes(&self.dir.join(STATE_FILE), &json).map_err(std::io::Error::other)
    }

    /// The history, oldest first: every file the state counts, in order.
    pub fn history(&self) -> std::io::Result<Vec<Transition>> {
        let counted = self.load()?.history_files;
        let mut out = Vec::new();
        for number in 1..=counted {
            let path = history_path(&self.dir.join(HISTORY_DIR), number);
            let file = File::open(&path)?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(ParquetRecordBatchReaderBuilder::build)
                .map_err(|e| invalid(&path, e))?;
            for batch in reader {
                let batch = batch.map_err(|e| invalid(&path, e))?;
                transitions_of(&batch, &mut out).map_err(|e| invalid(&path, e))?;
            }
        }
        Ok(out)
    }
}

fn read_holder(file: &mut File) -> Option<LockHolder> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

fn invalid(path: &Path, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{}: {e}", path.display()),
    )
}

fn history_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("part-{number:020}{DATA_EXTENSION}"))
}

/// History file `number` in `dir`, written as the store writes data files.
fn write_history_file(dir: &Path, number: u64, transitions: &[Transition]) -> std::io::Result<()> {
    let mut b = AlarmHistoryBatchBuilder::default();
    for t in transitions {
        let at = chrono::DateTime::parse_from_rfc3339(&t.at)
            .map_err(|e| invalid(Path::new(&t.at), e))?
            .timestamp_micros();
        b.append(&AlarmHistoryRow {
            rule: &t.rule,
            key: &t.key,
            from_state: t.from.as_str(),
            to_state: t.to.as_str(),
            at,
            reason: &t.reason,
            severity: &t.severity,
            labels: t
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            description: t.description.as_deref(),
            actions_enabled: t.actions_enabled,
        });
    }
    let batch = b.finish();
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new(
            VERSION_METADATA_KEY.to_string(),
            hopscope_schema::SCHEMA_VERSION.to_string(),
        )]))
        .build();
    let path = history_path(dir, number);
    let parquet_err = |source| hopscope_store::Error::Parquet {
        path: path.clone(),
        source,
    };
    atomic::write(&path, |file| {
        let mut w = ArrowWriter::try_new(file, alarm_history::schema(), Some(props))
            .map_err(parquet_err)?;
        w.write(&batch).map_err(parquet_err)?;
        w.close().map_err(parquet_err)?;
        Ok(())
    })
    .map_err(std::io::Error::other)
}

fn parse_state(s: &str) -> Result<State, String> {
    [State::Ok, State::Alarm, State::InsufficientData]
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| format!("unknown alarm state {s:?}"))
}

/// Appends the transitions of one `alarm_history` batch to `out`.
fn transitions_of(batch: &RecordBatch, out: &mut Vec<Transition>) -> Result<(), String> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| format!("no column {name}"))
    };
    // Dictionary columns read as plain strings.
    let strings = |name: &str| -> Result<Arc<dyn Array>, String> {
        cast(column(name)?, &DataType::Utf8).map_err(|e| e.to_string())
    };
    let (rule, key, from, to, reason, severity, description) = (
        strings(col::RULE)?,
        strings(col::KEY)?,
        strings(col::FROM_STATE)?,
        strings(col::TO_STATE)?,
        strings(col::REASON)?,
        strings(col::SEVERITY)?,
        strings(col::DESCRIPTION)?,
    );
    let (rule, key, from, to, reason, severity, description) = (
        rule.as_string::<i32>(),
        key.as_string::<i32>(),
        from.as_string::<i32>(),
        to.as_string::<i32>(),
        reason.as_string::<i32>(),
        severity.as_string::<i32>(),
        description.as_string::<i32>(),
    );
    let at = column(col::AT)?.as_primitive::<TimestampMicrosecondType>();
    let labels = column(col::LABELS)?.as_map();
    let actions = column(col::ACTIONS_ENABLED)?.as_boolean();
    for i in 0..batch.num_rows() {
        let mut label_map = BTreeMap::new();
        if labels.is_valid(i) {
            let entries = labels.value(i);
            let (k, v) = (
                entries.column(0).as_string::<i32>(),
                entries.column(1).as_string::<i32>(),
            );
            for j in 0..entries.len() {
                label_map.insert(k.value(j).to_string(), v.value(j).to_string());
            }
        }
        out.push(Transition {
            rule: rule.value(i).to_string(),
            key: key.value(i).to_string(),
            from: parse_state(from.value(i))?,
            to: parse_state(to.value(i))?,
            at: super::rfc3339(at.value(i)),
            reason: reason.value(i).to_string(),
            severity: severity.value(i).to_string(),
            labels: label_map,
            description: description
                .is_valid(i)
                .then(|| description.value(i).to_string()),
            actions_enabled: actions.value(i),
        });
    }
    Ok(())
}
