//! The starter pack of rules/, built into the library so that `hopscope demo` and the dashboard
//! show alarms from any directory, and tests use the same rules the binary ships.

use std::path::Path;

use super::parse::{self, Problem};
use super::rule::Rule;

/// rules/*.toml, by the path `hopscope alarms lint rules` reports them under.
const FILES: [(&str, &str); 3] = [
    (
        "rules/api-gateway.toml",
        include_str!("../../../rules/api-gateway.toml"),
    ),
    (
        "rules/lambda.toml",
        include_str!("../../../rules/lambda.toml"),
    ),
    (
        "rules/services.toml",
        include_str!("../../../rules/services.toml"),
    ),
];

/// The built-in starter pack, with its problems, as [`parse::load`] returns a directory's.
pub fn starter_pack() -> (Vec<Rule>, Vec<Problem>) {
    let (mut rules, mut problems) = (Vec::new(), Vec::new());
    for (file, text) in FILES {
        let (r, p) = parse::parse_file(Path::new(file), text);
        rules.extend(r);
        problems.extend(p);
    }
    parse::check_references(&mut rules, &mut problems);
    (rules, problems)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A file added to rules/ and not embedded would be linted and shipped apart from the pack.
    #[test]
    fn the_pack_is_every_rule_file_of_rules_and_has_no_problems() {
        let (rules, problems) = starter_pack();
        assert!(problems.is_empty(), "{problems:?}");
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../rules"));
        let (on_disk, problems) = parse::load(&dir).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let names = |rules: &[Rule]| rules.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&rules), names(&on_disk));
    }
}
