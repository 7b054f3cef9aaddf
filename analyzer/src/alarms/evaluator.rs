//! The evaluation loop of `check` and `watch`: evaluate every rule against the saved states, and,
//! as holder of the alarm lock, save the new states and history, then notify each change of state
//! once. Where notifications go (a webhook, CloudWatch) is the caller's: a [`Notifier`].

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::state::{AlarmLock, AlarmStore};
use super::{AlarmStatus, Rule, Transition};
use crate::Session;
use crate::error::{Error, Result};

/// A notifier's failure: its implementations live next to their clients (HTTP, the AWS SDK),
/// which this crate does not build, so their errors arrive boxed. The message is shown to the
/// user whole, as a warning.
pub type NotifyError = Box<dyn std::error::Error + Send + Sync>;

/// What a [`Notifier`] returns: boxed, so that notifiers of different kinds share one list.
pub type NotifyFuture<'a> = BoxFuture<'a, Result<(), NotifyError>>;

/// Where a saved evaluation is told. Both methods default to telling nobody.
pub trait Notifier: Send + Sync {
    /// One change of state of a rule whose actions are enabled, once: after it is saved.
    fn changed<'a>(&'a self, _change: &'a Transition) -> NotifyFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    /// Every alarm's state after a saved evaluation at `at`, changed or not.
    fn evaluated<'a>(
        &'a self,
        _statuses: &'a [AlarmStatus],
        _at: DateTime<Utc>,
    ) -> NotifyFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}

/// The rules of one store, evaluated again and again.
pub struct Evaluator {
    store_dir: PathBuf,
    rules: Vec<Rule>,
    notifiers: Vec<Box<dyn Notifier>>,
}

/// What one evaluation found.
#[derive(Debug)]
pub struct Evaluated {
    /// Every alarm's status, in rule order then key order.
    pub statuses: Vec<AlarmStatus>,
    /// The changes of state saved; none when evaluated read-only.
    pub transitions: Vec<Transition>,
    /// Notifications that failed. Never fatal: the state is saved, and the user is told.
    pub failed: Vec<NotifyError>,
}

impl Evaluator {
    pub fn new(store_dir: &Path, rules: Vec<Rule>, notifiers: Vec<Box<dyn Notifier>>) -> Self {
        Evaluator {
            store_dir: store_dir.to_path_buf(),
            rules,
            notifiers,
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Evaluates at `at`. With the lock: saves states and history, then notifies. Without it,
    /// read-only: the holder saves and notifies, so each change is told once.
    pub async fn evaluate(&self, at: DateTime<Utc>, lock: Option<&AlarmLock>) -> Result<Evaluated> {
        // A fresh session each time: a collection in between added files.
        let session = Session::open(&self.store_dir).await?;
        let store = AlarmStore::new(&self.store_dir);
        // Read under the lock, so this is the state the last saved evaluation left.
        let mut states = store.load().map_err(|error| Error::ReadAlarmState {
            path: store.dir().to_path_buf(),
            error,
        })?;
        let statuses =
            super::evaluate_rules(&session, &self.rules, at.timestamp_micros(), &states).await?;
        let transitions = super::transitions(&self.rules, &statuses);
        let Some(lock) = lock else {
            return Ok(Evaluated {
                statuses,
                transitions: Vec::new(),
                failed: Vec::new(),
            });
        };
        states.update(&statuses);
        store
            .save(lock, &mut states, &transitions)
            .map_err(|error| Error::SaveAlarmState {
                path: store.dir().to_path_buf(),
                error,
            })?;
        let failed = self.notify(&transitions, &statuses, at).await;
        Ok(Evaluated {
            statuses,
            transitions,
            failed,
        })
    }

    async fn notify(
        &self,
        transitions: &[Transition],
        statuses: &[AlarmStatus],
        at: DateTime<Utc>,
    ) -> Vec<NotifyError> {
        let mut failed = Vec::new();
        for notifier in &self.notifiers {
            for t in transitions.iter().filter(|t| t.actions_enabled) {
                failed.extend(notifier.changed(t).await.err());
            }
            failed.extend(notifier.evaluated(statuses, at).await.err());
        }
        failed
    }
}
