//! Facts ranked by how much more often they hold for the slow calls than for the others.

use std::collections::HashMap;

use super::facts::{Attribute, Described, Fact};

/// One ranked fact, with the facts that hold for exactly the same calls.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ranked {
    pub fact: Fact,
    pub same: Vec<Fact>,
    pub slow: usize,
    /// Calls compared with it holds for, of `others_of`.
    pub others: usize,
    pub others_of: usize,
    /// Indexes of the slow calls it holds for, in the calls' order.
    pub slow_calls: Vec<usize>,
}

/// The `limit` facts that hold more often for the slow calls, most first; at the same lift,
/// the one seen in more slow calls first.
pub(super) fn rank(d: &Described, limit: usize) -> Vec<Ranked> {
    let n = d.facts.len();
    let slow_n = d.groups.slow.min(n);
    let others = slow_n..(slow_n + d.groups.others).min(n);
    let rest = others.end..n;
    let mut calls_of: HashMap<&Fact, Vec<usize>> = HashMap::new();
    for (call, facts) in d.facts.iter().enumerate() {
        for f in facts {
            // Only facts of some slow call can hold more often for the slow calls.
            if call < slow_n || calls_of.contains_key(f) {
                calls_of.entry(f).or_default().push(call);
            }
        }
    }
    // Facts of the same calls are one line, led by the first attribute in `Attribute`'s order.
    let mut lines: HashMap<&[usize], Vec<&Fact>> = HashMap::new();
    for (fact, calls) in &calls_of {
        lines.entry(calls.as_slice()).or_default().push(fact);
    }
    let share = |k: usize, of: usize| if of == 0 { 0.0 } else { k as f64 / of as f64 };
    let mut ranked: Vec<(f64, Ranked)> = lines
        .into_iter()
        .filter_map(|(calls, mut facts)| {
            facts.sort();
            // A sandbox lives minutes: one of the baseline's is another by construction.
            let against = if facts[0].0 == Attribute::Sandbox && !rest.is_empty() {
                rest.clone()
            } else {
                others.clone()
            };
            let slow_calls: Vec<usize> = calls.iter().copied().filter(|&c| c < slow_n).collect();
            let slow = slow_calls.len();
            let others = calls.iter().filter(|c| against.contains(c)).count();
            let lift = share(slow, slow_n) - share(others, against.len());
            (lift > 0.0).then(|| {
                (
                    lift,
                    Ranked {
                        fact: facts[0].clone(),
                        same: facts[1..].iter().map(|&f| f.clone()).collect(),
                        slow,
                        others,
                        others_of: against.len(),
                        slow_calls,
                    },
                )
            })
        })
        .collect();
    ranked.sort_by(|(la, a), (lb, b)| {
        lb.total_cmp(la)
            .then(b.slow.cmp(&a.slow))
            .then_with(|| a.fact.cmp(&b.fact))
    });
    ranked.truncate(limit);
    ranked.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::why::facts::Groups;

    fn described(slow: usize, calls: &[&[(Attribute, &str)]]) -> Described {
        Described {
            groups: Groups {
                slow,
                others: calls.len() - slow,
            },
            facts: calls
                .iter()
                .map(|facts| {
                    let mut f: Vec<Fact> = facts
                        .iter()
                        .map(|(a, v)| (a.clone(), (*v).to_owned()))
                        .collect();
                    f.sort();
                    f
                })
                .collect(),
            time: Vec::new(),
        }
    }

    #[test]
    fn the_fact_most_overrepresented_among_slow_calls_leads() {
        use Attribute::*;
        let d = described(
            2,
            &[
                &[(ColdStart, "yes"), (Version, "8")],
                &[(ColdStart, "yes"), (Version, "9")],
                &[(ColdStart, "no"), (Version, "7")],
                &[(ColdStart, "no"), (Version, "7")],
                &[(ColdStart, "yes"), (Version, "7")],
                &[(ColdStart, "no"), (Version, "7")],
            ],
        );
        let r = rank(&d, 10);
        assert_eq!(r[0].fact, (ColdStart, "yes".to_owned()));
        assert_eq!((r[0].slow, r[0].others), (2, 1));
        // Versions 8 and 9: one slow call each, none of the others.
        let rest: Vec<_> = r[1..].iter().map(|r| (r.fact.1.as_str(), r.slow)).collect();
        assert_eq!(rest, [("8", 1), ("9", 1)]);
        // What the slow calls have less often than the others is no evidence.
        assert!(r.iter().all(|r| r.fact.1 != "7" && r.fact.1 != "no"));
    }

    #[test]
    fn facts_of_the_same_calls_are_one_line_led_by_the_call_beneath() {
        use Attribute::*;
        let d = described(
            2,
            &[
                &[(Outcome, "timed out"), (UnansweredCall, "api GET /v2")],
                &[(Outcome, "timed out"), (UnansweredCall, "api GET /v2")],
                &[(Outcome, "ok")],
            ],
        );
        let r = rank(&d, 10);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].fact, (UnansweredCall, "api GET /v2".to_owned()));
        assert_eq!(r[0].same, [(Outcome, "timed out".to_owned())]);
        assert_eq!(r[0].slow_calls, [0, 1]);
    }
}
