// Files the user names on the command line: read bounded (no /dev/zero eating memory, no FIFO
// hanging rbt), and written without following a symlink planted where the file goes.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};

/// The most `prog run` reads for data_in or ctx_in (the kernel's own limits are lower for
/// most program types).
pub const MAX_DATA: u64 = 64 << 20;
/// The largest JSON object (one map element) `map update --from` reads.
pub const MAX_OBJECT: usize = 10 << 20;
/// The largest ELF file read for uprobe and usdt symbols and notes.
pub const MAX_ELF: u64 = 4 << 30;

/// Open a file the user named, to read: a regular file only (a FIFO, device or directory is
/// an error, and opening never waits for a writer).
pub fn open_regular(path: &Path, what: &str) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("{what} {}", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("{what} {}", path.display()))?;
    if !meta.is_file() {
        anyhow::bail!(
            "{what} {}: not a regular file ({})",
            path.display(),
            file_kind(&meta)
        );
    }
    Ok(file)
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// The whole of a regular file, refused when it is larger than `limit` bytes.
pub fn read_file(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let file = open_regular(path, what)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > limit {
        anyhow::bail!(
            "{what} {}: {len} bytes, more than the {} rbt reads",
            path.display(),
            size_text(limit)
        );
    }
    read_all(file, limit, &format!("{what} {}", path.display()))
}

/// All of `reader` (stdin, a file), refused past `limit` bytes.
pub fn read_all(reader: impl Read, limit: u64, what: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("reading {what}"))?;
    if buf.len() as u64 > limit {
        anyhow::bail!("{what}: more than the {} rbt reads", size_text(limit));
    }
    Ok(buf)
}

/// Create (or truncate) a file to write, refusing a symlink at `path`: as root, a link
/// planted in a world-writable directory must not redirect the write.
pub fn create(path: &Path, what: &str) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => anyhow::anyhow!(
                "{what} {}: is a symbolic link; rbt does not write through one",
                path.display()
            ),
            _ => anyhow::Error::new(e).context(format!("{what} {}", path.display())),
        })
}

fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let zeros = std::io::repeat(0);
        let err = read_all(zeros, 1 << 20, "stdin").unwrap_err();
        assert!(format!("{err}").contains("more than the 1 MiB"), "{err}");
    }

    #[test]
    fn devices_and_symlinks_are_refused() {
        let err = read_file(Path::new("/dev/zero"), MAX_DATA, "data_in").unwrap_err();
        assert!(
            format!("{err}").contains("not a regular file (a device)"),
            "{err}"
        );
        let dir = std::env::temp_dir().join(format!("rbt-input-{}", std::process::id()));
        let _ = std::fs::create_dir(&dir);
        let link = dir.join("link");
        let _ = std::os::unix::fs::symlink(dir.join("target"), &link);
        let err = create(&link, "data_out").unwrap_err();
        assert!(format!("{err}").contains("symbolic link"), "{err}");
        assert!(!dir.join("target").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
