//! The "every INTERVAL until told to stop" loop of `collect --watch`, `alarms watch` and
//! `tui --live`, and the signals that stop it.

use std::time::Duration;

use tokio::sync::watch;

/// What a repeating loop is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Run,
    /// Stop after the round in progress (a collection window, an evaluation).
    AfterRound,
    /// Drop the round in progress: whoever runs the loop races it against this.
    Now,
}

/// Runs `round` now and then every `interval` after the end of the last one, until `round`
/// fails (its error is returned) or `stop` says so: a round in progress is finished first,
/// the wait for the next one is cut short.
pub async fn every<E>(
    interval: Duration,
    stop: &mut watch::Receiver<Stop>,
    mut round: impl AsyncFnMut() -> Result<(), E>,
) -> Result<(), E> {
    loop {
        round().await?;
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            // A sender gone (the whole command ending) stops the loop too.
            _ = stop.wait_for(|s| *s != Stop::Run) => return Ok(()),
        }
    }
}

/// A stop that Ctrl-C or SIGTERM (a service manager stopping us) sends: the first says
/// `announce` on stderr and stops after the round in progress; a second one aborts.
pub fn stop_on_signal(announce: &'static str) -> watch::Receiver<Stop> {
    let (tx, rx) = watch::channel(Stop::Run);
    tokio::spawn(async move {
        shutdown_signal().await;
        eprintln!("{announce} (Ctrl-C again to abort).");
        let _ = tx.send(Stop::AfterRound);
        shutdown_signal().await;
        super::terminal::finish();
        std::process::exit(130);
    });
    rx
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_lets_the_round_in_progress_finish_and_starts_no_other() {
        let (tx, mut rx) = watch::channel(Stop::Run);
        let mut rounds = 0;
        let result: Result<(), ()> = every(Duration::from_millis(1), &mut rx, async || {
            rounds += 1;
            if rounds == 2 {
                tx.send(Stop::AfterRound).unwrap();
            }
            Ok(())
        })
        .await;
        assert_eq!((result, rounds), (Ok(()), 2));
    }

    #[tokio::test]
    async fn a_failed_round_ends_the_loop_with_its_error() {
        let (_tx, mut rx) = watch::channel(Stop::Run);
        let mut rounds = 0;
        let result = every(Duration::from_millis(1), &mut rx, async || {
            rounds += 1;
            if rounds == 3 { Err(rounds) } else { Ok(()) }
        })
        .await;
        assert_eq!(result, Err(3));
    }
}
