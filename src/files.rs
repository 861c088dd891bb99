//! Files govpack writes and checks: written whole or not at all (a temporary file beside the
//! target, synced, renamed over it, the folder synced), and SHA-256 digests in hex. Every layer
//! that writes a file or names one by its digest uses these.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// Whether opening a file may follow a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// A link is refused: the file must be the path itself (what a bundle or the inbox holds).
    Refuse,
    /// A link is followed (a key kept on a secrets mount), to a regular file all the same.
    Follow,
}

/// Opens `path` for reading only if it is a regular file. A pipe (which blocks until someone
/// writes to it), a device (`/dev/zero` never ends) or a socket is refused without waiting, and,
/// with `Links::Refuse`, so is a symbolic link.
pub fn open_regular(path: &Path, links: Links) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if links == Links::Refuse {
            libc::O_NOFOLLOW
        } else {
            0
        };
        options.custom_flags(libc::O_NONBLOCK | nofollow);
    }
    #[cfg(not(unix))]
    if links == Links::Refuse && std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(std::io::Error::other("a symbolic link, not a file"));
    }
    let file = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) && links == Links::Refuse {
            return std::io::Error::other("a symbolic link, not a file");
        }
        e
    })?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a pipe, socket, device or folder)",
        ));
    }
    Ok(file)
}

/// A regular file's bytes (`open_regular`), refused past `limit` bytes.
pub fn read_regular(path: &Path, links: Links, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    open_regular(path, links)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!("larger than {limit} bytes")));
    }
    Ok(bytes)
}

/// The SHA-256 of a regular file (`open_regular`), streamed: memory stays flat whatever its size.
pub fn sha256_of_file(path: &Path, links: Links) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = open_regular(path, links)?;
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut block)? {
            0 => break,
            n => hasher.update(&block[..n]),
        }
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes through `write` into a hidden temporary file beside `path`, then renames it over
/// `path`. If `write` fails, the temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
    let mut temp = temp_beside(path)?;
    write(temp.as_file_mut()).with_context(|| format!("writing {}", path.display()))?;
    temp.as_file_mut().flush()?;
    put_in_place(temp, path)
}

/// Like `write_atomic`, for writers that take a path (DuckDB's COPY): `write` gets the path of
/// the temporary file to fill.
pub fn write_atomic_path(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let temp = temp_beside(path)?;
    write(temp.path()).with_context(|| format!("writing {}", path.display()))?;
    put_in_place(temp, path)
}

fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".govpack-").suffix(".partial");
    // Temporary files are private by default; the lake is read by other accounts (a Power BI
    // gateway, an auditor), so the file takes the usual permissions of a data file.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    builder
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))
}

fn put_in_place(temp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    // Sync by path: a writer that took the path may have replaced the file behind the handle.
    File::open(temp.path())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot sync {}", path.display()))?;
    temp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot move the new {} into place", path.display()))?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// Makes a folder's entries (a rename into it, a new subfolder) durable. A no-op where folders
/// cannot be opened as files (Windows, whose renames are journaled by NTFS).
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync the folder {}", dir.display()))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
