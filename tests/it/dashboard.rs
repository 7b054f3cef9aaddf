//! `hopscope demo` as a person runs it: in a real terminal (tmux provides one, also in CI where
//! there is no TTY), keys sent through every screen, the screen read back.

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of this test alone (its own socket), killed when the test ends either way.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str) -> Tmux {
        let version = Command::new("tmux").arg("-V").output();
        assert!(
            version.is_ok_and(|o| o.status.success()),
            "this test needs tmux (scripts/test installs it)"
        );
        let tmux = Tmux {
            socket: format!("hopscope-it-{}", std::process::id()),
        };
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "demo",
            "-x",
            "100",
            "-y",
            "30",
            command,
        ]);
        tmux
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
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn demo_opens_the_dashboard_and_every_screen_answers_keys() {
    let dir = tempfile::tempdir().unwrap();
    let command = format!(
        "NO_COLOR=1 {} --store {} demo --traces 60",
        env!("CARGO_BIN_EXE_hopscope"),
        dir.path().join("store").display()
    );
    let tmux = Tmux::start(&command);

    let overview = tmux.wait_for(&["Slow hops", "caller -> callee", "Service map"]);
    assert!(overview.contains("Overview"), "{overview}");

    // The top hop, then its slowest trace.
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Latency histogram", "Now vs baseline", "Slowest traces"]);
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

    // Back to the overview, pick another time range, quit.
    tmux.keys(&["o", "t"]);
    tmux.wait_for(&["Time range", "last 15m"]);
    tmux.keys(&["k", "Enter"]);
    tmux.wait_for(&["last 15m of data"]);
    tmux.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while tmux.running() {
        assert!(Instant::now() < deadline, "still running after q");
        std::thread::sleep(Duration::from_millis(200));
    }
}
