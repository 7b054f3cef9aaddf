//! What the hand-written tallies (`hops`, the service map) share: one task per partition of the
//! scan, each folding its batches into groups found by packed integer keys.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash};

use datafusion::arrow::array::RecordBatch;
use datafusion::common::exec_datafusion_err;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;

use crate::error::{Error, Result};
use crate::interned::IdHasher;

/// Folds each stream into a fresh `start()` on a task of its own and returns the folds.
pub(crate) async fn per_partition<P: Send + 'static>(
    streams: Vec<SendableRecordBatchStream>,
    start: impl Fn() -> P,
    add: impl Fn(&mut P, &RecordBatch) -> Result<()> + Clone + Send + 'static,
) -> Result<Vec<P>> {
    let mut tasks = tokio::task::JoinSet::new();
    for mut stream in streams {
        let (mut part, add) = (start(), add.clone());
        tasks.spawn(async move {
            while let Some(batch) = stream.next().await {
                add(&mut part, &batch?)?;
            }
            Ok::<_, Error>(part)
        });
    }
    let mut parts = Vec::new();
    while let Some(done) = tasks.join_next().await {
        parts.push(done.map_err(|e| Error::from(exec_datafusion_err!("tally task: {e}")))??);
    }
    Ok(parts)
}

/// Running aggregates by packed key, in order of first appearance.
pub(crate) struct Groups<K, A> {
    index: HashMap<K, usize, BuildHasherDefault<IdHasher>>,
    accs: Vec<(K, A)>,
    /// Consecutive spans of a trace often share a group: the last lookup is reused.
    last: Option<(K, usize)>,
}

impl<K, A> Default for Groups<K, A> {
    fn default() -> Self {
        Groups {
            index: HashMap::default(),
            accs: Vec::new(),
            last: None,
        }
    }
}

impl<K: Copy + Eq + Hash, A: Default> Groups<K, A> {
    /// The group of `key`, new (default) the first time.
    pub(crate) fn get(&mut self, key: K) -> &mut A {
        let i = match self.last {
            Some((k, i)) if k == key => i,
            _ => {
                let next = self.accs.len();
                let i = *self.index.entry(key).or_insert(next);
                if i == next {
                    self.accs.push((key, A::default()));
                }
                self.last = Some((key, i));
                i
            }
        };
        &mut self.accs[i].1
    }

    pub(crate) fn into_vec(self) -> Vec<(K, A)> {
        self.accs
    }
}
