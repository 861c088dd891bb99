//! `govpack config`: the configuration in effect.
//!
//! Prints every setting with its value and where the value came from: the config file (named
//! with `--config`, else `./govpack.toml`) or govpack's default. Mapping tables merge with their
//! defaults key by key, so a file that sets one key of a table shows that key from the file and
//! the others from the defaults. Reads nothing else and writes nothing.

use anyhow::{Context, Result};

use crate::cmd::cli::GlobalArgs;
use crate::config::{Config, toml_key};

/// Print the configuration in effect: every key, its value, and whether it came from the file
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  govpack config --config /etc/govpack/govpack.toml")]
pub struct Args {}

pub fn run(global: &GlobalArgs, _args: Args) -> Result<i32> {
    let config = global.load_config()?;
    let file = Config::file_in_effect(global.config.as_deref())?;
    let given: toml::Table = match &file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .parse()
            .with_context(|| format!("{} is not TOML", path.display()))?,
        None => toml::Table::new(),
    };
    let effective = toml::Table::try_from(&config).context("cannot render the configuration")?;
    match &file {
        Some(path) => outln!(
            "# configuration in effect: {} over govpack's defaults",
            path.display()
        ),
        None => outln!("# configuration in effect: govpack's defaults (no config file)"),
    }
    for (key, value, from_file) in settings(&effective, Some(&given), "") {
        let origin = if from_file { "file" } else { "default" };
        outln!("{key} = {value}    # {origin}");
    }
    Ok(0)
}

/// Every leaf setting (a value that is no table) as its dotted key, its TOML text and whether
/// the file set it.
fn settings(
    effective: &toml::Table,
    given: Option<&toml::Table>,
    prefix: &str,
) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for (name, value) in effective {
        let key = if prefix.is_empty() {
            toml_key(name)
        } else {
            format!("{prefix}.{}", toml_key(name))
        };
        let in_file = given.and_then(|g| g.get(name));
        match value {
            toml::Value::Table(table) => {
                out.extend(settings(table, in_file.and_then(toml::Value::as_table), &key));
            }
            other => out.push((key, other.to_string(), in_file.is_some())),
        }
    }
    out
}
