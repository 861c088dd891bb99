//! Errors that decide the exit code: a `UsageError` (bad arguments, a bad config) exits 2, any
//! another run holding the lake's lock exits 3 (nothing was done: try again later), any other
//! error exits 1 (the job failed), and a command whose standard output was closed under it (the
//! end of a pipe) stops quietly with 141, as if by SIGPIPE. Exit 0 is success, quarantined rows
//! included.

use std::fmt;

/// The user asked for something govpack cannot do as asked: fix the command or the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Another govpack run holds the lake's lock; this one did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeBusy(pub String);

impl fmt::Display for LakeBusy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LakeBusy {}

pub const EXIT_OK: i32 = 0;
pub const EXIT_JOB_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_LAKE_BUSY: i32 = 3;
/// Standard output's reader went away (`govpack status | head -1`): what a shell reports for a
/// program ended by SIGPIPE (128 + 13), so a job cut short there never reads as a success.
pub const EXIT_CLOSED_PIPE: i32 = 141;

/// The exit code for an error that reached the top.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    if error.chain().any(|e| e.downcast_ref::<UsageError>().is_some()) {
        EXIT_USAGE
    } else if error.chain().any(|e| e.downcast_ref::<LakeBusy>().is_some()) {
        EXIT_LAKE_BUSY
    } else {
        EXIT_JOB_FAILED
    }
}
