//! The store on S3: moto's S3 (the AWS test peer) through object_store's real S3 client, driven
//! by the `hopscope` binary as users run it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use hopscope_test_support::aws_peer;

use super::{command, counts, hopscope, samples, stderr, stdout, wait_until};

/// A new bucket of the peer's S3 for one test (tests share the peer, never a bucket), and the
/// store URL `s3://<bucket>/team/store` in it.
fn new_bucket(name: &str) -> PathBuf {
    let bucket = format!("hopscope-{name}-{}", std::process::id());
    let answer = aws_peer::request("PUT", &format!("/{bucket}"), "", "");
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "creating {bucket}: {answer}"
    );
    PathBuf::from(format!("s3://{bucket}/team/store"))
}

/// `hopscope --store s3://… ARGS` against the peer.
fn on_s3(store: &Path, args: &[&str]) -> Command {
    let mut c = command(store, &["--store-endpoint-url", &aws_peer::endpoint()]);
    c.args(args).env("AWS_REGION", "us-east-1");
    c
}

fn run_s3(store: &Path, args: &[&str]) -> Output {
    let out = on_s3(store, args).output().expect("hopscope runs");
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    out
}

/// Keys under `prefix` in the peer's `bucket`.
fn object_keys(store: &Path) -> Vec<String> {
    let url = store.to_str().unwrap().trim_start_matches("s3://");
    let (bucket, prefix) = url.split_once('/').unwrap();
    let answer = aws_peer::request(
        "GET",
        &format!("/{bucket}?list-type=2&prefix={prefix}/"),
        "",
        "",
    );
    answer
        .split("<Key>")
        .skip(1)
        .filter_map(|k| k.split_once("</Key>").map(|(k, _)| k.to_string()))
        .collect()
}

/// Row counts of the collected tables in the store on S3.
fn s3_counts(store: &Path) -> Vec<String> {
    [
        "spans",
        "log_events",
        "lambda_invocations",
        "lambda_functions",
    ]
    .iter()
    .map(|t| {
        let out = run_s3(
            store,
            &[
                "sql",
                "--format",
                "csv",
                &format!("SELECT count(*) AS n FROM {t}"),
            ],
        );
        format!("{t} {}", stdout(&out).lines().nth(1).unwrap_or_default())
    })
    .collect()
}

/// The samples imported into a new local store, for comparison.
fn local_store_of(input: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = hopscope(dir.path(), &["import", input.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    dir
}

const WINDOW: [&str; 4] = [
    "--since",
    "2026-11-20T09:00:00Z",
    "--until",
    "2026-11-20T11:00:00Z",
];

#[test]
fn a_store_on_s3_answers_as_the_local_one_and_a_reimport_adds_nothing() {
    let store = new_bucket("same");
    let input = samples().join("dragons");
    let first = run_s3(&store, &["import", input.to_str().unwrap()]);
    let text = stdout(&first);
    assert!(text.contains("into s3://"), "{text}");
    assert!(text.contains("S3 requests:"), "{text}");
    let again = stdout(&run_s3(&store, &["import", input.to_str().unwrap()]));
    let spans = again.lines().find(|l| l.starts_with("spans")).unwrap();
    assert_eq!(
        spans.split_whitespace().collect::<Vec<_>>(),
        ["spans", "0", "3241"],
        "{again}"
    );
    // Every data file is a numbered part, created once; each of the two hours has one hour
    // summary per rollup (two of spans, one of invocations), which the reimport (no new data
    // file) left as it was, and no merged minutes: it holds one data file.
    let keys = object_keys(&store);
    assert!(
        keys.iter().any(|k| k.ends_with("hopscope-store.json")),
        "{keys:?}"
    );
    let (covers, data): (Vec<&String>, Vec<&String>) = keys
        .iter()
        .filter(|k| k.ends_with(".parquet"))
        .partition(|k| k.contains("/_hours/") || k.contains("/_minutes/"));
    assert!(
        data.iter().all(|k| k.ends_with("/part-0000000001.parquet")),
        "{keys:?}"
    );
    assert_eq!(covers.len(), 6, "{covers:?}");
    assert!(covers.iter().all(|k| k.contains("/_hours/")), "{covers:?}");
    assert!(
        covers.iter().all(|k| k.contains("/cover-0000000001-")),
        "{covers:?}"
    );

    let local = local_store_of(&input);
    assert_eq!(s3_counts(&store), counts(local.path()));
    let everything = "SELECT * FROM spans ORDER BY trace_id, id";
    for args in [
        &["sql", "--format", "csv", everything][..],
        &["map", WINDOW[0], WINDOW[1], WINDOW[2], WINDOW[3]],
        &["hops", WINDOW[0], WINDOW[1], WINDOW[2], WINDOW[3]],
        &[
            "sql",
            "--format",
            "csv",
            "SELECT hdr_quantile(hdr_histogram(duration_ms), 0.99) AS p99 FROM spans",
        ],
    ] {
        let remote = stdout(&run_s3(&store, args));
        let here = hopscope(local.path(), args);
        assert_eq!(remote, stdout(&here), "{args:?}");
    }
}

#[test]
fn two_importers_of_the_same_files_at_once_store_each_row_once() {
    let store = new_bucket("race");
    let input = samples();
    let spawn = || -> Child {
        on_s3(&store, &["import", input.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{}{}",
        stderr(&a),
        stderr(&b)
    );
    let local = local_store_of(&input);
    assert_eq!(s3_counts(&store), counts(local.path()));
    // Between them, each row was new to exactly one.
    let new_spans = |out: &Output| -> usize {
        let text = stdout(out);
        let line = text
            .lines()
            .find(|l| l.starts_with("spans"))
            .unwrap()
            .to_string();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let stored: usize = counts(local.path())[0]
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(new_spans(&a) + new_spans(&b), stored);
}

#[cfg(unix)]
#[test]
fn a_killed_import_leaves_s3_readable_and_a_rerun_completes_it() {
    let (_input, generated) = super::generated("dragons", 6000);
    let store = new_bucket("killed");
    let mut child = on_s3(&store, &["import", generated.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let some_spans = || {
        object_keys(&store)
            .iter()
            .any(|k| k.contains("/spans/") && k.ends_with(".parquet"))
    };
    super::kill_once(&mut child, some_spans);

    let local = local_store_of(&generated);
    let complete = counts(local.path());
    let after_kill = s3_counts(&store);
    assert_ne!(
        after_kill, complete,
        "killed mid-way, so some rows are missing"
    );
    let rerun = stdout(&run_s3(&store, &["import", generated.to_str().unwrap()]));
    assert!(rerun.contains("Records read"), "{rerun}");
    assert_eq!(s3_counts(&store), complete);
}

#[test]
fn a_bad_s3_location_or_a_command_that_needs_a_directory_names_the_fix() {
    let out = on_s3(Path::new("s3://Not_A_Bucket/x"), &["sql", "SELECT 1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(
        text.contains("Not_A_Bucket") && text.contains("s3://BUCKET/PREFIX"),
        "{text}"
    );
    let out = on_s3(Path::new("s3://hopscope-alarms/x"), &["alarms", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(
        text.contains("alarm state") && text.contains("local --store"),
        "{text}"
    );
}

/// `collect` into a store on S3 keeps its checkpoint there: a rerun resumes from it and stores
/// nothing twice.
#[test]
fn collect_into_s3_keeps_its_checkpoint_there_and_a_rerun_adds_nothing() {
    let endpoint = aws_peer::endpoint();
    let region = "me-south-1";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    aws_peer::control(
        "POST",
        "/_peer/clock",
        &serde_json::json!({"now": now.as_secs_f64()}).to_string(),
    );
    super::dashboard::put_trace_segments(
        region,
        &super::dashboard::traces("orders-api", "orders", 3),
    );
    let store = new_bucket("collect");
    let collect = [
        "collect",
        "--since",
        "5m",
        "--region",
        region,
        "--endpoint-url",
        &endpoint,
    ];
    let first = stdout(&run_s3(&store, &collect));
    assert!(first.contains("new rows"), "{first}");
    let spans = s3_counts(&store)[0].clone();
    assert_ne!(spans, "spans 0", "{first}");
    let keys = object_keys(&store);
    assert!(
        keys.iter().any(|k| k.contains("/_checkpoints/")),
        "{keys:?}"
    );
    let again = stdout(&run_s3(&store, &collect));
    let line = again
        .lines()
        .find(|l| l.starts_with("spans"))
        .unwrap_or("spans 0 0");
    assert_eq!(line.split_whitespace().nth(1), Some("0"), "{again}");
    assert_eq!(s3_counts(&store)[0], spans);
}

/// `hopscope cluster scheduler|executor` as processes, reaching the store on S3 with their own
/// clients (the client ships only the plan), answer as a local store does.
#[cfg(feature = "cluster")]
#[test]
fn a_cluster_of_hopscope_processes_reads_a_store_on_s3() {
    let store = new_bucket("cluster");
    let input = samples().join("dragons");
    run_s3(&store, &["import", input.to_str().unwrap()]);
    let local = local_store_of(&input);

    let [scheduler, flight1, grpc1, flight2, grpc2] = free_ports();
    let mut processes = Processes(Vec::new());
    processes.start(
        &store,
        &[
            "--log",
            "info",
            "cluster",
            "scheduler",
            "--port",
            &scheduler,
        ],
    );
    // An executor that finds no scheduler exits: start them once it serves.
    let serving = |port: &String| std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_ok();
    assert!(
        wait_until(60, || serving(&scheduler)),
        "the scheduler did not start: {}",
        processes.stderr()
    );
    for (flight, grpc) in [(&flight1, &grpc1), (&flight2, &grpc2)] {
        let at = format!("127.0.0.1:{scheduler}");
        processes.start(
            &store,
            &[
                "--log",
                "info",
                "cluster",
                "executor",
                "--scheduler",
                &at,
                "--port",
                flight,
                "--grpc-port",
                grpc,
                "--concurrent-tasks",
                "1",
            ],
        );
    }
    // A job waits for executors to register: wait until both serve.
    assert!(
        wait_until(60, || serving(&flight1) && serving(&flight2)),
        "the executors did not start: {}",
        processes.stderr()
    );

    let cluster = format!("df://127.0.0.1:{scheduler}");
    for args in [
        &["sql", "--format", "csv", "SELECT count(*) AS n FROM spans"][..],
        &[
            "sql",
            "--format",
            "csv",
            "SELECT service, count(*) AS n, hdr_quantile(hdr_histogram(duration_ms), 0.99) AS p99 \
             FROM spans GROUP BY service ORDER BY service",
        ],
        &[
            "sql",
            "--format",
            "csv",
            "SELECT trace_id, duration_ms FROM traces ORDER BY duration_ms DESC, trace_id LIMIT 20",
        ],
        &["map", WINDOW[0], WINDOW[1], WINDOW[2], WINDOW[3]],
    ] {
        let mut on_cluster = on_s3(&store, &["--cluster", &cluster]);
        let out = on_cluster.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            stderr(&out),
            processes.stderr()
        );
        assert_eq!(
            stdout(&out),
            stdout(&hopscope(local.path(), args)),
            "{args:?}"
        );
    }
}

/// Five ports free on this host when asked (the processes bind them a moment later).
#[cfg(feature = "cluster")]
fn free_ports() -> [String; 5] {
    let listeners: Vec<_> = (0..5)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port().to_string())
}

/// Background `hopscope` processes, killed when the test ends however it ends; their stderr
/// goes to files, for the failure message.
#[cfg(feature = "cluster")]
struct Processes(Vec<(Child, tempfile::NamedTempFile)>);

#[cfg(feature = "cluster")]
impl Processes {
    fn start(&mut self, store: &Path, args: &[&str]) {
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = on_s3(store, args)
            .stdout(std::process::Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        self.0.push((child, log));
    }

    fn stderr(&self) -> String {
        self.0
            .iter()
            .map(|(_, log)| std::fs::read_to_string(log.path()).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n---\n")
    }
}

#[cfg(feature = "cluster")]
impl Drop for Processes {
    fn drop(&mut self) {
        for (child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
