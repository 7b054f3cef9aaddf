//! All view state, and the one function that changes it: [`App::update`]. It does no I/O: what
//! should happen outside (a query, a clipboard write) comes back as [`Effect`]s.

use std::collections::BTreeMap;
use std::sync::Arc;

use hopscope_analyzer::alarms::Rule;
use hopscope_analyzer::amplification::AmplificationReport;
use hopscope_analyzer::changes::ChangesReport;
use hopscope_analyzer::hops::Hop;
use hopscope_analyzer::text::sanitize;
use hopscope_analyzer::timeouts::TimeoutReport;
use hopscope_analyzer::trace_detail::{Invocation, LogLine, TraceDetail};
use hopscope_analyzer::why::WhyReport;

use crate::data::{
    AlarmLine, Anchor, Answer, HopDetail, LogsResult, MapLine, Overview, Query, Request, Response,
    SqlResult, TimeRange, Window,
};

/// The screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Screen {
    Overview,
    Hop,
    Trace,
    Sql,
    Logs,
    Amplification,
}

impl Screen {
    pub fn title(self) -> &'static str {
        match self {
            Screen::Overview => "Overview",
            Screen::Hop => "Hop",
            Screen::Trace => "Trace",
            Screen::Sql => "SQL",
            Screen::Logs => "Logs",
            Screen::Amplification => "Amplification",
        }
    }
}

/// The panel of the overview that has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverviewFocus {
    Hops,
    Map,
    Alarms,
}

/// The hop screen: the hop as the overview ranked it, and its detail.
#[derive(Debug, Clone, PartialEq)]
pub struct HopView {
    pub hop: Hop,
    /// Its rank in the overview (0: the culprit).
    pub rank: usize,
    pub detail: Slot<HopDetail>,
    /// The window and baseline it was opened on: what a new terminal size asks again for.
    pub window: Window,
    pub baseline: Option<Window>,
    /// Selection in the slowest traces.
    pub traces: Cursor,
    /// What the lower half shows (Tab moves on).
    pub pane: HopPane,
    pub why: Slot<WhyReport>,
    pub changes: Slot<ChangesReport>,
    pub timeouts: Slot<TimeoutReport>,
    /// First line shown of the why, changes and timeouts panes.
    pub scroll: usize,
}

/// The lower half of the hop screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopPane {
    /// The slowest traces and the error types.
    Traces,
    /// What the slow calls have in common, and where their time went.
    Why,
    /// The callee's lanes and what changed before the first alarm.
    Changes,
    /// The hop's timeouts and what they waited on.
    Timeouts,
}

impl HopPane {
    pub const ALL: [HopPane; 4] = [
        HopPane::Traces,
        HopPane::Why,
        HopPane::Changes,
        HopPane::Timeouts,
    ];

    pub fn title(self) -> &'static str {
        match self {
            HopPane::Traces => "Traces",
            HopPane::Why => "Why",
            HopPane::Changes => "Changes",
            HopPane::Timeouts => "Timeouts",
        }
    }

    fn next(self) -> HopPane {
        let i = HopPane::ALL.iter().position(|&p| p == self).unwrap_or(0);
        HopPane::ALL[(i + 1) % HopPane::ALL.len()]
    }
}

/// The amplification screen: entry points ranked by the extra work per request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AmplificationView {
    pub report: Slot<AmplificationReport>,
    /// Selection among the entry points.
    pub entries: Cursor,
}

/// The trace screen.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceView {
    pub trace_id: String,
    pub detail: Slot<Option<Box<TraceDetail>>>,
    /// Indices of the spans that pass the filter (all of them without one).
    pub visible: Vec<usize>,
    pub spans: Cursor,
    /// Per span (by index), the Lambda invocation it belongs to: the nearest of itself and its
    /// ancestors whose request id is an invocation's.
    pub span_invocation: Vec<Option<usize>>,
    /// First log line shown.
    pub log_scroll: usize,
    /// Arrow keys scroll the logs rather than the spans.
    pub logs_focused: bool,
    /// The request whose invocation to select once the trace arrives (opened from a log line).
    pub focus_request: Option<String>,
}

impl TraceView {
    fn trace(&self) -> Option<&TraceDetail> {
        self.detail.data.as_ref().and_then(|d| d.as_deref())
    }

    /// The invocation of the selected span, if it belongs to one.
    pub fn selected_invocation(&self) -> Option<&Invocation> {
        let span = *self.visible.get(self.spans.selected)?;
        let i = (*self.span_invocation.get(span)?)?;
        self.trace()?.invocations.get(i)
    }

    /// The log lines beneath the waterfall: those of the selected span's invocation, else all
    /// of the trace's.
    pub fn visible_logs(&self) -> Vec<&LogLine> {
        self.trace()
            .map_or_else(Vec::new, |t| t.logs_of(self.selected_invocation()))
    }
}

/// The logs screen: the range's lines that match the search, newest first, the selected one in
/// full, and their patterns against the baseline's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogsView {
    /// What `/` searched for: a Logs Insights query (`filter level = "ERROR"`) or text.
    pub search: String,
    pub result: Slot<LogsResult>,
    pub lines: Cursor,
    pub patterns: Cursor,
    /// Arrow keys move in the patterns rather than the lines.
    pub patterns_focused: bool,
}

/// What a key asks for; keys map to actions in [`crate::keys::action`].
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Quit,
    /// The clock moved on (the run loop ticks a few times a second): progress timers advance.
    Tick(i64),
    /// The terminal's size, so paging moves by a screenful.
    Resize(u16, u16),
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Drill down into the selection (or run the query, pick the preset).
    Enter,
    /// Go back: close the overlay or prompt, leave the editor, or return to the last screen.
    Back,
    /// Move the focus to the next panel of the screen.
    NextPanel,
    Help,
    TimePicker,
    ToggleBaseline,
    Refresh,
    /// Open the `/` filter prompt of the screen.
    Filter,
    /// Copy the id of the selection to the clipboard.
    Copy,
    GoOverview,
    GoSql,
    GoLogs,
    GoAmplification,
    /// Start editing the SQL query.
    EditQuery,
    /// Text editing in the filter prompt or the SQL editor.
    Edit(Edit),
    /// An answer from the worker.
    Data(Response),
    /// The background collection of `hopscope tui --live` finished a window: refresh, and show
    /// its note.
    Live(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    Insert(char),
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    Clear,
    HistoryPrev,
    HistoryNext,
}

/// Something for the run loop to do outside the state.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Request(Request),
    Copy(String),
}

/// Data that is loaded, being loaded, or failed to load. Old data stays on screen while a
/// refresh runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot<T> {
    pub data: Option<T>,
    pub pending: Option<Pending>,
    pub error: Option<String>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            data: None,
            pending: None,
            error: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub id: u64,
    pub since_us: i64,
}

impl<T> Slot<T> {
    fn start(&mut self, id: u64, now_us: i64) {
        self.pending = Some(Pending {
            id,
            since_us: now_us,
        });
    }

    /// Takes the answer if it is to the request in flight; later requests win over earlier ones.
    fn finish(&mut self, id: u64, result: Result<T, String>) -> bool {
        if self.pending.map(|p| p.id) != Some(id) {
            return false;
        }
        self.pending = None;
        match result {
            Ok(data) => {
                self.data = Some(data);
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
        true
    }
}

/// A selection in a list and the first row shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub selected: usize,
    pub offset: usize,
}

impl Cursor {
    /// Moves by `delta` within `len` rows and scrolls so the selection stays in `rows` visible.
    fn step(&mut self, delta: isize, len: usize, rows: usize) {
        if len == 0 {
            *self = Cursor::default();
            return;
        }
        let target = (self.selected as isize + delta).clamp(0, len as isize - 1);
        self.selected = target as usize;
        self.offset = visible_offset(self.offset, self.selected, rows);
    }

    fn clamp(&mut self, len: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
        self.offset = self.offset.min(self.selected);
    }
}

/// The first row to show so that `selected` is among `rows` rows, moving `offset` as little as
/// possible. Rendering calls it with the real height, so a stale offset never hides the selection.
pub fn visible_offset(offset: usize, selected: usize, rows: usize) -> usize {
    let rows = rows.max(1);
    if selected < offset {
        selected
    } else if selected >= offset + rows {
        selected + 1 - rows
    } else {
        offset
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help { scroll: usize },
    TimePicker { selected: usize },
}

/// The query the SQL screen offers while its editor is empty.
pub const SQL_EXAMPLE: &str = "SELECT * FROM traces ORDER BY duration_ms DESC LIMIT 100";

/// The SQL screen: the editor, its history and the last result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlView {
    pub input: String,
    /// Cursor position in `input`, in characters.
    pub cursor: usize,
    pub editing: bool,
    pub history: Vec<String>,
    history_pos: Option<usize>,
    pub result: Slot<SqlResult>,
    /// The query whose result is shown.
    pub ran: Option<String>,
    pub rows: Cursor,
    /// First result column shown (`h`/`l` scroll sideways).
    pub column: usize,
}

/// How the dashboard starts.
#[derive(Debug, Clone)]
pub struct Options {
    pub range: TimeRange,
    /// Colours on (off with NO_COLOR): meaning never rests on colour alone.
    pub color: bool,
    /// The note shown while `--live` collects in the background.
    pub live: Option<String>,
    /// The alarm rules of the overview's panel, or why there are none (the panel says it).
    pub rules: Result<Arc<Vec<Rule>>, String>,
}

#[derive(Debug, Clone)]
pub struct App {
    pub screen: Screen,
    /// Screens to return to with Esc.
    pub back: Vec<Screen>,
    pub now_us: i64,
    pub range: TimeRange,
    /// Compare with the window before the current one.
    pub baseline: bool,
    pub color: bool,
    pub size: (u16, u16),
    pub overview: Slot<Overview>,
    pub focus: OverviewFocus,
    pub hops: Cursor,
    pub map: Cursor,
    pub rules: Result<Arc<Vec<Rule>>, String>,
    /// Every alarm's state as at the end of the range, in the panel's order.
    pub alarms: Slot<Vec<AlarmLine>>,
    /// Selection in the alarms panel.
    pub alarm: Cursor,
    pub hop: Option<HopView>,
    pub trace: Option<TraceView>,
    pub sql: SqlView,
    pub logs: LogsView,
    pub amplification: AmplificationView,
    /// The `/` filter of each screen.
    pub filters: BTreeMap<Screen, String>,
    /// The filter being typed, when the prompt is open.
    pub prompt: Option<String>,
    pub overlay: Option<Overlay>,
    /// A one-line note for the status bar (copied ids, errors of effects).
    pub note: Option<String>,
    pub live: Option<String>,
    pub quit: bool,
    next_id: u64,
}

impl App {
    pub fn new(options: Options, now_us: i64) -> App {
        App {
            screen: Screen::Overview,
            back: Vec::new(),
            now_us,
            range: options.range,
            baseline: true,
            color: options.color,
            size: (80, 24),
            overview: Slot::default(),
            focus: OverviewFocus::Hops,
            hops: Cursor::default(),
            map: Cursor::default(),
            rules: options.rules,
            alarms: Slot::default(),
            alarm: Cursor::default(),
            hop: None,
            trace: None,
            // The editor starts empty, so what the user types is the query; the example is
            // shown as a placeholder and is the first entry of the history (↑ recalls it).
            sql: SqlView {
                history: vec![SQL_EXAMPLE.into()],
                ..SqlView::default()
            },
            logs: LogsView::default(),
            amplification: AmplificationView::default(),
            filters: BTreeMap::new(),
            prompt: None,
            overlay: None,
            note: None,
            live: options.live,
            quit: false,
            next_id: 0,
        }
    }

    /// The requests that fill the first screen.
    pub fn start(&mut self) -> Vec<Effect> {
        self.refresh()
    }

    /// Whether keys type text (the filter prompt or the SQL editor) rather than command.
    pub fn typing(&self) -> bool {
        self.prompt.is_some() || (self.screen == Screen::Sql && self.sql.editing)
    }

    /// The `/` text of the screen: its filter, or on the logs screen its search.
    pub fn filter(&self) -> &str {
        if self.screen == Screen::Logs {
            return &self.logs.search;
        }
        self.filters.get(&self.screen).map_or("", String::as_str)
    }

    /// The map lines the overview shows, after its filter.
    pub fn visible_map(&self) -> Vec<&MapLine> {
        let filter = self
            .filters
            .get(&Screen::Overview)
            .map(|f| f.to_lowercase());
        self.overview.data.as_ref().map_or_else(Vec::new, |o| {
            o.map
                .iter()
                .filter(|l| match &filter {
                    Some(f) => {
                        l.node.to_lowercase().contains(f.as_str())
                            || l.caller
                                .as_deref()
                                .is_some_and(|c| c.to_lowercase().contains(f.as_str()))
                    }
                    None => true,
                })
                .collect()
        })
    }

    /// The alarms the panel lists, after the overview's filter (on rule and key).
    pub fn visible_alarms(&self) -> Vec<&AlarmLine> {
        let filter = self
            .filters
            .get(&Screen::Overview)
            .map(|f| f.to_lowercase());
        self.alarms.data.as_ref().map_or_else(Vec::new, |lines| {
            lines
                .iter()
                .filter(|a| match &filter {
                    Some(f) => {
                        a.rule.to_lowercase().contains(f.as_str())
                            || a.key.to_lowercase().contains(f.as_str())
                    }
                    None => true,
                })
                .collect()
        })
    }

    /// The ranked hops the overview shows, after its filter, with their rank.
    pub fn visible_hops(&self) -> Vec<(usize, &Hop)> {
        let filter = self
            .filters
            .get(&Screen::Overview)
            .map(|f| f.to_lowercase());
        let Some(report) = self.overview.data.as_ref().and_then(|o| o.report.as_ref()) else {
            return Vec::new();
        };
        report
            .hops
            .iter()
            .enumerate()
            .filter(|(_, h)| match &filter {
                Some(f) => {
                    h.callee.to_lowercase().contains(f.as_str())
                        || h.caller
                            .as_deref()
                            .is_some_and(|c| c.to_lowercase().contains(f.as_str()))
                }
                None => true,
            })
            .collect()
    }

    /// Indices of the SQL result rows that pass the filter.
    pub fn visible_rows(&self) -> Vec<usize> {
        let Some(result) = &self.sql.result.data else {
            return Vec::new();
        };
        let filter = self.filters.get(&Screen::Sql).map(|f| f.to_lowercase());
        (0..result.table.rows.len())
            .filter(|&i| match &filter {
                Some(f) => result.table.rows[i]
                    .iter()
                    .any(|c| c.to_lowercase().contains(f.as_str())),
                None => true,
            })
            .collect()
    }

    /// Rows a list shows on this terminal, roughly: paging moves by this much.
    fn page(&self) -> usize {
        (self.size.1 as usize).saturating_sub(8).max(1)
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Quit => {
                self.quit = true;
                return Vec::new();
            }
            Action::Tick(now_us) => {
                self.now_us = now_us;
                return Vec::new();
            }
            Action::Resize(w, h) => {
                let before = self.size;
                self.size = (w, h);
                return self.refetch_for_size(before);
            }
            Action::Data(response) => return self.receive(response),
            Action::Live(note) => {
                self.live = Some(note);
                return self.refresh();
            }
            _ => {}
        }
        if let Some(overlay) = self.overlay.take() {
            return self.update_overlay(overlay, action);
        }
        if let Some(prompt) = self.prompt.take() {
            return self.update_prompt(prompt, action);
        }
        if self.screen == Screen::Sql && self.sql.editing {
            return self.update_editor(action);
        }
        self.note = None;
        match action {
            Action::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Action::TimePicker => {
                let selected = TimeRange::PRESETS
                    .iter()
                    .position(|&s| s == self.range.span_secs)
                    .unwrap_or(1);
                self.overlay = Some(Overlay::TimePicker { selected });
            }
            Action::ToggleBaseline => {
                self.baseline = !self.baseline;
                return self.refresh();
            }
            Action::Refresh => {
                if self.screen == Screen::Sql {
                    return self.run_query();
                }
                return self.refresh();
            }
            Action::Filter => self.prompt = Some(self.filter().to_string()),
            Action::Back => self.go_back(),
            Action::GoOverview => self.go_to(Screen::Overview),
            Action::GoSql => {
                self.go_to(Screen::Sql);
                self.sql.editing = true;
            }
            Action::GoLogs => {
                self.go_to(Screen::Logs);
                let logs = &self.logs.result;
                if logs.data.is_none() && logs.pending.is_none() {
                    return self.load_logs();
                }
            }
            Action::GoAmplification => {
                self.go_to(Screen::Amplification);
                let slot = &self.amplification.report;
                if slot.data.is_none() && slot.pending.is_none() {
                    return self.load_amplification();
                }
            }
            Action::Copy => return self.copy(),
            other => return self.update_screen(other),
        }
        Vec::new()
    }

    fn update_screen(&mut self, action: Action) -> Vec<Effect> {
        let page = self.page();
        let delta = |len: usize| -> Option<isize> {
            Some(match action {
                Action::Up => -1,
                Action::Down => 1,
                Action::PageUp => -(page as isize),
                Action::PageDown => page as isize,
                Action::Top => -(len as isize),
                Action::Bottom => len as isize,
                _ => return None,
            })
        };
        match self.screen {
            Screen::Overview => match (self.focus, &action) {
                (_, Action::NextPanel) => {
                    self.focus = match self.focus {
                        OverviewFocus::Hops => OverviewFocus::Map,
                        OverviewFocus::Map => OverviewFocus::Alarms,
                        OverviewFocus::Alarms => OverviewFocus::Hops,
                    }
                }
                (OverviewFocus::Alarms, Action::Enter) => {
                    self.note = Some("y copies the alarm's rule and key".into());
                }
                (_, Action::Enter) => return self.open_hop(),
                (OverviewFocus::Hops, _) => {
                    let len = self.visible_hops().len();
                    if let Some(d) = delta(len) {
                        self.hops.step(d, len, page / 2);
                    }
                }
                (OverviewFocus::Map, _) => {
                    let len = self.visible_map().len();
                    if let Some(d) = delta(len) {
                        self.map.step(d, len, page / 2);
                    }
                }
                (OverviewFocus::Alarms, _) => {
                    let len = self.visible_alarms().len();
                    if let Some(d) = delta(len) {
                        self.alarm.step(d, len, page / 4);
                    }
                }
            },
            Screen::Hop => {
                let Some(view) = &mut self.hop else {
                    return Vec::new();
                };
                if action == Action::NextPanel {
                    view.pane = view.pane.next();
                    view.scroll = 0;
                    return Vec::new();
                }
                if view.pane != HopPane::Traces {
                    // The other panes are read, not picked from: the keys scroll them.
                    if let Some(d) = delta(usize::MAX / 2) {
                        view.scroll = view.scroll.saturating_add_signed(d);
                    }
                    return Vec::new();
                }
                let len = view.hop.slowest_traces.len();
                if let Some(d) = delta(len) {
                    view.traces.step(d, len, page);
                }
                if action == Action::Enter
                    && let Some(t) = view.hop.slowest_traces.get(view.traces.selected)
                {
                    let trace_id = t.trace_id.clone();
                    return self.open_trace(trace_id);
                }
            }
            Screen::Amplification => {
                let view = &mut self.amplification;
                let entries = view
                    .report
                    .data
                    .as_ref()
                    .map_or(&[][..], |r| &r.entry_points[..]);
                let len = entries.len();
                if action == Action::Enter {
                    let Some(trace) = entries
                        .get(view.entries.selected)
                        .and_then(|e| e.worst_traces.first())
                    else {
                        return Vec::new();
                    };
                    let trace_id = trace.trace_id.clone();
                    return self.open_trace(trace_id);
                }
                if let Some(d) = delta(len) {
                    view.entries.step(d, len, page / 3);
                }
            }
            Screen::Trace => {
                let Some(view) = &mut self.trace else {
                    return Vec::new();
                };
                if action == Action::NextPanel {
                    view.logs_focused = !view.logs_focused;
                } else if view.logs_focused {
                    let lines = view.visible_logs().len();
                    if let Some(d) = delta(lines) {
                        view.log_scroll = (view.log_scroll as isize + d)
                            .clamp(0, lines.saturating_sub(1) as isize)
                            as usize;
                    }
                } else {
                    let len = view.visible.len();
                    if let Some(d) = delta(len) {
                        let before = view.spans.selected;
                        view.spans.step(d, len, page);
                        // Another span may belong to another request: its logs from the top.
                        if view.spans.selected != before {
                            view.log_scroll = 0;
                        }
                    }
                }
            }
            Screen::Sql => {
                let len = self.visible_rows().len();
                if let Some(d) = delta(len) {
                    self.sql.rows.step(d, len, page);
                }
                let columns = self
                    .sql
                    .result
                    .data
                    .as_ref()
                    .map_or(0, |r| r.table.columns.len());
                match action {
                    Action::Left => self.sql.column = self.sql.column.saturating_sub(1),
                    Action::Right => {
                        self.sql.column = (self.sql.column + 1).min(columns.saturating_sub(1));
                    }
                    Action::EditQuery | Action::Enter => self.sql.editing = true,
                    _ => {}
                }
            }
            Screen::Logs => {
                let view = &mut self.logs;
                let (lines, patterns) = view
                    .result
                    .data
                    .as_ref()
                    .map_or((0, 0), |r| (r.lines.len(), r.patterns.len()));
                match action {
                    Action::NextPanel => view.patterns_focused = !view.patterns_focused,
                    Action::Enter if view.patterns_focused => {
                        self.note = Some("Enter on a log line opens its trace".into());
                    }
                    Action::Enter => {
                        let line = view
                            .result
                            .data
                            .as_ref()
                            .and_then(|r| r.lines.get(view.lines.selected));
                        let Some(line) = line else {
                            return Vec::new();
                        };
                        let Some(trace_id) = line.trace_id.clone() else {
                            self.note = Some("No X-Ray trace for this line's request".into());
                            return Vec::new();
                        };
                        let request = line.request_id.clone();
                        let effects = self.open_trace(trace_id);
                        if let Some(t) = &mut self.trace {
                            t.focus_request = request;
                        }
                        return effects;
                    }
                    _ if view.patterns_focused => {
                        if let Some(d) = delta(patterns) {
                            view.patterns.step(d, patterns, page);
                        }
                    }
                    _ => {
                        if let Some(d) = delta(lines) {
                            view.lines.step(d, lines, page);
                        }
                    }
                }
            }
        }
        Vec::new()
    }

    fn update_overlay(&mut self, overlay: Overlay, action: Action) -> Vec<Effect> {
        match overlay {
            Overlay::Help { scroll } => match action {
                Action::Down => self.overlay = Some(Overlay::Help { scroll: scroll + 1 }),
                Action::Up => {
                    self.overlay = Some(Overlay::Help {
                        scroll: scroll.saturating_sub(1),
                    });
                }
                Action::PageDown => {
                    self.overlay = Some(Overlay::Help {
                        scroll: scroll + self.page(),
                    });
                }
                Action::PageUp => {
                    self.overlay = Some(Overlay::Help {
                        scroll: scroll.saturating_sub(self.page()),
                    });
                }
                // Any other key closes help.
                _ => {}
            },
            Overlay::TimePicker { selected } => {
                let last = TimeRange::PRESETS.len() - 1;
                match action {
                    Action::Up => {
                        self.overlay = Some(Overlay::TimePicker {
                            selected: selected.saturating_sub(1),
                        });
                    }
                    Action::Down => {
                        self.overlay = Some(Overlay::TimePicker {
                            selected: (selected + 1).min(last),
                        });
                    }
                    Action::Enter => {
                        self.range.span_secs = TimeRange::PRESETS[selected.min(last)];
                        return self.refresh();
                    }
                    Action::Back | Action::TimePicker => {}
                    _ => self.overlay = Some(Overlay::TimePicker { selected }),
                }
            }
        }
        Vec::new()
    }

    fn update_prompt(&mut self, mut text: String, action: Action) -> Vec<Effect> {
        match action {
            Action::Edit(Edit::Insert(c)) => text.push(c),
            Action::Edit(Edit::Backspace) => {
                text.pop();
            }
            Action::Edit(Edit::Clear) => text.clear(),
            Action::Enter => return self.set_filter(text),
            Action::Back => return Vec::new(),
            _ => {}
        }
        self.prompt = Some(text);
        Vec::new()
    }

    fn set_filter(&mut self, text: String) -> Vec<Effect> {
        // The logs screen searches the store; the others filter what they hold.
        if self.screen == Screen::Logs {
            self.logs.search = text;
            return self.load_logs();
        }
        if text.is_empty() {
            self.filters.remove(&self.screen);
        } else {
            self.filters.insert(self.screen, text);
        }
        match self.screen {
            Screen::Overview => {
                self.hops = Cursor::default();
                self.map = Cursor::default();
                self.alarm = Cursor::default();
            }
            Screen::Hop => {}
            Screen::Trace => {
                if let Some(view) = &mut self.trace {
                    view.visible = visible_spans(&view.detail, self.filters.get(&Screen::Trace));
                    view.spans = Cursor::default();
                    view.log_scroll = 0;
                }
            }
            Screen::Sql => self.sql.rows = Cursor::default(),
            Screen::Logs | Screen::Amplification => {}
        }
        Vec::new()
    }

    /// The hop screen of the selected hop (or map edge).
    fn open_hop(&mut self) -> Vec<Effect> {
        let Some(window) = self.overview.data.as_ref().and_then(|o| o.window) else {
            return Vec::new();
        };
        let picked = match self.focus {
            OverviewFocus::Hops => self
                .visible_hops()
                .get(self.hops.selected)
                .map(|&(rank, h)| (rank, h.clone())),
            OverviewFocus::Alarms => return Vec::new(),
            OverviewFocus::Map => {
                let lines = self.visible_map();
                let line = lines.get(self.map.selected).copied();
                self.visible_hops()
                    .into_iter()
                    // Map lines hold sanitized names, hops the stored ones.
                    .find(|(_, h)| {
                        line.is_some_and(|l| {
                            sanitize(&h.callee) == l.node
                                && h.caller.as_deref().map(sanitize) == l.caller
                        })
                    })
                    .map(|(rank, h)| (rank, h.clone()))
            }
        };
        let Some((rank, hop)) = picked else {
            self.note = Some("No hop data for this line in the range".into());
            return Vec::new();
        };
        let baseline = self
            .overview
            .data
            .as_ref()
            .and_then(|o| o.report.as_ref())
            .and_then(|r| r.baseline);
        let mut view = HopView {
            hop,
            rank,
            detail: Slot::default(),
            window,
            baseline,
            traces: Cursor::default(),
            pane: self.hop.as_ref().map_or(HopPane::Traces, |v| v.pane),
            why: Slot::default(),
            changes: Slot::default(),
            timeouts: Slot::default(),
            scroll: 0,
        };
        // The detail, and the panes below it, each as its own request: the histogram shows
        // while why and the changes are still being worked out.
        let queries = vec![
            self.detail_query(&view),
            Query::Why {
                hop: Box::new(view.hop.clone()),
                window,
                baseline,
            },
            self.changes_query(&view),
            Query::Timeouts { window },
        ];
        let effects = self.start_hop_queries(&mut view, queries);
        self.hop = Some(view);
        self.go_to(Screen::Hop);
        effects
    }

    /// The hop's histogram, with a bar per row the terminal has for it.
    fn detail_query(&self, view: &HopView) -> Query {
        Query::Hop {
            hop: Box::new(view.hop.clone()),
            window: view.window,
            baseline: view.baseline,
            buckets: crate::ui::hop::histogram_rows(self.size.1),
        }
    }

    /// The changes of the callee (else the caller), with a lane point per column the terminal
    /// has for it.
    fn changes_query(&self, view: &HopView) -> Query {
        Query::Changes {
            functions: std::iter::once(view.hop.callee.clone())
                .chain(view.hop.caller.clone())
                .collect(),
            window: view.window,
            rules: self
                .rules
                .as_ref()
                .map_or_else(|_| Arc::default(), Arc::clone),
            points: crate::ui::changes::lane_points(self.size.0),
        }
    }

    /// Requests `queries` of the hop screen, each into its slot of `view`.
    fn start_hop_queries(&mut self, view: &mut HopView, queries: Vec<Query>) -> Vec<Effect> {
        let mut effects = Vec::new();
        for query in queries {
            let id = self.next_request();
            match query {
                Query::Hop { .. } => view.detail.start(id, self.now_us),
                Query::Why { .. } => view.why.start(id, self.now_us),
                Query::Changes { .. } => view.changes.start(id, self.now_us),
                _ => view.timeouts.start(id, self.now_us),
            }
            effects.push(Effect::Request(Request { id, query }));
        }
        effects
    }

    /// The hop screen's histogram has a bar per row and its lanes a point per column: a new
    /// size asks for them again (what is on screen stays until the answers arrive).
    fn refetch_for_size(&mut self, before: (u16, u16)) -> Vec<Effect> {
        let Some(mut view) = self.hop.take() else {
            return Vec::new();
        };
        let mut queries = Vec::new();
        if crate::ui::hop::histogram_rows(before.1) != crate::ui::hop::histogram_rows(self.size.1) {
            queries.push(self.detail_query(&view));
        }
        if crate::ui::changes::lane_points(before.0) != crate::ui::changes::lane_points(self.size.0)
        {
            queries.push(self.changes_query(&view));
        }
        let effects = self.start_hop_queries(&mut view, queries);
        self.hop = Some(view);
        effects
    }

    /// The amplification of the overview's window.
    fn load_amplification(&mut self) -> Vec<Effect> {
        let Some(window) = self.overview.data.as_ref().and_then(|o| o.window) else {
            self.note = Some("No data in the range yet".into());
            return Vec::new();
        };
        let id = self.next_request();
        self.amplification.report.start(id, self.now_us);
        vec![Effect::Request(Request {
            id,
            query: Query::Amplification { window },
        })]
    }

    fn open_trace(&mut self, trace_id: String) -> Vec<Effect> {
        let id = self.next_request();
        let mut detail = Slot::default();
        detail.start(id, self.now_us);
        self.trace = Some(TraceView {
            trace_id: trace_id.clone(),
            detail,
            visible: Vec::new(),
            spans: Cursor::default(),
            span_invocation: Vec::new(),
            log_scroll: 0,
            logs_focused: false,
            focus_request: None,
        });
        self.go_to(Screen::Trace);
        vec![Effect::Request(Request {
            id,
            query: Query::Trace { trace_id },
        })]
    }

    fn update_editor(&mut self, action: Action) -> Vec<Effect> {
        let sql = &mut self.sql;
        let len = sql.input.chars().count();
        match action {
            Action::Edit(edit) => match edit {
                Edit::Insert(c) => {
                    let at = byte_index(&sql.input, sql.cursor);
                    sql.input.insert(at, c);
                    sql.cursor += 1;
                }
                Edit::Backspace if sql.cursor > 0 => {
                    let at = byte_index(&sql.input, sql.cursor - 1);
                    sql.input.remove(at);
                    sql.cursor -= 1;
                }
                Edit::Delete if sql.cursor < len => {
                    let at = byte_index(&sql.input, sql.cursor);
                    sql.input.remove(at);
                }
                Edit::Left => sql.cursor = sql.cursor.saturating_sub(1),
                Edit::Right => sql.cursor = (sql.cursor + 1).min(len),
                Edit::Home => sql.cursor = 0,
                Edit::End => sql.cursor = len,
                Edit::Clear => {
                    sql.input.clear();
                    sql.cursor = 0;
                }
                Edit::HistoryPrev | Edit::HistoryNext => {
                    if sql.history.is_empty() {
                        return Vec::new();
                    }
                    let last = sql.history.len() - 1;
                    let pos = match (edit, sql.history_pos) {
                        (Edit::HistoryPrev, None) => last,
                        (Edit::HistoryPrev, Some(p)) => p.saturating_sub(1),
                        (_, None) => return Vec::new(),
                        (_, Some(p)) => (p + 1).min(last),
                    };
                    sql.history_pos = Some(pos);
                    sql.input = sql.history[pos].clone();
                    sql.cursor = sql.input.chars().count();
                }
                _ => {}
            },
            Action::Enter => return self.run_query(),
            Action::Back | Action::NextPanel => sql.editing = false,
            _ => {}
        }
        Vec::new()
    }

    fn run_query(&mut self) -> Vec<Effect> {
        let text = self
            .sql
            .input
            .trim()
            .trim_end_matches(';')
            .trim()
            .to_string();
        if text.is_empty() {
            return Vec::new();
        }
        if self.sql.history.last() != Some(&text) {
            self.sql.history.push(text.clone());
        }
        self.sql.history_pos = None;
        self.sql.editing = false;
        self.sql.ran = Some(text.clone());
        let id = self.next_request();
        self.sql.result.start(id, self.now_us);
        vec![Effect::Request(Request {
            id,
            query: Query::Sql { text },
        })]
    }

    /// The logs screen's lines and patterns for the range, the baseline and the search.
    fn load_logs(&mut self) -> Vec<Effect> {
        let id = self.next_request();
        self.logs.result.start(id, self.now_us);
        vec![Effect::Request(Request {
            id,
            query: Query::Logs {
                range: self.range,
                now_us: self.now_us,
                search: self.logs.search.clone(),
                baseline: self.baseline,
            },
        })]
    }

    /// Reloads what the screens show for the current range and baseline: the overview, the
    /// alarms when there are rules, and the logs once their screen was opened (with `--live`,
    /// the new lines: a live tail). An open hop screen keeps the data it has: it is reopened
    /// from the new overview.
    fn refresh(&mut self) -> Vec<Effect> {
        let id = self.next_request();
        self.overview.start(id, self.now_us);
        let mut effects = vec![Effect::Request(Request {
            id,
            query: Query::Overview {
                range: self.range,
                now_us: self.now_us,
                baseline: self.baseline,
            },
        })];
        if let Ok(rules) = &self.rules
            && !rules.is_empty()
        {
            let query = Query::Alarms {
                rules: Arc::clone(rules),
                range: self.range,
                now_us: self.now_us,
            };
            let id = self.next_request();
            self.alarms.start(id, self.now_us);
            effects.push(Effect::Request(Request { id, query }));
        }
        if self.screen == Screen::Logs || self.logs.result.data.is_some() {
            effects.extend(self.load_logs());
        }
        // Its window comes with the new overview: it is asked for again when that arrives.
        if self.amplification.report.data.is_some() || self.screen == Screen::Amplification {
            self.amplification = AmplificationView::default();
        }
        effects
    }

    /// Takes an answer in; what it makes necessary (the amplification of a new window) comes
    /// back as effects.
    fn receive(&mut self, response: Response) -> Vec<Effect> {
        let Response { id, result } = response;
        match result {
            Ok(Answer::Overview(o)) => {
                if self.overview.finish(id, Ok(*o)) {
                    let len = self.visible_map().len();
                    self.map.clamp(len);
                    let len = self.visible_hops().len();
                    self.hops.clamp(len);
                    let slot = &self.amplification.report;
                    if self.screen == Screen::Amplification
                        && slot.data.is_none()
                        && slot.pending.is_none()
                    {
                        return self.load_amplification();
                    }
                }
            }
            Ok(Answer::Alarms(lines)) => {
                if self.alarms.finish(id, Ok(lines)) {
                    let len = self.visible_alarms().len();
                    self.alarm.clamp(len);
                }
            }
            Ok(Answer::Hop(h)) => {
                if let Some(view) = &mut self.hop {
                    view.detail.finish(id, Ok(*h));
                }
            }
            Ok(Answer::Why(r)) => {
                if let Some(view) = &mut self.hop {
                    view.why.finish(id, Ok(*r));
                }
            }
            Ok(Answer::Changes(r)) => {
                if let Some(view) = &mut self.hop {
                    view.changes.finish(id, Ok(*r));
                }
            }
            Ok(Answer::Timeouts(r)) => {
                if let Some(view) = &mut self.hop {
                    view.timeouts.finish(id, Ok(*r));
                }
            }
            Ok(Answer::Amplification(r)) => {
                if self.amplification.report.finish(id, Ok(*r)) {
                    let len = self
                        .amplification
                        .report
                        .data
                        .as_ref()
                        .map_or(0, |r| r.entry_points.len());
                    self.amplification.entries.clamp(len);
                }
            }
            Ok(Answer::Trace(t)) => {
                if let Some(view) = &mut self.trace
                    && view.detail.finish(id, Ok(t))
                {
                    view.visible = visible_spans(&view.detail, self.filters.get(&Screen::Trace));
                    view.span_invocation = view
                        .trace()
                        .map(TraceDetail::span_invocations)
                        .unwrap_or_default();
                    view.spans = Cursor::default();
                    // Opened from a log line: its invocation's first span.
                    if let Some(request) = view.focus_request.take() {
                        let invocations = view.trace().map(|t| &t.invocations);
                        let at = view.visible.iter().position(|&span| {
                            view.span_invocation
                                .get(span)
                                .copied()
                                .flatten()
                                .and_then(|i| invocations?.get(i))
                                .is_some_and(|inv| inv.request_id == request)
                        });
                        if let Some(at) = at {
                            view.spans.selected = at;
                        }
                    }
                }
            }
            Ok(Answer::Sql(r)) => {
                if self.sql.result.finish(id, Ok(r)) {
                    self.sql.rows = Cursor::default();
                    self.sql.column = 0;
                }
            }
            Ok(Answer::Logs(l)) => {
                if self.logs.result.finish(id, Ok(*l)) {
                    let data = self.logs.result.data.as_ref();
                    self.logs.lines.clamp(data.map_or(0, |r| r.lines.len()));
                    self.logs
                        .patterns
                        .clamp(data.map_or(0, |r| r.patterns.len()));
                }
            }
            Err(e) => {
                // An error belongs to whichever slot waits for this id.
                let hop = self.hop.as_mut();
                let trace = self.trace.as_mut();
                let _ = self.overview.finish(id, Err(e.clone()))
                    || self.alarms.finish(id, Err(e.clone()))
                    || self.sql.result.finish(id, Err(e.clone()))
                    || self.logs.result.finish(id, Err(e.clone()))
                    || self.amplification.report.finish(id, Err(e.clone()))
                    || trace.is_some_and(|t| t.detail.finish(id, Err(e.clone())))
                    || hop.is_some_and(|h| {
                        h.detail.finish(id, Err(e.clone()))
                            || h.why.finish(id, Err(e.clone()))
                            || h.changes.finish(id, Err(e.clone()))
                            || h.timeouts.finish(id, Err(e))
                    });
            }
        }
        Vec::new()
    }

    fn copy(&mut self) -> Vec<Effect> {
        let text = match self.screen {
            Screen::Overview if self.focus == OverviewFocus::Hops => {
                let hops = self.visible_hops();
                hops.get(self.hops.selected).map(|(_, h)| {
                    format!(
                        "{} -> {}",
                        h.caller.as_deref().unwrap_or("client"),
                        h.callee
                    )
                })
            }
            Screen::Overview if self.focus == OverviewFocus::Alarms => {
                let alarms = self.visible_alarms();
                alarms
                    .get(self.alarm.selected)
                    .map(|a| format!("{} {}", a.rule, a.key))
            }
            Screen::Overview => {
                let lines = self.visible_map();
                lines.get(self.map.selected).map(|l| match &l.caller {
                    Some(c) => format!("{c} -> {}", l.node),
                    None => l.node.clone(),
                })
            }
            Screen::Hop => self.hop.as_ref().and_then(|v| {
                v.hop
                    .slowest_traces
                    .get(v.traces.selected)
                    .map(|t| t.trace_id.clone())
            }),
            Screen::Trace => self.trace.as_ref().map(|v| v.trace_id.clone()),
            Screen::Sql => {
                let rows = self.visible_rows();
                self.sql.result.data.as_ref().and_then(|r| {
                    let row = &r.table.rows[*rows.get(self.sql.rows.selected)?];
                    row.get(self.sql.column).cloned()
                })
            }
            Screen::Amplification => self.amplification.report.data.as_ref().and_then(|r| {
                let entry = r.entry_points.get(self.amplification.entries.selected)?;
                entry.worst_traces.first().map(|t| t.trace_id.clone())
            }),
            Screen::Logs => self.logs.result.data.as_ref().and_then(|r| {
                if self.logs.patterns_focused {
                    r.patterns
                        .get(self.logs.patterns.selected)
                        .map(|p| p.pattern.clone())
                } else {
                    r.lines
                        .get(self.logs.lines.selected)
                        .map(|l| l.message.clone())
                }
            }),
        };
        match text {
            Some(t) => {
                self.note = Some(format!("Copied {t}"));
                vec![Effect::Copy(t)]
            }
            None => {
                self.note = Some("Nothing selected to copy".into());
                Vec::new()
            }
        }
    }

    fn go_to(&mut self, screen: Screen) {
        if self.screen != screen {
            self.back.push(self.screen);
            self.screen = screen;
        }
    }

    fn go_back(&mut self) {
        if let Some(screen) = self.back.pop() {
            self.screen = screen;
        }
    }

    fn next_request(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A label of the range: `last 1h` (of data, when anchored at the newest span).
    pub fn range_label(&self) -> String {
        match self.range.anchor {
            Anchor::Now => format!("last {}", self.range.span_label()),
            Anchor::LatestData => format!("last {} of data", self.range.span_label()),
        }
    }
}

/// Indices of the spans whose name, service or operation contains the filter.
fn visible_spans(detail: &Slot<Option<Box<TraceDetail>>>, filter: Option<&String>) -> Vec<usize> {
    let Some(Some(trace)) = &detail.data else {
        return Vec::new();
    };
    match filter.map(|f| f.to_lowercase()) {
        None => (0..trace.spans.len()).collect(),
        Some(f) => trace
            .spans
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.name.to_lowercase().contains(&f)
                    || s.service.to_lowercase().contains(&f)
                    || s.aws_operation
                        .as_deref()
                        .is_some_and(|o| o.to_lowercase().contains(&f))
            })
            .map(|(i, _)| i)
            .collect(),
    }
}

fn byte_index(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use hopscope_analyzer::text::TextTable;

    use hopscope_analyzer::alarms::{Severity, State};
    use hopscope_analyzer::trace_detail::{SpanPart, WaterfallSpan};

    use super::*;
    use crate::data::{Health, Window};

    fn app() -> App {
        let mut app = App::new(
            Options {
                range: TimeRange {
                    span_secs: 3600,
                    anchor: Anchor::LatestData,
                },
                color: false,
                live: None,
                rules: Err("no rules".into()),
            },
            1_000,
        );
        app.update(Action::Resize(80, 24));
        app
    }

    fn line(caller: Option<&str>, node: &str) -> MapLine {
        MapLine {
            depth: u16::from(caller.is_some()),
            caller: caller.map(Into::into),
            node: node.into(),
            node_type: None,
            requests: 10,
            errors: 0,
            throttles: 0,
            faults: 0,
            p99_ms: Some(3.0),
            p99_low_sample: false,
            health: Health::Ok,
            repeated: false,
        }
    }

    fn overview_answer(app: &mut App, id: u64) {
        app.update(Action::Data(Response {
            id,
            result: Ok(Answer::Overview(Box::new(Overview {
                window: Some(Window {
                    start_us: 0,
                    end_us: 1,
                }),
                report: None,
                map: vec![
                    line(None, "api"),
                    line(Some("api"), "orders"),
                    line(Some("orders"), "DynamoDB:orders"),
                ],
            }))),
        }));
    }

    fn request_ids(effects: &[Effect]) -> Vec<u64> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Request(r) => Some(r.id),
                Effect::Copy(_) => None,
            })
            .collect()
    }

    #[test]
    fn start_loads_the_overview_and_stale_answers_are_dropped() {
        let mut app = app();
        let first = request_ids(&app.start());
        assert_eq!(first, [1]);
        assert!(app.overview.pending.is_some());
        // A refresh supersedes the first request: its late answer is ignored.
        let second = request_ids(&app.update(Action::Refresh));
        assert_eq!(second, [2]);
        overview_answer(&mut app, 1);
        assert!(app.overview.data.is_none());
        overview_answer(&mut app, 2);
        assert_eq!(app.visible_map().len(), 3);
        assert!(app.overview.pending.is_none());
    }

    #[test]
    fn errors_keep_old_data_and_show_the_message() {
        let mut app = app();
        app.start();
        overview_answer(&mut app, 1);
        app.update(Action::Refresh);
        app.update(Action::Data(Response {
            id: 2,
            result: Err("store gone".into()),
        }));
        assert_eq!(app.overview.error.as_deref(), Some("store gone"));
        assert!(app.overview.data.is_some());
    }

    #[test]
    fn selection_moves_within_bounds_and_filter_narrows() {
        let mut app = app();
        app.start();
        overview_answer(&mut app, 1);
        app.update(Action::NextPanel);
        app.update(Action::Up);
        assert_eq!(app.map.selected, 0);
        app.update(Action::Bottom);
        assert_eq!(app.map.selected, 2);
        app.update(Action::Down);
        assert_eq!(app.map.selected, 2);
        app.update(Action::Filter);
        assert!(app.typing());
        for c in "DYNAMO".chars() {
            app.update(Action::Edit(Edit::Insert(c)));
        }
        app.update(Action::Enter);
        assert!(!app.typing());
        assert_eq!(app.filter(), "DYNAMO");
        assert_eq!(app.map.selected, 0);
        let names: Vec<&str> = app.visible_map().iter().map(|l| l.node.as_str()).collect();
        assert_eq!(names, ["DynamoDB:orders"]);
        // Esc in the prompt keeps the old filter; an empty filter removes it.
        app.update(Action::Filter);
        app.update(Action::Edit(Edit::Clear));
        app.update(Action::Back);
        assert_eq!(app.filter(), "DYNAMO");
        app.update(Action::Filter);
        app.update(Action::Edit(Edit::Clear));
        app.update(Action::Enter);
        assert_eq!(app.visible_map().len(), 3);
    }

    #[test]
    fn time_picker_and_baseline_reload() {
        let mut app = app();
        app.start();
        app.update(Action::TimePicker);
        assert_eq!(app.overlay, Some(Overlay::TimePicker { selected: 1 }));
        app.update(Action::Down);
        let effects = app.update(Action::Enter);
        assert_eq!(app.range.span_secs, 3 * 3600);
        assert!(app.overlay.is_none());
        assert!(matches!(
            &effects[..],
            [Effect::Request(Request { query: Query::Overview { range, .. }, .. })] if range.span_secs == 3 * 3600
        ));
        assert!(app.baseline);
        assert_eq!(request_ids(&app.update(Action::ToggleBaseline)).len(), 1);
        assert!(!app.baseline);
        assert_eq!(app.range_label(), "last 3h of data");
    }

    #[test]
    fn help_opens_scrolls_and_closes() {
        let mut app = app();
        app.update(Action::Help);
        app.update(Action::Down);
        assert_eq!(app.overlay, Some(Overlay::Help { scroll: 1 }));
        app.update(Action::Back);
        assert!(app.overlay.is_none());
        // Keys that close help do nothing else.
        app.update(Action::Help);
        app.update(Action::Quit);
        assert!(app.quit, "quit always quits");
    }

    #[test]
    fn sql_editor_edits_runs_and_recalls_history() {
        let mut app = app();
        app.update(Action::GoSql);
        assert_eq!(app.screen, Screen::Sql);
        assert!(app.typing());
        assert_eq!(app.sql.input, "", "what the user types is the whole query");
        app.update(Action::Edit(Edit::HistoryPrev));
        assert_eq!(app.sql.input, SQL_EXAMPLE, "↑ recalls the example");
        app.update(Action::Edit(Edit::Clear));
        for c in "SELECT 1;".chars() {
            app.update(Action::Edit(Edit::Insert(c)));
        }
        app.update(Action::Edit(Edit::Home));
        app.update(Action::Edit(Edit::Delete));
        app.update(Action::Edit(Edit::Insert('s')));
        let effects = app.update(Action::Enter);
        assert_eq!(
            effects,
            [Effect::Request(Request {
                id: 1,
                query: Query::Sql {
                    text: "sELECT 1".into()
                }
            })]
        );
        assert!(
            !app.sql.editing,
            "running a query moves the focus to the result"
        );
        app.update(Action::Data(Response {
            id: 1,
            result: Ok(Answer::Sql(SqlResult {
                table: TextTable {
                    columns: vec!["a".into(), "b".into()],
                    rows: vec![vec!["1".into(), "x".into()], vec!["2".into(), "y".into()]],
                    total_rows: 2,
                },
                elapsed_ms: 1.0,
            })),
        }));
        app.update(Action::Down);
        app.update(Action::Right);
        assert_eq!(app.update(Action::Copy), [Effect::Copy("y".into())]);
        app.update(Action::EditQuery);
        app.update(Action::Edit(Edit::Clear));
        app.update(Action::Edit(Edit::HistoryPrev));
        assert_eq!(app.sql.input, "sELECT 1");
        assert_eq!(app.sql.cursor, 8);
        // Esc leaves the editor, a second Esc the screen.
        app.update(Action::Back);
        app.update(Action::Back);
        assert_eq!(app.screen, Screen::Overview);
    }

    #[test]
    fn copy_names_the_selected_map_edge() {
        let mut app = app();
        app.start();
        overview_answer(&mut app, 1);
        app.update(Action::NextPanel);
        app.update(Action::Down);
        assert_eq!(
            app.update(Action::Copy),
            [Effect::Copy("api -> orders".into())]
        );
        assert_eq!(app.note.as_deref(), Some("Copied api -> orders"));
    }

    #[test]
    fn live_updates_refresh() {
        let mut app = app();
        let effects = app.update(Action::Live("collected 10:00".into()));
        assert_eq!(request_ids(&effects), [1]);
        assert_eq!(app.live.as_deref(), Some("collected 10:00"));
    }

    fn alarm(state: State, rule: &str, key: &str) -> AlarmLine {
        AlarmLine {
            state,
            severity: Severity::Critical,
            rule: rule.into(),
            key: key.into(),
            reason: "Threshold Crossed".into(),
            actions_enabled: true,
        }
    }

    #[test]
    fn with_rules_a_refresh_evaluates_the_alarms_and_tab_reaches_their_panel() {
        let (rules, problems) = hopscope_analyzer::alarms::parse::parse_file(
            std::path::Path::new("t.toml"),
            "[[rule]]\nname = \"slow\"\nfunction = \"f\"\nstatistic = \"p99\"\ncomparison = \">\"\nthreshold = 1\nperiod = \"5m\"\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let mut app = app();
        app.rules = Ok(Arc::new(rules));
        let effects = app.start();
        assert_eq!(request_ids(&effects), [1, 2]);
        assert!(matches!(
            &effects[1],
            Effect::Request(Request { query: Query::Alarms { rules, .. }, .. }) if rules.len() == 1
        ));
        app.update(Action::Data(Response {
            id: 2,
            result: Ok(Answer::Alarms(vec![
                alarm(State::Alarm, "slow", "f"),
                alarm(State::Ok, "slow", "g"),
            ])),
        }));
        assert_eq!(app.visible_alarms().len(), 2);

        app.update(Action::NextPanel);
        app.update(Action::NextPanel);
        assert_eq!(app.focus, OverviewFocus::Alarms);
        app.update(Action::Bottom);
        assert_eq!(app.alarm.selected, 1);
        assert_eq!(app.update(Action::Copy), [Effect::Copy("slow g".into())]);
        assert!(
            app.update(Action::Enter).is_empty(),
            "no drill-down from an alarm"
        );
        app.update(Action::NextPanel);
        assert_eq!(app.focus, OverviewFocus::Hops);

        // A failed evaluation keeps the last answer and says so.
        assert_eq!(request_ids(&app.update(Action::Refresh)), [3, 4]);
        app.update(Action::Data(Response {
            id: 4,
            result: Err("store gone".into()),
        }));
        assert_eq!(app.alarms.error.as_deref(), Some("store gone"));
        assert_eq!(app.visible_alarms().len(), 2);
        assert!(app.overview.error.is_none());
    }

    #[test]
    fn without_rules_no_alarm_is_evaluated() {
        let mut app = app();
        assert_eq!(request_ids(&app.start()), [1]);
        assert!(app.alarms.pending.is_none());
    }

    fn span(id: &str, parent: Option<&str>, request_id: Option<&str>) -> WaterfallSpan {
        WaterfallSpan {
            id: id.into(),
            parent_id: parent.map(Into::into),
            depth: 0,
            name: id.into(),
            kind: "segment".into(),
            service: id.into(),
            service_type: None,
            start_us: 0,
            end_us: Some(1),
            duration_ms: Some(1.0),
            critical_ms: None,
            on_critical_path: false,
            part: SpanPart::Other,
            error: false,
            fault: false,
            throttle: false,
            in_progress: false,
            http_status: None,
            aws_operation: None,
            request_id: request_id.map(Into::into),
            cause: None,
            annotations: Vec::new(),
        }
    }

    fn invocation(function: &str, request_id: &str) -> Invocation {
        Invocation {
            function: function.into(),
            request_id: request_id.into(),
            timestamp_us: 0,
            duration_ms: 1.0,
            billed_ms: None,
            memory_mb: None,
            max_memory_mb: None,
            init_ms: None,
            status: "success".into(),
        }
    }

    fn log(request_id: Option<&str>, message: &str) -> LogLine {
        LogLine {
            timestamp_us: 0,
            log_group: "/aws/lambda/f".into(),
            log_stream: "s".into(),
            level: None,
            request_id: request_id.map(Into::into),
            message: message.into(),
        }
    }

    #[test]
    fn the_logs_beneath_the_waterfall_are_those_of_the_selected_spans_request() {
        let mut app = app();
        let effects = app.open_trace("t".into());
        let id = request_ids(&effects)[0];
        let trace = TraceDetail {
            trace_id: "t".into(),
            start_us: 0,
            end_us: 1,
            spans: vec![
                span("api", None, None),
                span("lambda-1", Some("api"), Some("r1")),
                span("fn-1", Some("lambda-1"), None),
                // An SDK call carries the called service's request id: its own invocation is
                // its ancestor's.
                span("ddb", Some("fn-1"), Some("ddb-request")),
                span("lambda-2", Some("api"), Some("r2")),
            ],
            invocations: vec![invocation("f", "r1"), invocation("g", "r2")],
            logs: vec![
                log(None, "START RequestId: r1 Version: $LATEST"),
                log(Some("r1"), "reading"),
                log(Some("r2"), "other"),
                log(None, "no request"),
            ],
        };
        app.update(Action::Data(Response {
            id,
            result: Ok(Answer::Trace(Some(Box::new(trace)))),
        }));
        let messages = |app: &App| -> Vec<String> {
            let view = app.trace.as_ref().unwrap();
            view.visible_logs()
                .iter()
                .map(|l| l.message.clone())
                .collect()
        };
        // The root belongs to no invocation: every line of the trace.
        assert_eq!(messages(&app).len(), 4);
        assert!(app.trace.as_ref().unwrap().selected_invocation().is_none());
        app.update(Action::Down);
        assert_eq!(
            messages(&app),
            ["START RequestId: r1 Version: $LATEST", "reading"]
        );
        app.update(Action::Down);
        app.update(Action::Down);
        assert_eq!(
            app.trace
                .as_ref()
                .unwrap()
                .selected_invocation()
                .map(|i| i.function.as_str()),
            Some("f")
        );
        assert_eq!(messages(&app).len(), 2);
        // Scrolling the logs stops at the request's last line.
        app.update(Action::NextPanel);
        app.update(Action::Bottom);
        assert_eq!(app.trace.as_ref().unwrap().log_scroll, 1);
        app.update(Action::NextPanel);
        app.update(Action::Down);
        assert_eq!(messages(&app), ["other"]);
        assert_eq!(app.trace.as_ref().unwrap().log_scroll, 0);
    }

    #[test]
    fn visible_offset_keeps_the_selection_on_screen() {
        assert_eq!(visible_offset(0, 5, 10), 0);
        assert_eq!(visible_offset(0, 12, 10), 3);
        assert_eq!(visible_offset(8, 2, 10), 2);
        assert_eq!(visible_offset(3, 3, 0), 3);
    }

    fn logs_request(effects: &[Effect]) -> Option<(u64, String, bool)> {
        effects.iter().find_map(|e| match e {
            Effect::Request(Request {
                id,
                query: Query::Logs {
                    search, baseline, ..
                },
            }) => Some((*id, search.clone(), *baseline)),
            _ => None,
        })
    }

    fn log_row(trace: Option<&str>) -> crate::data::LogRow {
        crate::data::LogRow {
            time: "10:00:00.000".into(),
            group: "/aws/lambda/f".into(),
            request_id: Some("r-1".into()),
            trace_id: trace.map(Into::into),
            message: "Task timed out after 30.00 seconds".into(),
        }
    }

    #[test]
    fn the_logs_screen_loads_once_searches_and_follows_refreshes() {
        let mut app = app();
        let (id, search, baseline) =
            logs_request(&app.update(Action::GoLogs)).expect("a logs request");
        assert_eq!(
            (app.screen, search.as_str(), baseline),
            (Screen::Logs, "", true)
        );
        // Open again while loading: no second request.
        app.update(Action::GoOverview);
        assert!(logs_request(&app.update(Action::GoLogs)).is_none());
        app.update(Action::Data(Response {
            id,
            result: Ok(Answer::Logs(Box::new(LogsResult {
                window: None,
                lines: vec![
                    log_row(None),
                    log_row(Some("1-6b002802-ea6b51fe19e88b41d94b23fd")),
                ],
                patterns: Vec::new(),
            }))),
        }));
        // `/` searches the store.
        app.update(Action::Filter);
        for c in "timed out".chars() {
            app.update(Action::Edit(Edit::Insert(c)));
        }
        let (_, search, _) = logs_request(&app.update(Action::Enter)).expect("a search");
        assert_eq!((search.as_str(), app.filter()), ("timed out", "timed out"));
        // A refresh (`r`, a live window) reloads the logs too, with the search.
        let (_, search, _) = logs_request(&app.update(Action::Refresh)).expect("reloaded");
        assert_eq!(search, "timed out");
        // A line with no trace says so; one with a trace opens it.
        assert!(app.update(Action::Enter).is_empty());
        assert_eq!(
            app.note.as_deref(),
            Some("No X-Ray trace for this line's request")
        );
        app.update(Action::Down);
        let effects = app.update(Action::Enter);
        assert!(effects.iter().any(|e| matches!(e, Effect::Request(Request { query: Query::Trace { trace_id }, .. }) if trace_id == "1-6b002802-ea6b51fe19e88b41d94b23fd")));
        assert_eq!(app.screen, Screen::Trace);
        assert_eq!(
            app.trace.as_ref().unwrap().focus_request.as_deref(),
            Some("r-1")
        );
    }
}
