//! Signed evidence: an SSH signature (OpenSSH's PROTOCOL.sshsig) over a bundle's
//! `manifest.sha256`, in the namespace `govpack-evidence`.
//!
//! The hash beside the manifest proves only that the list was not changed by accident: anyone
//! who edits a file can rebuild both with `sha256sum`. A signature made with the MSP's key
//! cannot be rebuilt without the key, and an auditor checks it with stock OpenSSH and the MSP's
//! published public key (an `allowed_signers` file, ssh-keygen(1) "ALLOWED SIGNERS"), no govpack
//! needed: `ssh-keygen -Y verify -f allowed_signers -I <identity> -n govpack-evidence -s
//! manifest.sha256.sig < manifest.sha256`. Ed25519 signatures are deterministic, so a pack
//! regenerated from the same lake with the same key is still the same bytes.

use std::path::{Path, PathBuf};

use anyhow::Result;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use crate::error::UsageError;

/// The signature's namespace: a signature made for another purpose (a git commit, a file signed
/// with `ssh-keygen -Y sign -n file`) never passes as evidence, nor the reverse.
pub const NAMESPACE: &str = "govpack-evidence";
/// The signature file, beside the manifest it signs.
pub const FILE: &str = "manifest.sha256.sig";

/// The MSP's evidence signing key, read once per run.
pub struct EvidenceKey {
    key: PrivateKey,
}

impl EvidenceKey {
    /// The key `[evidence] signing_key` names, if any (relative to the config file).
    pub fn configured(config: &crate::config::Config) -> Result<Option<EvidenceKey>, UsageError> {
        config
            .evidence
            .signing_key
            .as_deref()
            .map(|path| EvidenceKey::load(&config.resolve(path)))
            .transpose()
    }

    /// Reads `[evidence] signing_key`: an OpenSSH ed25519 private key without a passphrase,
    /// readable by its owner only (what ssh itself asks of a private key).
    pub fn load(path: &Path) -> Result<EvidenceKey, UsageError> {
        let bad = |why: String| UsageError(format!("[evidence] signing_key {}: {why}", path.display()));
        // A pipe or a device named by mistake is refused at once, not waited on or read forever;
        // a link is followed (keys live on secrets mounts).
        let bytes = crate::files::read_regular(path, crate::files::Links::Follow, 64 << 10)
            .map_err(|e| bad(format!("cannot read: {e}")))?;
        let text =
            String::from_utf8(bytes).map_err(|_| bad("not an OpenSSH private key (not text)".into()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| bad(e.to_string()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(bad(format!(
                    "other users can read it (mode {:o}); make it readable by the service account only: chmod 600",
                    mode & 0o777
                )));
            }
        }
        let key = PrivateKey::from_openssh(&text).map_err(|e| {
            bad(format!(
                "not an OpenSSH private key ({e}); make one with ssh-keygen -t ed25519"
            ))
        })?;
        if key.is_encrypted() {
            return Err(bad(
                "the key has a passphrase, and the scheduled job has no one to type it: use a key without one, kept where only the service account can read it".into(),
            ));
        }
        if key.algorithm() != Algorithm::Ed25519 {
            return Err(bad(format!(
                "a {} key; evidence is signed with ed25519 keys (ssh-keygen -t ed25519)",
                key.algorithm()
            )));
        }
        Ok(EvidenceKey { key })
    }

    /// The armoured SSH signature of `manifest`, as `ssh-keygen -Y sign` writes it.
    pub fn sign(&self, manifest: &[u8]) -> Result<String> {
        let signature = self
            .key
            .sign(NAMESPACE, HashAlg::Sha512, manifest)
            .map_err(|e| anyhow::anyhow!("cannot sign the manifest: {e}"))?;
        signature
            .to_pem(LineEnding::LF)
            .map_err(|e| anyhow::anyhow!("cannot encode the manifest's signature: {e}"))
    }
}

/// One line of an `allowed_signers` file.
#[derive(Debug)]
struct AllowedSigner {
    principals: String,
    namespaces: Option<Vec<String>>,
    valid_after: Option<chrono::DateTime<chrono::Utc>>,
    valid_before: Option<chrono::DateTime<chrono::Utc>>,
    key: PublicKey,
}

/// The keys an auditor accepts evidence from, in OpenSSH's `allowed_signers` format
/// (`principals [options] keytype base64-key [comment]`, options `namespaces`, `valid-after`,
/// `valid-before`, `cert-authority`), so the file they give `ssh-keygen -Y verify` works here.
pub struct AllowedSigners {
    file: PathBuf,
    signers: Vec<AllowedSigner>,
}

impl AllowedSigners {
    pub fn read(file: &Path) -> Result<AllowedSigners, UsageError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| UsageError(format!("{}: cannot read: {e}", file.display())))?;
        let mut signers = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let signer = parse_signer(line)
                .map_err(|why| UsageError(format!("{} line {}: {why}", file.display(), i + 1)))?;
            // A certificate authority signs certificates; govpack's signatures are made by a
            // plain key, so such a line can never vouch for one.
            if let Some(signer) = signer {
                signers.push(signer);
            }
        }
        if signers.is_empty() {
            return Err(UsageError(format!("{}: no signer's key in it", file.display())));
        }
        Ok(AllowedSigners {
            file: file.to_path_buf(),
            signers,
        })
    }
}

fn parse_signer(line: &str) -> Result<Option<AllowedSigner>, String> {
    let fields = fields(line);
    let principals = fields[0].trim_matches('"').to_string();
    let is_key_type = |f: &str| f.parse::<Algorithm>().is_ok();
    let (options, key_at) = match fields.get(1) {
        Some(f) if is_key_type(f) => ("", 1),
        Some(f) => (*f, 2),
        None => return Err("no key after the principals".into()),
    };
    let key_text = fields
        .get(key_at..key_at + 2)
        .ok_or("no `keytype base64-key` on the line")?;
    let key =
        PublicKey::from_openssh(&key_text.join(" ")).map_err(|e| format!("not an SSH public key: {e}"))?;
    let mut signer = AllowedSigner {
        principals,
        namespaces: None,
        valid_after: None,
        valid_before: None,
        key,
    };
    for option in split_options(options) {
        let (name, value) = option.split_once('=').unwrap_or((option, ""));
        let value = value.trim_matches('"');
        match name.to_ascii_lowercase().as_str() {
            "cert-authority" => return Ok(None),
            "namespaces" => signer.namespaces = Some(value.split(',').map(str::to_string).collect()),
            "valid-after" => signer.valid_after = Some(signer_time(value)?),
            "valid-before" => signer.valid_before = Some(signer_time(value)?),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(Some(signer))
}

/// The line's fields, split at whitespace outside double quotes (quotes kept).
fn fields(line: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let (mut start, mut quoted) = (None, false);
    for (i, c) in line.char_indices() {
        if c == '"' {
            quoted = !quoted;
        }
        if c.is_whitespace() && !quoted {
            if let Some(s) = start.take() {
                fields.push(&line[s..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        fields.push(&line[s..]);
    }
    fields
}

/// `a,b="x,y",c` split at commas outside double quotes.
fn split_options(options: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in options.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&options[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&options[start..]);
    parts.retain(|p| !p.is_empty());
    parts
}

/// `YYYYMMDD[HHMM[SS]][Z]`, as ssh-keygen reads `valid-after` and `valid-before`: with `Z` in
/// UTC, without it in local time.
fn signer_time(value: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::TimeZone;
    let (digits, utc) = match value.strip_suffix(['Z', 'z']) {
        Some(d) => (d, true),
        None => (value, false),
    };
    let padded = match digits.len() {
        8 => format!("{digits}000000"),
        12 => format!("{digits}00"),
        14 => digits.to_string(),
        _ => String::new(),
    };
    let naive = chrono::NaiveDateTime::parse_from_str(&padded, "%Y%m%d%H%M%S")
        .map_err(|_| format!("`{value}` is not a time of the form YYYYMMDD[HHMM[SS]][Z]"))?;
    if utc {
        Ok(naive.and_utc())
    } else {
        chrono::Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok_or_else(|| format!("`{value}` does not exist in local time"))
    }
}

/// What the signature of a bundle says: who sealed it, or what is wrong. `signature` is the
/// content of `manifest.sha256.sig` when the bundle has one.
pub fn check(
    manifest: &[u8],
    signature: Option<&str>,
    allowed: Option<&AllowedSigners>,
) -> Result<Option<String>, String> {
    let Some(signature) = signature else {
        return match allowed {
            Some(_) => Err(format!("the bundle is not signed: it has no {FILE}")),
            None => Ok(None),
        };
    };
    let signature =
        SshSig::from_pem(signature).map_err(|e| format!("{FILE} is not an SSH signature: {e}"))?;
    if signature.namespace() != NAMESPACE {
        return Err(format!(
            "{FILE} was made for `{}`, not for govpack evidence (`{NAMESPACE}`)",
            signature.namespace()
        ));
    }
    let key = PublicKey::from(signature.public_key().clone());
    let fingerprint = key.fingerprint(HashAlg::Sha256);
    key.verify(NAMESPACE, manifest, &signature).map_err(|_| {
        format!(
            "{FILE} does not match {}: the manifest was changed after it was signed",
            super::bundle::MANIFEST
        )
    })?;
    let Some(allowed) = allowed else {
        return Ok(Some(format!(
            "signed by key {fingerprint} (give --allowed-signers to check it is the MSP's)"
        )));
    };
    let now = chrono::Utc::now();
    let mut refused = None;
    for signer in allowed
        .signers
        .iter()
        .filter(|s| s.key.key_data() == key.key_data())
    {
        if signer
            .namespaces
            .as_ref()
            .is_some_and(|n| !n.iter().any(|n| n == NAMESPACE))
        {
            refused = Some(format!(
                "its line for {} does not allow the namespace {NAMESPACE}",
                signer.principals
            ));
        } else if signer.valid_after.is_some_and(|t| now < t) || signer.valid_before.is_some_and(|t| now > t)
        {
            refused = Some(format!(
                "its line for {} is not valid now (valid-after/valid-before)",
                signer.principals
            ));
        } else {
            return Ok(Some(format!(
                "signed by {} (key {fingerprint})",
                signer.principals
            )));
        }
    }
    Err(format!(
        "signed by key {fingerprint}, which {}: it is not a signature of the MSP",
        refused.map_or_else(
            || format!("is not in {}", allowed.file.display()),
            |why| format!("{} has, but {why}", allowed.file.display())
        )
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_signer_lines_read_as_ssh_keygen_reads_them() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP4WjWIvIYbLU9910FlctXIgRVJbMcFwnHtsdgbmH4NB";
        let plain = parse_signer(&format!("evidence@msp.example {key} comment words"))
            .unwrap()
            .unwrap();
        assert_eq!(plain.principals, "evidence@msp.example");
        assert_eq!(plain.namespaces, None);
        let with_options = parse_signer(&format!(
            "\"a@x,b@y\" namespaces=\"file,govpack-evidence\",valid-after=20260101Z {key}"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(with_options.principals, "a@x,b@y");
        assert_eq!(
            with_options.namespaces,
            Some(vec!["file".to_string(), "govpack-evidence".to_string()])
        );
        assert_eq!(
            with_options.valid_after.unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert!(
            parse_signer(&format!("ca@x cert-authority {key}"))
                .unwrap()
                .is_none()
        );
        assert!(
            parse_signer(&format!("a@x no-such-option {key}"))
                .unwrap_err()
                .contains("unknown option")
        );
        assert!(parse_signer("a@x ssh-ed25519 not-base64").is_err());
        assert!(signer_time("2026-01-01").is_err());
    }
}
