//! hopscope's incident dashboard: from the slowest hop down to one trace's waterfall and its logs.
//!
//! [`App`] holds all view state and changes only in [`App::update`]; [`keys::action`] maps keys
//! to actions; [`ui::render`] draws the state and never waits. A [`worker::Worker`] owns the
//! analyzer session and answers requests in the background. The crate knows nothing of AWS:
//! `hopscope tui --live` collects in the root crate and tells the dashboard to refresh.

pub mod app;
pub mod data;
pub mod keys;
pub mod terminal;
pub mod ui;
pub mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use hopscope_analyzer::Session;
use ratatui::crossterm::event::{self, KeyEvent};
use tokio::runtime::Handle;
use tokio::sync::watch;

pub use crate::app::{Action, App, Effect, Options};
pub use crate::data::{Anchor, TimeRange};
use crate::terminal::Guard;
use crate::worker::Worker;

/// How often progress timers advance while nothing else happens.
const TICK: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// What the render loop waits for.
#[derive(Debug)]
pub enum Event {
    Key(KeyEvent),
    Resize(u16, u16),
    Data(data::Response),
    Live(String),
}

/// Runs the dashboard on this thread until the user quits; queries run on `runtime`. Each new
/// value of `live` (a note such as "collected 10:02:30") refreshes the screens.
pub fn run(
    runtime: &Handle,
    session: Session,
    options: Options,
    live: Option<watch::Receiver<String>>,
) -> Result<(), Error> {
    let (tx, rx) = mpsc::channel();
    let location = session.location().clone();
    let worker = Worker::spawn(runtime, session, tx.clone());
    if let Some(mut live) = live {
        let tx = tx.clone();
        let worker = worker.clone();
        runtime.spawn(async move {
            while live.changed().await.is_ok() {
                let note = live.borrow_and_update().clone();
                // The collection may have added tables the session registered as empty; the
                // refresh that the note triggers then reads through the reopened session. If
                // reopening fails, the old session still answers.
                if let Ok(session) = Session::open_at(&location).await {
                    worker.replace_session(session);
                }
                if tx.send(Event::Live(note)).is_err() {
                    break;
                }
            }
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let input = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || read_input(&tx, &stop))
    };

    let mut app = App::new(options, now_us());
    let result = (|| -> Result<(), Error> {
        let mut guard = Guard::enter()?;
        let size = guard.terminal.size()?;
        app.update(Action::Resize(size.width, size.height));
        let effects = app.start();
        apply(&worker, effects);
        while !app.quit {
            guard.terminal.draw(|f| ui::render(f, &app))?;
            let mut next = match rx.recv_timeout(TICK) {
                Ok(event) => Some(event),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            // Take every event that is already waiting before drawing again.
            while let Some(event) = next {
                let action = match event {
                    Event::Key(key) => keys::action(&app, key),
                    Event::Resize(w, h) => Some(Action::Resize(w, h)),
                    Event::Data(response) => Some(Action::Data(response)),
                    Event::Live(note) => Some(Action::Live(note)),
                };
                if let Some(action) = action {
                    let effects = app.update(action);
                    apply(&worker, effects);
                }
                next = rx.try_recv().ok();
            }
            app.update(Action::Tick(now_us()));
        }
        Ok(())
    })();
    stop.store(true, Ordering::SeqCst);
    let _ = input.join();
    result
}

fn apply(worker: &Worker, effects: Vec<Effect>) {
    for effect in effects {
        match effect {
            Effect::Request(request) => worker.send(request),
            Effect::Copy(text) => {
                // A terminal without OSC 52 ignores the sequence; nothing to report.
                let _ = terminal::copy(&text);
            }
        }
    }
}

/// Forwards terminal events until `stop`; polls so it notices `stop` within a tenth of a second.
fn read_input(tx: &mpsc::Sender<Event>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match event::poll(Duration::from_millis(100)) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(_) => break,
        }
        let sent = match event::read() {
            Ok(event::Event::Key(key)) => tx.send(Event::Key(key)),
            Ok(event::Event::Resize(w, h)) => tx.send(Event::Resize(w, h)),
            Ok(_) => Ok(()),
            Err(_) => break,
        };
        if sent.is_err() {
            break;
        }
    }
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
