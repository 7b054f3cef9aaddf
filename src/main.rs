//! `hopscope`: the command line. Parsing and dispatch live in [`cli`]; this only maps the outcome
//! to an exit code.

mod allocator;
mod cli;

use std::process::ExitCode;

use clap::Parser;

#[allow(unsafe_code)]
fn main() -> ExitCode {
    end_quietly_on_closed_pipe();
    let args = cli::Cli::parse();
    // SAFETY: before `run` starts the runtime, so no other thread exists yet.
    unsafe { allocator::tune_allocator(args.command.workload()) };
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", cli::for_stderr(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Output into a closed pipe (`hopscope sql ... | head -1`) ends the process quietly, as it does
/// for other Unix tools, where Rust's default would panic in `println!`. Sockets are unaffected:
/// Rust writes to them with `MSG_NOSIGNAL`.
#[allow(unsafe_code)]
fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
