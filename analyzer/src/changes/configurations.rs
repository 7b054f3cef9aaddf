//! Deployments and configuration changes, from the `lambda_functions` snapshots: a new
//! published version, new code or settings of `$LATEST`, an alias moved to another version.
//! Each is compared with the configuration before it, so the change says what moved.

use std::collections::BTreeMap;

use hopscope_schema::lambda_functions::{TABLE, col};

use super::{Change, ChangeKind, Window};
use crate::columns;
use crate::error::Result;
use crate::session::Session;

const LATEST: &str = "$LATEST";

/// One configuration row, as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Config {
    pub place: String,
    pub function: String,
    pub version: String,
    pub aliases: String,
    pub last_modified: i64,
    pub observed_at: i64,
    pub settings: Vec<(&'static str, Option<String>)>,
}

/// The settings compared, with their units.
const SETTINGS: &[(&str, &str)] = &[
    (col::CODE_SHA256, ""),
    (col::MEMORY_MB, " MB"),
    (col::TIMEOUT_S, " s"),
    (col::RUNTIME, ""),
    (col::ARCHITECTURE, ""),
    (col::HANDLER, ""),
    (col::EPHEMERAL_STORAGE_MB, " MB"),
    (col::SNAP_START, ""),
    (col::TRACING_MODE, ""),
    (col::LOG_FORMAT, ""),
];

pub(crate) async fn load(
    session: &Session,
    range: Window,
    wanted: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<Change>> {
    let settings: Vec<String> = SETTINGS
        .iter()
        .map(|(c, _)| format!("CAST({c} AS VARCHAR)"))
        .collect();
    // Every configuration up to the range's end: the ones before it are what changes compare
    // with. The table holds a row per configuration, so it stays small.
    let sql = format!(
        "SELECT coalesce(CAST({acc} AS VARCHAR), '') || '/' || coalesce(CAST({reg} AS VARCHAR), ''),
                CAST({f} AS VARCHAR), CAST({v} AS VARCHAR), {al}, {lm}, {ob}, {settings}
         FROM {TABLE} WHERE {lm} < arrow_cast({end}, 'Timestamp(Microsecond, Some(\"UTC\"))')",
        acc = col::ACCOUNT_ID,
        reg = col::REGION,
        f = col::FUNCTION,
        v = col::VERSION,
        al = col::ALIASES,
        lm = col::LAST_MODIFIED,
        ob = col::OBSERVED_AT,
        settings = settings.join(", "),
        end = range.end_us,
    );
    let mut configs = Vec::new();
    for b in session.collect(&sql).await? {
        let (place, function, version, aliases) = (
            columns::strings(&b, 0),
            columns::strings(&b, 1),
            columns::strings(&b, 2),
            columns::strings(&b, 3),
        );
        let (modified, observed) = (columns::micros(&b, 4), columns::micros(&b, 5));
        let values: Vec<Vec<Option<String>>> = (0..SETTINGS.len())
            .map(|i| columns::strings(&b, 6 + i))
            .collect();
        for r in 0..b.num_rows() {
            let function = function[r].clone().unwrap_or_default();
            if !wanted(&function) {
                continue;
            }
            configs.push(Config {
                place: place[r].clone().unwrap_or_default(),
                function,
                version: version[r].clone().unwrap_or_default(),
                aliases: aliases[r].clone().unwrap_or_default(),
                last_modified: modified[r].unwrap_or_default(),
                observed_at: observed[r].unwrap_or_default(),
                settings: SETTINGS
                    .iter()
                    .zip(&values)
                    .map(|((name, _), v)| (*name, v[r].clone()))
                    .collect(),
            });
        }
    }
    Ok(changes(configs, range))
}

/// The changes in `range` among every configuration collected (pure).
pub(crate) fn changes(mut configs: Vec<Config>, range: Window) -> Vec<Change> {
    configs.sort_by(|a, b| {
        (&a.place, &a.function, a.last_modified, a.observed_at).cmp(&(
            &b.place,
            &b.function,
            b.last_modified,
            b.observed_at,
        ))
    });
    let in_range = |t: i64| t >= range.start_us && t < range.end_us;
    let mut out = Vec::new();
    let mut by_function: BTreeMap<(&str, &str), Vec<&Config>> = BTreeMap::new();
    for c in &configs {
        by_function
            .entry((c.place.as_str(), c.function.as_str()))
            .or_default()
            .push(c);
    }
    for ((_, function), rows) in by_function {
        let published: Vec<&Config> = rows
            .iter()
            .copied()
            .filter(|c| c.version != LATEST)
            .collect();
        // Each version's rows in the order collections saw them.
        let mut by_version: BTreeMap<&str, Vec<&Config>> = BTreeMap::new();
        for c in &rows {
            by_version.entry(c.version.as_str()).or_default().push(c);
        }
        for (version, seen) in &by_version {
            let first = seen[0];
            if *version != LATEST && in_range(first.last_modified) {
                // The version published before this one: the newest configuration of a lower
                // version number.
                let previous = published
                    .iter()
                    .filter(|p| version_number(&p.version) < version_number(version))
                    .max_by_key(|p| (version_number(&p.version), p.observed_at));
                let detail = match previous {
                    Some(p) => with_diff(format!("version {version}"), &diff(p, first)),
                    None => format!("version {version} (no earlier version collected)"),
                };
                out.push(change(
                    first.last_modified,
                    ChangeKind::Published,
                    function,
                    detail,
                ));
            }
            if *version == LATEST && in_range(first.last_modified) {
                // Publishing copies `$LATEST`: the version's own change says it.
                let covered = published.iter().any(|p| {
                    p.settings == first.settings
                        && (p.last_modified - first.last_modified).abs() <= 120_000_000
                });
                if !covered {
                    out.push(change(
                        first.last_modified,
                        ChangeKind::Updated,
                        function,
                        "$LATEST (no earlier configuration collected)".into(),
                    ));
                }
            }
            for pair in seen.windows(2) {
                let (before, after) = (pair[0], pair[1]);
                if after.last_modified != before.last_modified && in_range(after.last_modified) {
                    out.push(change(
                        after.last_modified,
                        ChangeKind::Updated,
                        function,
                        with_diff(version.to_string(), &diff(before, after)),
                    ));
                } else if after.aliases != before.aliases && in_range(after.observed_at) {
                    let added = names(&after.aliases)
                        .filter(|a| !names(&before.aliases).any(|b| b == *a))
                        .collect::<Vec<_>>();
                    let detail = if added.is_empty() {
                        format!(
                            "aliases of {version}: {} -> {}",
                            or_none(&before.aliases),
                            or_none(&after.aliases)
                        )
                    } else {
                        format!("{} -> {version}", added.join(", "))
                    };
                    out.push(change(
                        after.observed_at,
                        ChangeKind::AliasMoved,
                        function,
                        detail,
                    ));
                }
            }
        }
    }
    out.sort_by_key(|c| c.at_us);
    out
}

fn change(at_us: i64, kind: ChangeKind, function: &str, detail: String) -> Change {
    Change {
        at_us,
        kind,
        subject: function.to_string(),
        detail,
        lead_up: false,
    }
}

/// Numbered versions by number; anything else after them.
fn version_number(version: &str) -> u64 {
    version.parse().unwrap_or(u64::MAX)
}

fn names(aliases: &str) -> impl Iterator<Item = &str> {
    aliases.split(',').filter(|a| !a.is_empty())
}

fn or_none(aliases: &str) -> &str {
    if aliases.is_empty() { "none" } else { aliases }
}

fn with_diff(head: String, diff: &[String]) -> String {
    if diff.is_empty() {
        format!("{head}, same code and settings")
    } else {
        format!("{head}: {}", diff.join(", "))
    }
}

/// `memory 512 -> 1024 MB`, one per setting that differs.
fn diff(before: &Config, after: &Config) -> Vec<String> {
    SETTINGS
        .iter()
        .zip(before.settings.iter().zip(&after.settings))
        .filter(|(_, ((_, a), (_, b)))| a != b)
        .map(|((name, unit), ((_, a), (_, b)))| {
            let show = |v: &Option<String>| match v {
                None => "unset".to_string(),
                Some(v) if *name == col::CODE_SHA256 => v.chars().take(8).collect::<String>() + "…",
                Some(v) => v.clone(),
            };
            let label = name
                .trim_end_matches("_mb")
                .trim_end_matches("_s")
                .trim_end_matches("_sha256")
                .replace('_', " ");
            format!("{label} {} -> {}{unit}", show(a), show(b))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000;

    fn config(version: &str, last_modified: i64, code: &str, memory: &str) -> Config {
        Config {
            place: "1/eu-west-1".into(),
            function: "f".into(),
            version: version.into(),
            aliases: String::new(),
            last_modified,
            observed_at: last_modified + MIN,
            settings: SETTINGS
                .iter()
                .map(|(name, _)| {
                    let v = match *name {
                        col::CODE_SHA256 => Some(code.to_string()),
                        col::MEMORY_MB => Some(memory.to_string()),
                        _ => None,
                    };
                    (*name, v)
                })
                .collect(),
        }
    }

    fn range() -> Window {
        Window {
            start_us: 100 * MIN,
            end_us: 200 * MIN,
        }
    }

    fn details(changes: &[Change]) -> Vec<(i64, ChangeKind, &str)> {
        changes
            .iter()
            .map(|c| (c.at_us / MIN, c.kind, c.detail.as_str()))
            .collect()
    }

    #[test]
    fn a_published_version_says_what_it_changed_against_the_one_before() {
        let got = changes(
            vec![
                config("7", 10 * MIN, "aaaaaaaaaaaa", "512"),
                config("8", 150 * MIN, "bbbbbbbbbbbb", "1024"),
                config("9", 160 * MIN, "cccccccccccc", "1024"),
                // Publishing copies $LATEST: no change of its own.
                config(LATEST, 160 * MIN, "cccccccccccc", "1024"),
            ],
            range(),
        );
        assert_eq!(
            details(&got),
            vec![
                (
                    150,
                    ChangeKind::Published,
                    "version 8: code aaaaaaaa… -> bbbbbbbb…, memory 512 -> 1024 MB"
                ),
                (
                    160,
                    ChangeKind::Published,
                    "version 9: code bbbbbbbb… -> cccccccc…"
                ),
            ]
        );
    }

    #[test]
    fn latest_updates_aliases_and_the_range() {
        let mut moved = config("3", 10 * MIN, "c", "128");
        moved.aliases = "live".into();
        moved.observed_at = 120 * MIN;
        let got = changes(
            vec![
                config("3", 10 * MIN, "c", "128"),
                moved,
                config(LATEST, 50 * MIN, "c", "128"),
                config(LATEST, 130 * MIN, "c", "256"),
                // After the range: not a change of it.
                config(LATEST, 250 * MIN, "d", "256"),
            ],
            range(),
        );
        assert_eq!(
            details(&got),
            vec![
                (120, ChangeKind::AliasMoved, "live -> 3"),
                (130, ChangeKind::Updated, "$LATEST: memory 128 -> 256 MB"),
            ]
        );
    }
}
