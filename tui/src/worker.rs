//! The data worker: a task that owns the session and answers requests off the render loop. Each
//! request runs in its own task, so a slow query never holds up another; a newer request of the
//! same slot (the overview, the query) cancels the older one.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::Sender;

use hopscope_analyzer::Session;
use tokio::runtime::Handle;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::AbortHandle;

use crate::Event;
use crate::data::{Request, Response, answer};

enum Message {
    Request(Request),
    /// Answer later requests from this session (queries already running finish on theirs).
    Session(Session),
}

/// Where the render loop sends requests.
#[derive(Clone)]
pub struct Worker {
    messages: UnboundedSender<Message>,
}

impl Worker {
    /// Starts the worker on `runtime`; its answers arrive as [`Event::Data`] on `events`.
    pub fn spawn(runtime: &Handle, session: Session, events: Sender<Event>) -> Worker {
        let (tx, mut rx) = unbounded_channel::<Message>();
        let mut session = Arc::new(session);
        let spawner = runtime.clone();
        runtime.spawn(async move {
            let mut running: HashMap<&'static str, AbortHandle> = HashMap::new();
            while let Some(message) = rx.recv().await {
                let request = match message {
                    Message::Request(r) => r,
                    Message::Session(s) => {
                        session = Arc::new(s);
                        continue;
                    }
                };
                let slot = request.query.slot();
                if let Some(previous) = running.remove(slot) {
                    previous.abort();
                }
                let session = Arc::clone(&session);
                let events = events.clone();
                let task = spawner.spawn(async move {
                    let result = answer(&session, request.query).await;
                    // The render loop may be gone (the user quit): nothing to tell then.
                    let _ = events.send(Event::Data(Response {
                        id: request.id,
                        result,
                    }));
                });
                running.insert(slot, task.abort_handle());
            }
        });
        Worker { messages: tx }
    }

    pub fn send(&self, request: Request) {
        // The worker only stops when every sender is dropped.
        let _ = self.messages.send(Message::Request(request));
    }

    /// Replaces the session: requests sent after this one see the store as it is now.
    pub fn replace_session(&self, session: Session) {
        let _ = self.messages.send(Message::Session(session));
    }
}
