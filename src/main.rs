//! `hopscope`: the command line. Parsing and dispatch live in [`cli`]; this only maps the outcome
//! to an exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    end_quietly_on_closed_pipe();
    keep_large_blocks();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Output into a closed pipe (`hopscope sql ... | head -1`) ends the process quietly, as it does
/// for other Unix tools, where Rust's default would panic in `println!`. Sockets are unaffected:
/// Rust writes to them with `MSG_NOSIGNAL`.
fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Import fills and frees a batch's worth of builders and Parquet buffers (tens of MB) over and
/// over. By default glibc serves blocks that large with `mmap` and unmaps them on free, so every
/// batch faulted its memory in again: page faults, `malloc` and `free` were about a fifth of the
/// parsing thread's profile. Served from the heap and not trimmed, they are reused. (mimalloc
/// did the same for import but tripled the analyzer's peak memory.)
fn keep_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first thing in main, before any allocation by another thread.
    unsafe {
        // 32 MiB is glibc's largest mmap threshold; trimming waits for 512 MiB free at the top.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
