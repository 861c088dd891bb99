//! `out!` and `outln!`: `print!` and `println!` for commands, returning a write error instead
//! of panicking (`cmd::cli::write_stdout`). Declared first in lib.rs, so every module may use them.

/// `print!` that returns its error from the enclosing function (`write_stdout`).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cmd::cli::write_stdout(format_args!($($arg)*))?
    };
}

/// `println!` that returns its error from the enclosing function (`write_stdout`).
macro_rules! outln {
    () => {
        $crate::cmd::cli::write_stdout(format_args!("\n"))?
    };
    ($($arg:tt)*) => {
        $crate::cmd::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*)))?
    };
}
