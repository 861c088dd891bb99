use clap::Parser;

use govpack::cmd::cli::Cli;
use govpack::error::exit_code;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (the sixteenth option in v2 and v3 alike; the binding
/// names no constant for it), and its v3 default in milliseconds.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MI_DEFAULT_PURGE_DELAY: std::ffi::c_long = 1000;

/// Keeps the memory govpack frees for its next allocation instead of handing it back to the
/// system. An ingest frees and allocates a chunk's worth of columns every 200,000 rows; returned
/// memory came back as fresh pages the kernel had to zero, which took a quarter of an ingest's
/// time (measured: 1.39-1.72 s with 0.25-0.62 s of system time, against 1.15 s and 0.05 s, for a
/// 1 M-row file). The peak is the same; a `run` holds its ingest's memory through its KPIs
/// (about 5% more at its peak). Only when the option still has its default: a
/// `MIMALLOC_PURGE_DELAY` set by an operator, or an option that moved, is left alone.
fn keep_freed_memory() {
    // SAFETY: reading and setting a mimalloc option has no precondition.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

/// Keeps govpack's memory in ordinary pages. mimalloc asks for transparent huge pages on its large
/// regions; once another program (the DuckDB step of a run, a backup, the previous day's job) has
/// left memory fragmented, the kernel compacts memory to find each 2 MB page while govpack waits.
/// Measured on a 4.4 M-row ingest run just after a DuckDB job: 3.99-4.04 s with 0.83-1.00 s of
/// system time, against 3.73-3.81 s and 0.36-0.42 s in ordinary pages. A `MIMALLOC_ALLOW_THP`
/// set by an operator decides instead.
fn ordinary_pages() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE sets a flag of this process (and its children); the return
        // value only says whether the kernel knows the flag, and an old kernel changes nothing.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}

fn main() {
    ordinary_pages();
    keep_freed_memory();
    let cli = Cli::parse();
    if let Err(e) = govpack::cmd::cli::init_logging(&cli) {
        eprintln!("error: cannot open the log file: {e}");
        std::process::exit(govpack::error::EXIT_USAGE);
    }
    let code = match govpack::cmd::run(cli) {
        Ok(code) => code,
        // The reader of a pipe went away (`govpack status | head -1`): it has what it wanted, so
        // no message; but the command stopped there (a run records itself failed), so not 0.
        Err(error) if govpack::cmd::cli::is_closed_stdout(&error) => govpack::error::EXIT_CLOSED_PIPE,
        Err(error) => {
            eprintln!("error: {error:#}");
            exit_code(&error)
        }
    };
    std::process::exit(code);
}
