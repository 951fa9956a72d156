//! Pins made under temporary names and renamed into place at the end, so that even SIGKILL leaves all of a command's pins or none (plus temporaries a later run removes).

use std::path::{Path, PathBuf};

use anyhow::Result;
use nix::errno::Errno;
use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};

/// Temporaries are named `rbt-tmp-<pid>-<final name>` (bpffs refuses dots in names).
pub const PREFIX: &str = "rbt-tmp-";

/// The temporary path for `final_path`: in the same directory (so a rename moves it into
/// place), named after this process.
pub fn temp_path(final_path: &Path) -> PathBuf {
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = format!("{PREFIX}{}-{name}", std::process::id());
    match final_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(tmp),
        _ => PathBuf::from(tmp),
    }
}

/// The pid a temporary name was made by, if `name` is one.
pub fn owner_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix(PREFIX)?;
    let (pid, final_name) = rest.split_once('-')?;
    if final_name.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok().filter(|p| *p > 0)
}

/// Rename `from` to `to` in one step, failing (EEXIST) rather than replacing what is at `to`.
pub fn rename_noreplace(from: &Path, to: &Path) -> Result<()> {
    renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE).map_err(|e| {
        let why = if e == Errno::EEXIST {
            "it exists already (made by someone else meanwhile)".to_owned()
        } else {
            e.desc().to_owned()
        };
        anyhow::anyhow!(
            "moving {} into place at {}: {why}",
            from.display(),
            to.display()
        )
    })
}

fn alive(pid: i32) -> bool {
    // Signal 0 checks that the process exists; EPERM means it exists but is not ours.
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(Errno::ESRCH)
    )
}

/// Remove the temporaries in `dir` whose rbt is no longer running (killed before it could
/// rename or remove them), as (path, pid). Only in a directory on a bpffs that no other user
/// can change; a temporary of a running rbt (another one, or this one) is left alone.
pub fn remove_stale(dir: &Path) -> Vec<(PathBuf, i32)> {
    let mut removed = Vec::new();
    if !dir.is_dir()
        || !super::bpffs::is_bpffs(dir)
        || super::bpffs::check_trusted_dir(dir).is_err()
    {
        return removed;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = owner_pid(&name) else {
            continue;
        };
        if pid == me || alive(pid) {
            continue;
        }
        let path = entry.path();
        let gone = match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        if gone.is_ok() {
            removed.push((path, pid));
        }
    }
    removed.sort();
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_carry_the_pid_and_stay_in_the_directory() {
        let t = temp_path(Path::new("/sys/fs/bpf/x/prog"));
        let pid = std::process::id();
        assert_eq!(
            t,
            PathBuf::from(format!("/sys/fs/bpf/x/rbt-tmp-{pid}-prog"))
        );
        let name = t.file_name().unwrap_or_default().to_string_lossy();
        assert_eq!(owner_pid(&name), i32::try_from(pid).ok());
    }

    #[test]
    fn only_rbt_temporaries_have_an_owner() {
        assert_eq!(owner_pid("rbt-tmp-42-xdp_prog"), Some(42));
        assert_eq!(owner_pid("rbt-tmp-42-a-b"), Some(42));
        for not in [
            "prog",
            "rbt-tmp-",
            "rbt-tmp-42",
            "rbt-tmp-42-",
            "rbt-tmp-x-prog",
            "rbt-tmp--prog",
            "rbt-tmp-0-prog",
            "rbt-tmp-+4-prog",
            "rbt-tmp-99999999999-prog",
        ] {
            assert_eq!(owner_pid(not), None, "{not}");
        }
    }
}
