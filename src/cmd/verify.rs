//! `govpack verify BUNDLE [--allowed-signers FILE]`: re-checks an evidence bundle.
//!
//! Recomputes the SHA-256 of every file listed in the bundle's `manifest.sha256`, checks the
//! manifest against `manifest.sha256.sha256` and the digest the proof brief quotes, and reports
//! files changed, missing, listed outside the bundle, or present but not listed. It reads only
//! the bundle's regular files: a symbolic link, a pipe or a device in a received bundle is a
//! problem reported, never followed or opened. With
//! `--allowed-signers`, the bundle must carry `manifest.sha256.sig` made by one of those keys.
//! Exit 0 when the bundle is intact, 1 when anything is wrong. The same checks work without
//! govpack: `sha256sum -c manifest.sha256` and `ssh-keygen -Y verify` (see the README).

use std::path::PathBuf;

use anyhow::Result;

use crate::cmd::cli::GlobalArgs;
use crate::reports::bundle;
use crate::reports::signature::AllowedSigners;

/// Re-check an evidence bundle against its SHA-256 manifest and signature
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  govpack verify reports/2026-10/evidence-portfolio-2026-10\n  \
govpack verify --allowed-signers msp_allowed_signers reports/2026-10/evidence-portfolio-2026-10\n\n\
An allowed_signers line (OpenSSH's format, the file `ssh-keygen -Y verify -f` reads):\n  \
evidence@msp.example namespaces=\"govpack-evidence\" ssh-ed25519 AAAAC3Nz..."
)]
pub struct Args {
    /// The bundle folder (evidence-<scope>-YYYY-MM)
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// The MSP's published public keys, in OpenSSH's allowed_signers format: the bundle must be
    /// signed (manifest.sha256.sig) by one of them. Without it, a signature present is checked
    /// against the key it names, which proves nothing about who made it.
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
}

pub fn run(_global: &GlobalArgs, args: Args) -> Result<i32> {
    let allowed = args
        .allowed_signers
        .as_deref()
        .map(AllowedSigners::read)
        .transpose()?;
    let checked = bundle::check(&args.bundle, allowed.as_ref())?;
    if checked.problems.is_empty() {
        outln!(
            "{}: intact (every file matches manifest.sha256, the manifest its hash and the digest the proof brief quotes{})",
            args.bundle.display(),
            checked
                .sealed_by
                .map_or_else(|| "; not signed".to_string(), |by| format!("; {by}"))
        );
        return Ok(0);
    }
    for p in &checked.problems {
        eprintln!("{}: {p}", args.bundle.display());
    }
    eprintln!(
        "{}: {} problem(s): the bundle is not the one that was issued",
        args.bundle.display(),
        checked.problems.len()
    );
    Ok(1)
}
