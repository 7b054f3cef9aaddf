//! Which traces to fetch first when a window holds more than the call budget allows: every trace
//! that failed or timed out, then the slowest tenth, then a uniform sample of the rest. The
//! sample is a hash of the trace id, so reruns and other windows choose the same traces and a
//! trace is never half-wanted.

use std::collections::BTreeMap;

/// What is known of a trace before it is fetched (from its summary, a REPORT line or its spans).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// X-Ray form: `1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy`.
    pub id: String,
    /// A fault, an error, a timeout.
    pub failed: bool,
    pub duration_ms: Option<f64>,
}

/// Candidates by id, what each source said merged.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    by_id: BTreeMap<String, Candidate>,
}

impl Candidates {
    pub fn add(&mut self, c: Candidate) {
        match self.by_id.get_mut(&c.id) {
            Some(known) => {
                known.failed |= c.failed;
                known.duration_ms = match (known.duration_ms, c.duration_ms) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
            None => {
                self.by_id.insert(c.id.clone(), c);
            }
        }
    }

    pub fn extend(&mut self, other: Candidates) {
        for c in other.by_id.into_values() {
            self.add(c);
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn ids(&self) -> Vec<String> {
        self.by_id.keys().cloned().collect()
    }

    /// Up to `budget` ids, most telling first: failed, then the slowest tenth (slowest first),
    /// then the rest in hash order.
    pub fn prioritized(&self, budget: usize) -> Vec<String> {
        let mut durations: Vec<f64> = self.by_id.values().filter_map(|c| c.duration_ms).collect();
        durations.sort_by(f64::total_cmp);
        let p90 = (!durations.is_empty())
            .then(|| durations[(durations.len() * 9 / 10).min(durations.len() - 1)]);
        let tier = |c: &Candidate| {
            if c.failed {
                0
            } else if p90.is_some_and(|p| c.duration_ms.is_some_and(|d| d >= p)) {
                1
            } else {
                2
            }
        };
        let mut ordered: Vec<(u8, i64, u64, &str)> = self
            .by_id
            .values()
            .map(|c| {
                let t = tier(c);
                // Within the slow tier the slowest first; elsewhere the sample order.
                let slow_first = if t == 1 {
                    -(c.duration_ms.unwrap_or(0.0) * 1000.0) as i64
                } else {
                    0
                };
                let sample = twox_hash::XxHash3_64::oneshot(c.id.as_bytes());
                (t, slow_first, sample, c.id.as_str())
            })
            .collect();
        ordered.sort_unstable();
        ordered
            .into_iter()
            .take(budget)
            .map(|(.., id)| id.to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, failed: bool, ms: Option<f64>) -> Candidate {
        Candidate {
            id: id.into(),
            failed,
            duration_ms: ms,
        }
    }

    #[test]
    fn failures_then_the_slowest_then_a_stable_sample() {
        let mut all = Candidates::default();
        for i in 0..20 {
            all.add(c(&format!("ok-{i:02}"), false, Some(f64::from(i))));
        }
        all.add(c("slow", false, Some(500.0)));
        all.add(c("failed", false, Some(1.0)));
        // A second source says this one failed: the merge keeps it.
        all.add(c("failed", true, None));
        let chosen = all.prioritized(5);
        assert_eq!(chosen[0], "failed");
        assert_eq!(chosen[1], "slow");
        // The slowest tenth of 22 durations: 500, 19, 18.
        assert_eq!(chosen[2..4], ["ok-19".to_string(), "ok-18".to_string()]);
        assert_eq!(chosen.len(), 5);
        // The same input, the same choice; a bigger budget keeps the smaller one's choice.
        assert_eq!(all.prioritized(5), chosen);
        assert_eq!(all.prioritized(8)[..5], chosen[..]);
        assert_eq!(all.prioritized(100).len(), 22);
    }
}
