//! `govpack init`: writes a documented config file and creates the lake folder.
//!
//! Writes `govpack.toml` (or the `--config FILE` path) holding every setting with its default
//! and an explanation, then creates the lake folder the config names. Refuses to overwrite an
//! existing config unless `--force` is given.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cmd::cli::GlobalArgs;
use crate::config::{Config, DEFAULT_CONFIG_PATH, default_config_text};
use crate::error::UsageError;
use crate::lake::Lake;

/// Write a documented govpack.toml and create the lake folder
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  govpack init\n  govpack --config /etc/govpack/govpack.toml init")]
pub struct Args {
    /// Overwrite an existing config file
    #[arg(long)]
    pub force: bool,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<i32> {
    let path = global
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH));
    if path.exists() && !args.force {
        return Err(UsageError(format!(
            "{} already exists (use --force to overwrite it)",
            path.display()
        ))
        .into());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    crate::files::write_atomic(&path, |f| {
        use std::io::Write;
        f.write_all(default_config_text().as_bytes()).map_err(Into::into)
    })?;
    let config = Config::load(Some(&path))?;
    let lake = Lake::open(&config.lake_dir(global.lake.as_deref()))?;
    outln!("wrote {} (every setting with its default)", path.display());
    outln!("lake folder: {}", lake.root().display());
    outln!("next: govpack ingest <exports folder or files>");
    Ok(0)
}
