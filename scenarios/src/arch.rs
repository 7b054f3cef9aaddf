//! The five reference architectures: their functions, traffic, incident and trace shapes.

mod chatbot;
mod dietician;
mod dragons;
mod etl;
mod users;

use chrono::{DateTime, NaiveDate, Utc};

use crate::Error;
use crate::lambda::FunctionSpec;
use crate::random::{Micros, Random};
use crate::scenario::{ExpectedAlarm, ExpectedWhy, Scenario, TimeRange};
use crate::sim::Sim;

/// How requests arrive over the window.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arrivals {
    /// Independent requests (users, uploads): uniformly random times.
    Random,
    /// A schedule: evenly spaced, with the jitter EventBridge adds.
    Scheduled,
}

pub(crate) struct Architecture {
    pub scenario: fn() -> Scenario,
    pub functions: &'static [FunctionSpec],
    pub arrivals: Arrivals,
    /// Builds one trace starting at the given time into `Sim::segments`.
    pub trace: fn(&mut Sim, Micros) -> Result<(), Error>,
}

pub(crate) fn architecture(name: &str) -> Option<Architecture> {
    let (scenario, functions, arrivals, trace): (_, _, _, fn(&mut Sim, Micros) -> _) = match name {
        "dietician" => (
            dietician::scenario as fn() -> Scenario,
            dietician::FUNCTIONS,
            Arrivals::Random,
            dietician::trace,
        ),
        "dragons" => (
            dragons::scenario,
            dragons::FUNCTIONS,
            Arrivals::Random,
            dragons::trace,
        ),
        "chatbot" => (
            chatbot::scenario,
            chatbot::FUNCTIONS,
            Arrivals::Random,
            chatbot::trace,
        ),
        "etl" => (
            etl::scenario,
            etl::FUNCTIONS,
            Arrivals::Scheduled,
            etl::trace,
        ),
        "users" => (
            users::scenario,
            users::FUNCTIONS,
            Arrivals::Random,
            users::trace,
        ),
        _ => return None,
    };
    Some(Architecture {
        scenario,
        functions,
        arrivals,
        trace,
    })
}

/// A time on the incident day, 2026-11-20, in UTC.
fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(2026, 11, 20)
        .and_then(|d| d.and_hms_opt(hour, minute, 0))
        .expect("valid time of day")
        .and_utc()
}

/// When the window all scenarios share starts.
pub(crate) fn window_start() -> DateTime<Utc> {
    at(9, 0)
}

/// The window all scenarios share, with an incident from `start` to the end of the window.
fn windows(start: (u32, u32)) -> (TimeRange, TimeRange) {
    let window = TimeRange {
        start: window_start(),
        end: at(11, 0),
    };
    let incident = TimeRange {
        start: at(start.0, start.1),
        end: window.end,
    };
    (window, incident)
}

/// Start times of `count` traces in `window`, in order, one at a time: no list of the whole
/// run is kept, so a bench can ask for millions.
pub(crate) struct ArrivalTimes {
    kind: Arrivals,
    start: Micros,
    span: f64,
    count: usize,
    done: usize,
    /// The previous uniform order statistic in `[0, 1)`.
    last: f64,
}

impl ArrivalTimes {
    pub(crate) fn new(kind: Arrivals, window: TimeRange, count: usize) -> Self {
        Self {
            kind,
            start: window.start_us(),
            span: (window.end_us() - window.start_us()) as f64,
            count,
            done: 0,
            last: 0.0,
        }
    }

    pub(crate) fn next(&mut self, rnd: &mut Random) -> Option<Micros> {
        if self.done == self.count {
            return None;
        }
        let remaining = (self.count - self.done) as f64;
        let u = match self.kind {
            // The minimum of the remaining uniforms above `last`: sorted uniforms in O(1) memory.
            Arrivals::Random => 1.0 - (1.0 - self.last) * (1.0 - rnd.unit()).powf(1.0 / remaining),
            Arrivals::Scheduled => (self.done as f64 + 0.1 + 0.05 * rnd.unit()) / self.count as f64,
        };
        self.last = u;
        self.done += 1;
        Some(self.start + (u * self.span) as Micros)
    }
}

/// An alarm the starter pack raises on a scenario.
/// `hopscope why` on `caller -> callee` ranks `attribute = value` first.
fn why(caller: Option<&str>, callee: &str, attribute: &str, value: &str) -> ExpectedWhy {
    ExpectedWhy {
        caller: caller.map(str::to_owned),
        callee: callee.to_owned(),
        attribute: attribute.to_owned(),
        value: value.to_owned(),
    }
}

fn alarm(rule: &str, key: &str, why: &str) -> ExpectedAlarm {
    ExpectedAlarm {
        rule: rule.to_owned(),
        key: key.to_owned(),
        why: why.to_owned(),
    }
}
