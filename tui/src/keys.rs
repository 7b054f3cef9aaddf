//! Keys to actions, in one function, and the help that lists them.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::app::{Action, App, Edit, Screen};

/// The action a key asks for in the app's current state (typing or commanding), if any.
pub fn action(app: &App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    if app.typing() {
        return Some(match key.code {
            KeyCode::Enter => Action::Enter,
            KeyCode::Esc => Action::Back,
            KeyCode::Tab => Action::NextPanel,
            KeyCode::Backspace => Action::Edit(Edit::Backspace),
            KeyCode::Delete => Action::Edit(Edit::Delete),
            KeyCode::Left => Action::Edit(Edit::Left),
            KeyCode::Right => Action::Edit(Edit::Right),
            KeyCode::Home => Action::Edit(Edit::Home),
            KeyCode::End => Action::Edit(Edit::End),
            KeyCode::Up => Action::Edit(Edit::HistoryPrev),
            KeyCode::Down => Action::Edit(Edit::HistoryNext),
            KeyCode::Char('a') if ctrl => Action::Edit(Edit::Home),
            KeyCode::Char('e') if ctrl => Action::Edit(Edit::End),
            KeyCode::Char('u') if ctrl => Action::Edit(Edit::Clear),
            KeyCode::Char(c) if !ctrl => Action::Edit(Edit::Insert(c)),
            _ => return None,
        });
    }
    Some(match key.code {
        KeyCode::Char('d') if ctrl => Action::PageDown,
        KeyCode::Char('u') if ctrl => Action::PageUp,
        _ if ctrl => return None,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('k') | KeyCode::Up => Action::Up,
        KeyCode::Char('j') | KeyCode::Down => Action::Down,
        KeyCode::Char('h') | KeyCode::Left => Action::Left,
        // `l` scrolls the SQL result sideways, as `h` does; elsewhere it opens the logs.
        KeyCode::Char('l') if app.screen == Screen::Sql => Action::Right,
        KeyCode::Right => Action::Right,
        KeyCode::Char('l') => Action::GoLogs,
        KeyCode::Char('a') => Action::GoAmplification,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Char('g') | KeyCode::Home => Action::Top,
        KeyCode::Char('G') | KeyCode::End => Action::Bottom,
        KeyCode::Enter => Action::Enter,
        KeyCode::Esc | KeyCode::Backspace => Action::Back,
        KeyCode::Tab => Action::NextPanel,
        KeyCode::Char('t') => Action::TimePicker,
        KeyCode::Char('b') => Action::ToggleBaseline,
        KeyCode::Char('r') => Action::Refresh,
        KeyCode::Char('/') => Action::Filter,
        KeyCode::Char('y') => Action::Copy,
        KeyCode::Char('o') => Action::GoOverview,
        KeyCode::Char('s' | ':') => Action::GoSql,
        KeyCode::Char('e' | 'i') => Action::EditQuery,
        _ => return None,
    })
}

/// Every key, by where it works: what `?` shows and the README lists.
pub const HELP: &[(&str, &[(&str, &str)])] = &[
    (
        "Everywhere",
        &[
            ("?", "this help (j/k scroll it, any other key closes it)"),
            ("q, Ctrl-C", "quit"),
            ("Enter", "drill down: hop, trace; run the query"),
            (
                "Esc, Backspace",
                "back: close the prompt, leave the editor, last screen",
            ),
            ("t", "time range picker (j/k, Enter)"),
            ("b", "baseline on/off (the window before the range)"),
            ("r", "refresh (on the SQL screen: run the query again)"),
            (
                "/",
                "filter the list of this screen (Enter applies, empty clears)",
            ),
            ("y", "copy the selected id to the clipboard (OSC 52)"),
            ("o", "overview"),
            ("s, :", "SQL screen"),
            (
                "l",
                "logs of the range: search, patterns against the baseline",
            ),
            ("a", "amplification: extra work per request, by entry point"),
            ("Tab", "next panel"),
        ],
    ),
    (
        "Lists and tables",
        &[
            ("j, Down / k, Up", "next / previous row"),
            ("Ctrl-d, PgDn / Ctrl-u, PgUp", "page down / up"),
            ("g, Home / G, End", "first / last row"),
            (
                "h, Left / l, Right",
                "scroll columns (SQL result; elsewhere l opens the logs)",
            ),
        ],
    ),
    (
        "Overview",
        &[
            ("Tab", "next panel: slow hops, service map, alarms"),
            (
                "Enter",
                "the selected hop (or map edge): histogram, percentiles, traces",
            ),
            (
                "y",
                "copy the selected hop, map edge, or alarm (rule and key)",
            ),
        ],
    ),
    (
        "Hop",
        &[
            ("Tab", "next pane: slowest traces, why, changes, timeouts"),
            ("Enter", "the selected slowest trace"),
            ("y", "copy its trace id"),
            (
                "j / k",
                "why, changes, timeouts: scroll (Ctrl-d / Ctrl-u a page)",
            ),
        ],
    ),
    (
        "Trace",
        &[
            (
                "j / k",
                "select a span: its detail, annotations and error cause",
            ),
            ("Tab", "switch between the waterfall and the log lines"),
            ("/", "show only spans whose name, node or operation matches"),
            ("y", "copy the trace id"),
        ],
    ),
    (
        "Amplification",
        &[
            (
                "j / k",
                "select an entry point: its repeated calls and worst traces",
            ),
            ("Enter", "the selected entry point's worst trace"),
            ("y", "copy that trace's id"),
        ],
    ),
    (
        "Logs",
        &[
            (
                "/",
                "search: a Logs Insights query (filter level = \"ERROR\") or text in the line",
            ),
            ("Tab", "switch between the lines and the patterns (new: +)"),
            ("Enter", "the selected line's trace, at its invocation"),
            ("y", "copy the selected line or pattern"),
        ],
    ),
    (
        "SQL editor",
        &[
            ("e, i, Enter", "edit the query (from the result)"),
            ("Enter", "run the query"),
            ("Up / Down", "previous / next query of the history"),
            (
                "Left, Right, Home, End",
                "move the cursor (Ctrl-a, Ctrl-e too)",
            ),
            ("Ctrl-u", "clear the line"),
            ("Esc, Tab", "leave the editor for the result"),
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Options;
    use crate::data::{Anchor, TimeRange};

    fn app() -> App {
        App::new(
            Options {
                range: TimeRange {
                    span_secs: 3600,
                    anchor: Anchor::Now,
                },
                color: true,
                live: None,
                rules: Err("no rules".into()),
            },
            0,
        )
    }

    fn press(app: &App, code: KeyCode) -> Option<Action> {
        action(app, KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn vim_and_arrow_keys_navigate() {
        let app = app();
        for (a, b, want) in [
            (KeyCode::Char('j'), KeyCode::Down, Action::Down),
            (KeyCode::Char('k'), KeyCode::Up, Action::Up),
            (KeyCode::Char('h'), KeyCode::Left, Action::Left),
            (KeyCode::Char('g'), KeyCode::Home, Action::Top),
            (KeyCode::Char('G'), KeyCode::End, Action::Bottom),
        ] {
            assert_eq!(press(&app, a), Some(want.clone()));
            assert_eq!(press(&app, b), Some(want));
        }
        assert_eq!(press(&app, KeyCode::Char('l')), Some(Action::GoLogs));
        assert_eq!(press(&app, KeyCode::Right), Some(Action::Right));
        let mut sql = app.clone();
        sql.update(Action::GoSql);
        sql.update(Action::Back);
        assert_eq!(press(&sql, KeyCode::Char('l')), Some(Action::Right));
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        assert_eq!(action(&app, ctrl('d')), Some(Action::PageDown));
        assert_eq!(action(&app, ctrl('u')), Some(Action::PageUp));
        assert_eq!(action(&app, ctrl('c')), Some(Action::Quit));
        assert_eq!(action(&app, ctrl('x')), None);
    }

    #[test]
    fn typing_turns_letters_into_text() {
        let mut app = app();
        assert_eq!(press(&app, KeyCode::Char('q')), Some(Action::Quit));
        app.update(Action::Filter);
        assert_eq!(
            press(&app, KeyCode::Char('q')),
            Some(Action::Edit(Edit::Insert('q')))
        );
        assert_eq!(press(&app, KeyCode::Esc), Some(Action::Back));
        assert_eq!(press(&app, KeyCode::Enter), Some(Action::Enter));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action(&app, ctrl_c), Some(Action::Quit));
    }

    #[test]
    fn releases_are_ignored() {
        let app = app();
        let mut key = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
        key.kind = KeyEventKind::Release;
        assert_eq!(action(&app, key), None);
    }

    /// Help names every single-character command key that `action` knows, and nothing it does
    /// not.
    #[test]
    fn help_lists_every_command_key() {
        let app = app();
        let listed: String = HELP
            .iter()
            .flat_map(|(_, keys)| keys.iter().map(|(k, _)| format!(" {k} ")))
            .collect();
        for c in (' '..='~').filter(|c| !c.is_whitespace()) {
            let known = press(&app, KeyCode::Char(c)).is_some();
            let token = |t: &str| {
                listed.contains(&format!(" {t} "))
                    || listed.contains(&format!(" {t},"))
                    || listed.contains(&format!(" {t} /"))
            };
            assert_eq!(known, token(&c.to_string()), "key {c:?}");
        }
    }
}
