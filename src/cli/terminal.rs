//! Nothing from outside reaches the terminal with its control characters.
//!
//! Log lines, names and annotations end up in every output format of every command: tables,
//! CSV, JSON, the trace view, alarm reasons, import rejections. Rather than trust each of those
//! to escape its text, a command that only prints gets its stdout routed, when stdout is a
//! terminal, through a pipe whose reader escapes every control character but newline and tab
//! ([`StreamEscaper`]) before writing to the terminal. Piped or redirected output is untouched:
//! it keeps the bytes. The commands that drive the terminal themselves (the dashboard, the SQL
//! shell) draw only sanitized text and are left alone.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;

use hopscope_analyzer::text::StreamEscaper;

static STDOUT_TERMINAL: OnceLock<bool> = OnceLock::new();

/// Whether stdout is a terminal, as it was before [`EscapedStdout`] made it a pipe.
pub fn stdout_is_terminal() -> bool {
    *STDOUT_TERMINAL.get_or_init(|| io::stdout().is_terminal())
}

/// `text` escaped for stderr when stderr is a terminal (an error that quotes its input).
pub fn for_stderr(text: &str) -> String {
    if !io::stderr().is_terminal() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    text.chars()
        .for_each(|c| hopscope_analyzer::text::push_escaped(&mut out, c, true));
    out
}

/// The escaper in place, if any: [`finish`] takes it down from wherever the process ends.
static ACTIVE: Mutex<Option<EscapedStdout>> = Mutex::new(None);

/// Writes out what stdout still holds and puts the terminal back on fd 1. Call it before
/// `std::process::exit`, which runs no destructor; [`EscapedGuard`] calls it on return or panic.
pub fn finish() {
    let active = ACTIVE.lock().unwrap_or_else(PoisonError::into_inner).take();
    drop(active);
}

/// Ends the escaping when dropped (see [`finish`]).
pub struct EscapedGuard(());

impl Drop for EscapedGuard {
    fn drop(&mut self) {
        finish();
    }
}

/// Everything written to stdout (fd 1) reaches the terminal escaped until it is dropped.
struct EscapedStdout {
    terminal: OwnedFd,
    pump: Option<JoinHandle<io::Result<()>>>,
}

/// Routes stdout through the escaper when it is a terminal; `None` when it is not.
pub fn install() -> io::Result<Option<EscapedGuard>> {
    EscapedStdout::install()
}

impl EscapedStdout {
    fn install() -> io::Result<Option<EscapedGuard>> {
        if !stdout_is_terminal() {
            return Ok(None);
        }
        let terminal = io::stdout().as_fd().try_clone_to_owned()?;
        let (reader, writer) = io::pipe()?;
        io::stdout().flush()?;
        redirect_stdout(writer.as_fd())?;
        // fd 1 now holds the pipe; this second write end would keep the reader from its EOF.
        drop(writer);
        let out = File::from(terminal.try_clone()?);
        let pump = std::thread::Builder::new()
            .name("stdout-escaper".into())
            .spawn(move || pump(reader, out))?;
        *ACTIVE.lock().unwrap_or_else(PoisonError::into_inner) = Some(EscapedStdout {
            terminal,
            pump: Some(pump),
        });
        Ok(Some(EscapedGuard(())))
    }
}

impl Drop for EscapedStdout {
    fn drop(&mut self) {
        let _ = io::stdout().flush();
        // Putting the terminal back on fd 1 closes the pipe's last write end: the pump reads
        // to its end, writes the rest and stops.
        if redirect_stdout(self.terminal.as_fd()).is_ok()
            && let Some(pump) = self.pump.take()
        {
            let _ = pump.join();
        }
    }
}

fn pump(mut reader: io::PipeReader, mut out: File) -> io::Result<()> {
    let mut escaper = StreamEscaper::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut text = String::new();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        text.clear();
        escaper.push(&buf[..n], &mut text);
        // A terminal that stopped taking output (hung up) must not stop the process with
        // SIGPIPE on its next print: keep draining, as a closed terminal would swallow it.
        if out.write_all(text.as_bytes()).is_err() {
            return drain(reader);
        }
    }
    text.clear();
    escaper.finish(&mut text);
    out.write_all(text.as_bytes())
}

/// Reads the pipe to its end, discarding what it reads.
fn drain(mut reader: io::PipeReader) -> io::Result<()> {
    io::copy(&mut reader, &mut io::sink()).map(drop)
}

/// Makes fd 1 refer to what `fd` refers to.
fn redirect_stdout(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: dup2 on two open descriptors; fd 1 is replaced atomically, and Rust's `Stdout`
    // keeps writing to fd 1 whatever it refers to.
    #[allow(unsafe_code)]
    let r = unsafe { libc::dup2(fd.as_raw_fd(), libc::STDOUT_FILENO) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
