use clap::Parser;

use govpack::cli::Cli;
use govpack::error::exit_code;

fn main() {
    let cli = Cli::parse();
    govpack::cli::init_logging(cli.global.verbose);
    let code = match govpack::cmd::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            exit_code(&error)
        }
    };
    std::process::exit(code);
}
