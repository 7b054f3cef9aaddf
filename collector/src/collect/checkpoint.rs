//! One checkpoint per source (`xray`, `logs:<group>`, `metrics`) in `STORE/_checkpoints/`: the
//! window whose data is all in the store. Written atomically after the data, so a kill at any
//! moment leaves either the old checkpoint (the window is collected again and deduplicated) or
//! the new one (the data is already there).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use hopscope_store::Store;

pub const DIR: &str = "_checkpoints";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Start of the complete span of time.
    pub from: DateTime<Utc>,
    /// Its end: everything in `[from, until]` is in the store.
    pub until: DateTime<Utc>,
}

/// The file's form: RFC 3339 times, readable by people checking what was collected.
#[derive(Serialize, Deserialize)]
struct Stored {
    from: String,
    until: String,
}

/// The file of a source, relative to the store's root: names keep letters, digits, `-`, `_` and
/// `.`; the rest is %-encoded (log group names hold `/`).
fn path(source: &str) -> String {
    let mut name = String::with_capacity(source.len() + 5);
    for b in source.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            name.push(b as char);
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    name.push_str(".json");
    format!("{DIR}/{name}")
}

pub fn load(store: &Store, source: &str) -> Result<Option<Checkpoint>> {
    let path = path(source);
    let Some(bytes) = store.location().read(&path)? else {
        return Ok(None);
    };
    let parsed = serde_json::from_slice::<Stored>(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|s| {
            let time = |t: &str| {
                DateTime::parse_from_rfc3339(t)
                    .map(|t| t.to_utc())
                    .map_err(|e| format!("{t:?}: {e}"))
            };
            Ok(Checkpoint {
                from: time(&s.from)?,
                until: time(&s.until)?,
            })
        });
    parsed.map(Some).map_err(|e| Error::BadStore {
        path: store.location().describe(&path),
        reason: format!("unreadable checkpoint ({e}); delete it to collect its source again"),
    })
}

pub fn save(store: &Store, source: &str, checkpoint: &Checkpoint) -> Result<()> {
    let stored = Stored {
        from: checkpoint.from.to_rfc3339(),
        until: checkpoint.until.to_rfc3339(),
    };
    let body = serde_json::to_vec(&stored).expect("checkpoint serializes");
    store.location().put(&path(source), body)?;
    Ok(())
}

/// What is left to collect of `[start, end]` given a source's checkpoint, re-reading `overlap`
/// before its end (late-indexed traces, late-ingested events; duplicates are dropped by the
/// store). `None` when the checkpoint covers it all.
pub fn remaining(
    checkpoint: Option<Checkpoint>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    overlap: chrono::TimeDelta,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let from = match checkpoint {
        Some(c) if c.from <= start && c.until >= end => return None,
        Some(c) if c.from <= start && c.until > start => (c.until - overlap).max(start),
        _ => start,
    };
    (from < end).then_some((from, end))
}

/// The checkpoint after collecting `[start, end]`: merged with the old one when they touch.
pub fn extend(
    checkpoint: Option<Checkpoint>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Checkpoint {
    match checkpoint {
        Some(c) if c.from <= start && c.until >= start => Checkpoint {
            from: c.from,
            until: c.until.max(end),
        },
        _ => Checkpoint {
            from: start,
            until: end,
        },
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap()
    }

    #[test]
    fn remaining_continues_from_the_checkpoint_with_overlap() {
        let five = TimeDelta::minutes(5);
        assert_eq!(remaining(None, t(0), t(60), five), Some((t(0), t(60))));
        let c = Checkpoint {
            from: t(0),
            until: t(30),
        };
        assert_eq!(remaining(Some(c), t(0), t(60), five), Some((t(25), t(60))));
        // Asking for earlier data than the checkpoint covers collects the whole window.
        assert_eq!(
            remaining(Some(c), t(-60), t(60), five),
            Some((t(-60), t(60)))
        );
        assert_eq!(remaining(Some(c), t(10), t(20), five), None);
        assert_eq!(
            extend(Some(c), t(25), t(60)),
            Checkpoint {
                from: t(0),
                until: t(60)
            }
        );
        assert_eq!(
            extend(Some(c), t(40), t(60)),
            Checkpoint {
                from: t(40),
                until: t(60)
            }
        );
    }

    #[test]
    fn saved_checkpoints_load_back_under_encoded_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        let c = Checkpoint {
            from: t(0),
            until: t(30),
        };
        save(&store, "logs:/aws/lambda/orders", &c).unwrap();
        assert_eq!(load(&store, "logs:/aws/lambda/orders").unwrap(), Some(c));
        assert_eq!(load(&store, "xray").unwrap(), None);
        assert!(
            dir.path()
                .join(DIR)
                .join("logs%3A%2Faws%2Flambda%2Forders.json")
                .exists()
        );
    }
}
