//! The dashboard as a person runs it: in a real terminal (tmux provides one, also in CI where
//! there is no TTY), keys sent through every screen, the screen read back. `hopscope demo` on the
//! embedded scenarios, and `hopscope tui --live` collecting from the AWS test peer.

use std::process::Command;
use std::time::{Duration, Instant};

use hopscope_test_support::aws_peer;

/// A tmux server of one test alone (its own socket), killed when the test ends either way.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// `name` keeps the servers of tests running at once apart.
    fn start(name: &str, command: &str) -> Tmux {
        Tmux::start_sized(name, command, 100, 30)
    }

    fn start_sized(name: &str, command: &str, width: u16, height: u16) -> Tmux {
        let version = Command::new("tmux").arg("-V").output();
        assert!(
            version.is_ok_and(|o| o.status.success()),
            "this test needs tmux (scripts/test installs it)"
        );
        let tmux = Tmux {
            socket: format!("hopscope-it-{}-{name}", std::process::id()),
        };
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "demo",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        tmux
    }

    /// Gives the terminal a new size, as a user dragging the window would.
    fn resize(&self, width: u16, height: u16) {
        let (w, h) = (width.to_string(), height.to_string());
        let out = self.run(&["resize-window", "-t", "demo", "-x", &w, "-y", &h]);
        assert!(out.status.success(), "resize-window: {out:?}");
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux runs")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "demo"]).stdout).into()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "demo"];
        args.extend(keys);
        assert!(self.run(&args).status.success(), "send-keys {keys:?}");
    }

    /// Waits until the screen shows every one of `texts`; the deadline is generous because a
    /// debug build on a busy machine is slow, and nothing here measures speed.
    fn wait_for(&self, texts: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let screen = self.screen();
            if texts.iter().all(|t| screen.contains(t)) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {texts:?}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn running(&self) -> bool {
        self.run(&["has-session", "-t", "demo"]).status.success()
    }

    /// Waits until the program in the pane has exited (its session closes with it).
    fn wait_for_exit(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.running() {
            assert!(Instant::now() < deadline, "still running after q");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn demo_opens_the_dashboard_and_every_screen_answers_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let command = format!(
        "NO_COLOR=1 {} --store {} demo --traces 60",
        env!("CARGO_BIN_EXE_hopscope"),
        store.display()
    );
    let tmux = Tmux::start("demo", &command);

    let overview = tmux.wait_for(&["Slow hops", "caller -> callee", "Service map"]);
    assert!(overview.contains("Overview"), "{overview}");
    // The alarms panel: the built-in starter pack, raised alarms first with their reason.
    let alarms = tmux.wait_for(&["Alarms: ", " ALARM · ", "severity", "reason"]);
    assert!(
        alarms.contains("ALARM             critical lambda-timeouts"),
        "{alarms}"
    );
    assert!(alarms.contains("Threshold Crossed"), "{alarms}");

    // The top hop, then its slowest trace.
    tmux.keys(&["Enter"]);
    tmux.wait_for(&[
        "Latency histogram",
        "Now vs baseline",
        "[Traces] Why Changes Timeouts",
    ]);
    tmux.keys(&["j", "k", "Enter"]);
    tmux.wait_for(&["Waterfall", "critical path", "Logs:"]);
    tmux.keys(&["j", "Tab", "j"]);

    // The filter prompt and the help.
    // (Esc goes alone and is waited on: a key right behind it would read as Alt+key.)
    tmux.keys(&["/"]);
    tmux.wait_for(&["Enter apply"]);
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["? help"]);
    tmux.keys(&["?"]);
    tmux.wait_for(&["Keys (j/k scroll", "time range picker"]);
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["? help"]);

    // SQL: clear the editor, type a query, run it.
    tmux.keys(&["s"]);
    tmux.wait_for(&["SQL: Enter runs"]);
    tmux.keys(&["C-u", "SELECT 6 * 7 AS answer", "Enter"]);
    tmux.wait_for(&["answer", "42", "1 rows in"]);

    // Logs: a search, the selected line in full, and Enter to its trace.
    tmux.keys(&["o", "l"]);
    tmux.wait_for(&["Logs", "Log lines:", "Patterns:"]);
    tmux.keys(&["/", "REPORT RequestId", "Enter"]);
    tmux.wait_for(&["/REPORT RequestId", "Max Memory Used", "Enter: trace"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Waterfall", "critical path"]);
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["Log lines:"]);

    // Back to the overview, pick another time range, quit.
    tmux.keys(&["o", "t"]);
    tmux.wait_for(&["Time range", "last 15m"]);
    tmux.keys(&["k", "Enter"]);
    tmux.wait_for(&["last 15m of data"]);
    tmux.keys(&["q"]);
    tmux.wait_for_exit();

    // The demo imported the generated functions/ too: each function's configurations.
    let out = crate::hopscope(
        &store,
        &[
            "sql",
            "--format",
            "csv",
            "SELECT count(DISTINCT function) AS functions, count(*) AS configurations FROM lambda_functions",
        ],
    );
    assert!(out.status.success(), "{}", crate::stderr(&out));
    assert_eq!(crate::stdout(&out), "functions,configurations\n8,31\n");
}

/// The hop screen's panes and the amplification screen in a real terminal, at 80x24 and again
/// after the window grows to 200x60 (the lanes and the histogram are asked again for the size).
#[test]
fn the_hop_panes_and_amplification_answer_keys_at_80x24_and_200x60() {
    let dir = tempfile::tempdir().unwrap();
    let command = format!(
        "NO_COLOR=1 {} --store {} demo --traces 60",
        env!("CARGO_BIN_EXE_hopscope"),
        dir.path().join("store").display()
    );
    let tmux = Tmux::start_sized("panes", &command, 80, 24);
    tmux.wait_for(&["Slow hops", "caller -> callee"]);
    // The top hop: the ETL's calls to the World Bank API that never answered.
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Latency histogram", "[Traces] Why Changes Timeouts"]);
    for (width, height) in [(80, 24), (200, 60)] {
        tmux.resize(width, height);
        tmux.keys(&["Tab"]);
        tmux.wait_for(&["Traces [Why] Changes Timeouts", "slow calls"]);
        tmux.keys(&["Tab"]);
        let changes = tmux.wait_for(&["Traces Why [Changes] Timeouts", "changes ! alarm ^ deploy"]);
        assert!(
            changes.contains("cold starts"),
            "{width}x{height}:\n{changes}"
        );
        tmux.keys(&["Tab"]);
        tmux.wait_for(&[
            "Traces Why Changes [Timeouts]",
            "gave up waiting on this hop's callee",
        ]);
        tmux.keys(&["Tab"]);
        tmux.wait_for(&["[Traces] Why Changes Timeouts", "Error types"]);
        tmux.keys(&["a"]);
        tmux.wait_for(&["Extra work per request", "entry point", "worst "]);
        tmux.keys(&["Escape"]);
        tmux.wait_for(&["Latency histogram"]);
    }
    tmux.keys(&["?"]);
    tmux.wait_for(&["next pane: slowest traces, why, changes, timeouts"]);
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["? help"]);
    tmux.keys(&["q"]);
    tmux.wait_for_exit();
}

/// `tui --live` on an empty store: traces sent after the first window show up in the hops and
/// the map without a key pressed, and `q` stops the collection too. The account is in the
/// Transaction Search world with nothing indexed: the dashboard sees what `collect` sees there.
/// Runs against the AWS test peer that scripts/test starts.
#[test]
fn tui_live_collects_in_the_background_and_refreshes() {
    let endpoint = aws_peer::endpoint();
    let region = "ap-northeast-3";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // Spans of now go to aws/spans: the peer's clock, which other tests may have set to the
    // samples' day, goes back to now.
    aws_peer::control(
        "POST",
        "/_peer/clock",
        &serde_json::json!({"now": now}).to_string(),
    );
    let world = serde_json::json!({"region": region, "destination": "CloudWatchLogs",
        "indexing_percentage": 0});
    aws_peer::control("POST", "/_peer/world", &world.to_string());
    let dir = tempfile::tempdir().unwrap();
    let command = format!(
        "env -u AWS_PROFILE NO_COLOR=1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
         AWS_EC2_METADATA_DISABLED=true {} --store {} tui --live 2s --region {region} \
         --endpoint-url {endpoint} --max-attempts 2",
        env!("CARGO_BIN_EXE_hopscope"),
        dir.path().join("store").display()
    );
    let tmux = Tmux::start("live", &command);
    tmux.wait_for(&["collected ", "(+", "Slow hops"]);

    // Names of this run alone: the peer may hold traces of earlier runs in the Region.
    let nonce = format!(
        "{:06x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            % 0xff_ffff
    );
    let (function, table) = (format!("fn-{nonce}"), format!("tb-{nonce}"));
    assert!(!tmux.screen().contains(&function));
    put_trace_segments(region, &traces(&function, &table, 3));
    // The filter keeps this run's hops on screen, whatever earlier runs left in the peer.
    tmux.keys(&["/", &function, "Enter"]);
    let screen = tmux.wait_for(&[
        &format!("{function} -> DynamoDB:{table}"),
        &format!("client -> {function}"),
    ]);
    assert!(!screen.contains("failed"), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for_exit();
    assert!(
        dir.path().join("store/spans").is_dir(),
        "the collection wrote into the store"
    );
}

/// `n` traces of a Lambda function reading a DynamoDB table, started in the last minute: X-Ray
/// segment documents, three spans per trace.
pub(crate) fn traces(function: &str, table: &str, n: u64) -> Vec<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let id = |i: u64, part: u64| format!("{:016x}", (now as u64) << 16 | i << 4 | part);
    let mut docs = Vec::new();
    for i in 0..n {
        let start = now - 50.0 + i as f64;
        let trace_id = format!("1-{:08x}-{:024x}", start as u64, (now as u64) << 8 | i);
        let (service_id, function_id, call_id) = (id(i, 1), id(i, 2), id(i, 3));
        docs.push(serde_json::json!({
            "trace_id": trace_id, "id": service_id, "name": function,
            "origin": "AWS::Lambda", "start_time": start, "end_time": start + 0.5,
            "aws": {"request_id": format!("req-{i}")},
            "http": {"response": {"status": 200}},
        }));
        docs.push(serde_json::json!({
            "trace_id": trace_id, "id": function_id, "parent_id": service_id,
            "name": function, "origin": "AWS::Lambda::Function",
            "start_time": start + 0.01, "end_time": start + 0.45,
            "subsegments": [{
                "id": call_id, "name": "DynamoDB", "namespace": "aws",
                "start_time": start + 0.02, "end_time": start + 0.4,
                "aws": {"operation": "GetItem", "table_name": table},
                "http": {"response": {"status": 200}},
            }],
        }));
    }
    docs.iter().map(std::string::ToString::to_string).collect()
}

/// X-Ray PutTraceSegments, sent to the peer as the SDK would (moto reads the Region from the
/// credential scope and checks no signature).
pub(crate) fn put_trace_segments(region: &str, documents: &[String]) {
    let body = serde_json::json!({ "TraceSegmentDocuments": documents }).to_string();
    let answer = aws_peer::request(
        "POST",
        "/TraceSegments",
        &format!(
            "Authorization: AWS4-HMAC-SHA256 Credential=testing/20261122/{region}/xray/aws4_request, \
             SignedHeaders=host, Signature=0\r\n"
        ),
        &body,
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains(r#""UnprocessedTraceSegments": []"#),
        "{answer}"
    );
}
