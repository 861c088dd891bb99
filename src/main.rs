use clap::Parser;

use govpack::cli::Cli;
use govpack::error::exit_code;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    if let Err(e) = govpack::cli::init_logging(&cli) {
        eprintln!("error: cannot open the log file: {e}");
        std::process::exit(govpack::error::EXIT_USAGE);
    }
    let code = match govpack::cmd::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            exit_code(&error)
        }
    };
    std::process::exit(code);
}
