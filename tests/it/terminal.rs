//! Every command, run on a real pseudo-terminal over a store of hostile text (span names,
//! annotations, log lines and an id carrying escape sequences: a clipboard write, a screen
//! clear, a window title), shows the escapes as text and never writes them to the terminal;
//! piped output keeps the bytes.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use super::{command, hopscope, stderr, stdout};

const TRACE_ID: &str = "1-6a1e9a00-0123456789abcdef01234567";
const TIMED_OUT_TRACE_ID: &str = "1-6a1e9a00-0123456789abcdef01234568";
/// OSC 52: writes "hi" to the clipboard of the terminal that obeys it.
const CLIPBOARD: &str = "\u{1b}]52;c;aGk=\u{7}";

/// Writes the hostile inputs into `dir`; their paths.
fn hostile_inputs(dir: &Path) -> Vec<PathBuf> {
    let start = 1_795_165_200.0_f64;
    let segment = serde_json::json!({
        "trace_id": TRACE_ID,
        "id": "aaaaaaaaaaaaaaaa",
        "name": "api\u{1b}[2J",
        "origin": "AWS::Lambda::Function",
        "start_time": start,
        "end_time": start + 0.5,
        "annotations": {"note": CLIPBOARD},
        "aws": {"request_id": "0f11c94e-13b4-40c9-be78-4fe24d08ecb4"},
        "subsegments": [{
            "id": "bbbbbbbbbbbbbbbb",
            "name": "db\u{1b}]0;pwned\u{7}\u{9b}31m",
            "namespace": "remote",
            "start_time": start + 0.1,
            "end_time": start + 0.4,
        }],
    });
    let bad = serde_json::json!({
        "trace_id": TRACE_ID,
        "id": format!("{CLIPBOARD}cccc"),
        "name": "bad",
        "start_time": start,
        "end_time": start + 0.1,
    });
    // A function that timed out waiting on a call that never answered, after calling
    // another twice: the timeouts and amplification reports name them.
    let call = |id: &str, end: Option<f64>| {
        let mut c = serde_json::json!({
            "id": id,
            "namespace": "remote",
            "start_time": start + 0.1,
            "http": {"request": {"method": "GET", "url": "https://h.example/x\u{1b}[31m"}},
        });
        match end {
            Some(end) => {
                c["name"] = "dup\u{1b}]0;pwned\u{7}".into();
                c["end_time"] = end.into();
            }
            None => {
                c["name"] = "hang\u{1b}]0;pwned\u{7}".into();
                c["in_progress"] = true.into();
            }
        }
        c
    };
    let timed_out = serde_json::json!({
        "trace_id": TIMED_OUT_TRACE_ID,
        "id": "dddddddddddddddd",
        "name": "job\u{1b}[2J",
        "origin": "AWS::Lambda::Function",
        "start_time": start,
        "end_time": start + 3.0,
        "fault": true,
        "cause": {"exceptions": [{"type": "Sandbox.Timedout", "message": "Task timed out after 3.00 seconds"}]},
        "subsegments": [
            call("eeeeeeeeeeeeeee1", Some(start + 0.2)),
            call("eeeeeeeeeeeeeee2", Some(start + 0.3)),
            call("eeeeeeeeeeeeeee3", None),
        ],
    });
    let traces = dir.join("traces.ndjson");
    std::fs::write(&traces, format!("{segment}\n{bad}\n{timed_out}\n")).unwrap();
    let event = |ms: i64, message: &str| serde_json::json!({"id": format!("{ms}"), "timestamp": 1_795_165_200_000_i64 + ms, "message": message});
    let logs = serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/lambda/evil",
        "logStream": "2026/11/20/[$LATEST]0123456789abcdef",
        "subscriptionFilters": ["hopscope"],
        "logEvents": [
            event(0, "START RequestId: 0f11c94e-13b4-40c9-be78-4fe24d08ecb4 Version: $LATEST\n"),
            event(100, &format!("2026-11-20T10:00:00.100Z\t0f11c94e-13b4-40c9-be78-4fe24d08ecb4\tINFO\tpaste {CLIPBOARD} here\r\n")),
            event(400, "END RequestId: 0f11c94e-13b4-40c9-be78-4fe24d08ecb4\n"),
            event(401, &format!("REPORT RequestId: 0f11c94e-13b4-40c9-be78-4fe24d08ecb4\tDuration: 400.00 ms\tBilled Duration: 400 ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\t\nXRAY TraceId: {TRACE_ID}\tSegmentId: aaaaaaaaaaaaaaaa\tSampled: true\t\n")),
        ],
    });
    let log_file = dir.join("evil-logs.json");
    std::fs::write(&log_file, logs.to_string()).unwrap();
    // Two published versions of a function with an escape in its name: `changes` shows the
    // second as a deploy against the first.
    let version = |v: &str, at: &str, memory: i64, code: &str| {
        serde_json::json!({"FunctionName": "evil\u{1b}[2J", "Version": v, "LastModified": at,
            "FunctionArn": format!("arn:aws:lambda:eu-west-1:123456789012:function:evil:{v}"),
            "MemorySize": memory, "Timeout": 3, "CodeSha256": code})
    };
    let functions = dir.join("evil-functions.json");
    let versions = serde_json::json!({"Versions": [
        version("1", "2026-11-20T08:30:00.000+0000", 128, "aaaaaaaaaaaa"),
        version("2", "2026-11-20T08:50:00.000+0000", 256, "bbbbbbbbbbbb"),
    ]});
    std::fs::write(&functions, versions.to_string()).unwrap();
    vec![traces, log_file, functions]
}

/// Runs `hopscope --store STORE ARGS` with stdout and stderr on a new pseudo-terminal (stdin
/// closed); everything it wrote there, with the terminal's `\r\n` line ends as `\n`, after
/// checking that no control byte but newline and tab reached the terminal.
#[allow(unsafe_code)]
fn on_terminal(store: &Path, args: &[&str]) -> (String, ExitStatus) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty stores two descriptors it opened; nothing else is passed.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both were just opened by openpty and are owned by nothing else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = command(store, args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .expect("hopscope starts");
    // The child holds the last descriptors of the terminal's slave side: reading ends (EIO)
    // when it exits. What was read before that stays in `out`.
    let mut out = Vec::new();
    let _ = std::fs::File::from(master).read_to_end(&mut out);
    let status = child.wait().unwrap();
    let out = String::from_utf8(out)
        .unwrap_or_else(|e| panic!("{args:?}: bytes that are not UTF-8 reached the terminal: {e}"))
        .replace("\r\n", "\n");
    assert_shown_not_obeyed(&args.join(" "), &out);
    (out, status)
}

/// No control character but newline and tab (ESC, BEL, CR, the 8-bit CSI) reached the
/// terminal.
fn assert_shown_not_obeyed(what: &str, text: &str) {
    let raw = text
        .chars()
        .find(|&c| c.is_control() && c != '\n' && c != '\t');
    assert!(
        raw.is_none(),
        "{what}: a raw {raw:?} reached the terminal:\n{text}"
    );
}

#[test]
fn every_command_shows_escapes_as_text_on_a_terminal_and_pipes_keep_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let inputs = hostile_inputs(dir.path());
    let paths: Vec<&str> = inputs.iter().map(|p| p.to_str().unwrap()).collect();

    let mut import = vec!["import"];
    import.extend(&paths);
    let (text, status) = on_terminal(&store, &import);
    assert!(status.success(), "{text}");
    assert_shown_not_obeyed("import", &text);
    assert!(text.contains("rejected: 1."), "{text}");
    assert!(text.contains(r"\x1b]52;c;aGk=\x07cccc"), "{text}");

    let clipboard_shown = r"paste \x1b]52;c;aGk=\x07 here";
    let messages = "SELECT message FROM log_events WHERE message LIKE '%paste%'";
    for format in ["table", "csv", "json", "ndjson"] {
        let (text, status) = on_terminal(&store, &["sql", "--format", format, messages]);
        assert!(status.success(), "{format}: {text}");
        assert_shown_not_obeyed(format, &text);
        // JSON carries the shown text as a JSON string: its backslashes doubled.
        let shown = match format {
            "json" | "ndjson" => clipboard_shown.replace('\\', r"\\"),
            _ => clipboard_shown.to_owned(),
        };
        assert!(text.contains(&shown), "{format}: {text}");
    }
    // The same lines through a Logs Insights query, and through its patterns.
    let paste = "filter @message like /paste/ | fields @message";
    for format in ["table", "csv", "json", "ndjson"] {
        let (text, status) = on_terminal(&store, &["logs", "--format", format, paste]);
        assert!(status.success(), "logs {format}: {text}");
        let shown = match format {
            "json" | "ndjson" => clipboard_shown.replace('\\', r"\\"),
            _ => clipboard_shown.to_owned(),
        };
        assert!(text.contains(&shown), "logs {format}: {text}");
    }
    let (text, status) = on_terminal(&store, &["logs", "pattern @message"]);
    assert!(status.success(), "{text}");
    assert!(text.contains(r"\x1b]52;c;aGk=\x07"), "patterns: {text}");
    let names = "SELECT name, annotations FROM spans ORDER BY id";
    let (text, _) = on_terminal(&store, &["sql", names]);
    assert_shown_not_obeyed("sql table", &text);
    assert!(text.contains(r"api\x1b[2J"), "{text}");
    assert!(text.contains(r"db\x1b]0;pwned\x07\u{9b}31m"), "{text}");

    for args in [
        vec!["map"],
        vec!["map", "--format", "dot"],
        vec!["map", "--format", "mermaid"],
        vec!["map", "--format", "json"],
        vec!["hops", "--baseline", "off"],
        vec!["hops", "--format", "json"],
        vec!["trace", TRACE_ID],
        vec!["timeouts"],
        vec!["timeouts", "--format", "json"],
        vec!["amplification"],
        vec!["amplification", "--format", "json"],
        vec!["why", "client", "api\u{1b}[2J", "--baseline", "off"],
        vec!["why", "client", "api\u{1b}[2J", "--format", "json"],
        vec!["changes"],
        vec!["changes", "--format", "json"],
    ] {
        let (text, status) = on_terminal(&store, &args);
        assert!(status.success(), "{args:?}: {text}");
        assert_shown_not_obeyed(&args.join(" "), &text);
        // JSON escapes C0 itself (`\u001b`); the rest is escaped on the way to the terminal.
        assert!(
            text.contains(r"\x1b") || text.contains(r"\u001b"),
            "{args:?} shows the escapes: {text}"
        );
    }
    let (text, _) = on_terminal(&store, &["trace", TRACE_ID]);
    assert!(
        text.contains(clipboard_shown),
        "the trace's log lines: {text}"
    );

    // An error quoting its input, on stderr.
    let bad = format!("SELECT '{CLIPBOARD}' FROM no_such_table");
    let (text, status) = on_terminal(&store, &["sql", &bad]);
    assert_eq!(status.code(), Some(1), "{text}");
    assert_shown_not_obeyed("an error", &text);
    assert!(text.contains("no_such_table"), "{text}");

    // Piped, the bytes are the data's own.
    let out = hopscope(&store, &["sql", "--format", "csv", messages]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("paste {CLIPBOARD} here")),
        "{}",
        stdout(&out)
    );
}
