// BPF object files: checking that a file is a BPF ELF, opening it with libbpf-rs with
// bpftool's load options, loading it, and pinning what it holds.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use libbpf_rs::{
    AsRawLibbpf, MapCore, Object, ObjectBuilder, OpenObject, ProgramAttachType, ProgramType,
};

use super::log;
use crate::error::hinted;
use crate::rollback::Rollback;

const EM_BPF: u16 = 247;

/// Which map of the object a `map {idx N | name NAME} MAP` option replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapSelector {
    Idx(usize),
    Name(String),
}

/// bpftool's load options.
pub struct LoadSpec<'a> {
    pub path: &'a Path,
    /// (prog type, expected attach type) from `type TYPE`.
    pub prog_type: Option<(u32, u32)>,
    pub reuse_maps: Vec<(MapSelector, OwnedFd)>,
    /// Ask the verifier for its log even when the load succeeds.
    pub want_log: bool,
    /// Where maps the object pins by name (LIBBPF_PIN_BY_NAME) go, instead of /sys/fs/bpf.
    pub pin_root: Option<&'a Path>,
}

/// Parse a `type TYPE` word the way bpftool does (libbpf's section-name rules:
/// "xdp", "tc", "kprobe", "tracepoint", "cgroup/skb", ...).
pub fn parse_prog_type(name: &str) -> Option<(u32, u32)> {
    let c = CString::new(name).ok()?;
    let mut prog_type = 0u32;
    let mut attach_type = 0u32;
    // SAFETY: `c` is NUL-terminated; both out pointers are valid for the call.
    let ret = unsafe {
        libbpf_sys::libbpf_prog_type_by_name(c.as_ptr(), &mut prog_type, &mut attach_type)
    };
    if ret == 0 {
        return Some((prog_type, attach_type));
    }
    // bpftool also takes its own names of program types ("sched_cls", ...).
    super::prog::prog_type_by_name(name).map(|t| (t, 0))
}

/// Check that `path` is a readable BPF ELF object, with a message that says what it is
/// otherwise.
pub fn check_file(path: &Path) -> Result<()> {
    let shown = path.display();
    let meta =
        std::fs::metadata(path).with_context(|| format!("{shown}: cannot open object file"))?;
    if meta.is_dir() {
        anyhow::bail!("{shown}: is a directory, not a BPF object file");
    }
    if meta.len() == 0 {
        anyhow::bail!("{shown}: is empty, not a BPF object file");
    }
    let mut head = [0u8; 20];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .with_context(|| format!("{shown}: cannot read object file"))?;
    if n < 4 || &head[..4] != b"\x7fELF" {
        return Err(hinted(
            format!("{shown}: is not an ELF file, so not a BPF object"),
            "compile BPF C with: clang -O2 -g -target bpf -c prog.bpf.c -o prog.bpf.o",
        ));
    }
    if n < 20 {
        anyhow::bail!("{shown}: is a truncated ELF file");
    }
    let machine = if head[5] == 2 {
        u16::from_be_bytes([head[18], head[19]])
    } else {
        u16::from_le_bytes([head[18], head[19]])
    };
    if machine != EM_BPF {
        return Err(hinted(
            format!(
                "{shown}: is an ELF file for {}, not a BPF object",
                machine_name(machine)
            ),
            "compile BPF C with: clang -O2 -g -target bpf -c prog.bpf.c -o prog.bpf.o",
        ));
    }
    Ok(())
}

fn machine_name(machine: u16) -> String {
    match machine {
        3 => "x86 (i386)".into(),
        40 => "ARM".into(),
        62 => "x86-64".into(),
        183 => "AArch64".into(),
        243 => "RISC-V".into(),
        m => format!("machine type {m}"),
    }
}

/// Open the object and apply the options; nothing is in the kernel yet.
pub fn open(spec: &LoadSpec<'_>) -> Result<OpenObject> {
    check_file(spec.path)?;
    log::take();
    let mut builder = ObjectBuilder::default();
    if let Some(root) = spec.pin_root {
        builder
            .pin_root_path(root)
            .with_context(|| format!("{}: not usable as a pin directory", root.display()))?;
    }
    let legacy = read_legacy(spec.path)?;
    let mut open = match &legacy {
        None => builder
            .open_file(spec.path)
            .map_err(|e| invalid_object(spec.path, e))?,
        Some(converted) => {
            // The name libbpf gives an object it opens from a file, so that its internal
            // maps (.data, .bss) keep their names.
            builder
                .name(object_name(spec.path))
                .with_context(|| format!("{}: file name not usable", spec.path.display()))?;
            builder
                .open_memory(&converted.object)
                .map_err(|e| invalid_object(spec.path, e))?
        }
    };
    if let Some(converted) = &legacy {
        set_legacy_pins(&mut open, converted, spec.pin_root.is_some())?;
    }
    if open.progs().next().is_none() {
        anyhow::bail!("{}: holds no BPF program", spec.path.display());
    }
    for mut prog in open.progs_mut() {
        if let Some((t, attach)) = spec.prog_type {
            prog.set_prog_type(ProgramType::from(t));
            if attach != 0 {
                prog.set_attach_type(ProgramAttachType::from(attach));
            }
        }
        if spec.want_log {
            prog.set_log_level(1);
        }
    }
    for (selector, fd) in &spec.reuse_maps {
        let names: Vec<String> = open
            .maps()
            .map(|m| m.name().to_string_lossy().into_owned())
            .collect();
        let index = match selector {
            MapSelector::Idx(i) if *i < names.len() => *i,
            MapSelector::Idx(i) => anyhow::bail!(
                "map idx {i}: the object has {} maps ({})",
                names.len(),
                names.join(", ")
            ),
            MapSelector::Name(n) => names.iter().position(|m| m == n).with_context(|| {
                format!(
                    "map name {n}: the object has no such map (it has: {})",
                    names.join(", ")
                )
            })?,
        };
        let mut map = open
            .maps_mut()
            .nth(index)
            .context("map index out of range")?;
        map.reuse_fd(fd.as_fd())
            .with_context(|| format!("reusing a map for {}", names[index]))?;
    }
    Ok(open)
}

/// The object rewritten into one libbpf accepts when its maps are in a legacy `maps`
/// section, else None (libbpf opens the file itself).
fn read_legacy(path: &Path) -> Result<Option<super::legacy::Converted>> {
    let data = crate::input::read_file(path, MAX_OBJECT, "reading object file")?;
    if !super::legacy::has_maps_section(&data) {
        return Ok(None);
    }
    super::legacy::convert(&data)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{}: legacy `maps` section: {e:#}", path.display()))
}

/// Largest object file read into memory for the legacy rewrite.
const MAX_OBJECT: u64 = 256 << 20;

/// Write the rewritten object of a file with a legacy `maps` section to `to` (a new file).
pub fn rewrite_to(path: &Path, to: &Path) -> Result<()> {
    let converted = read_legacy(path)?.with_context(|| {
        format!(
            "{}: has no legacy `maps` section, nothing to rewrite",
            path.display()
        )
    })?;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(to)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
                "--rewrite-to {}: exists already; rbt writes only a new file",
                to.display()
            ),
            _ => anyhow::Error::new(e).context(format!("--rewrite-to {}", to.display())),
        })?;
    std::io::Write::write_all(&mut out, &converted.object)
        .with_context(|| format!("writing {}", to.display()))?;
    crate::output::status_line(&format!(
        "{}: {} legacy map(s) ({}) rewritten as BTF-defined maps into {}",
        path.display(),
        converted.maps.len(),
        converted.layout.describe(),
        to.display()
    ));
    Ok(())
}

/// libbpf's name for an object opened from `path`: the file name up to its first dot.
fn object_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    stem.chars().take(63).collect()
}

/// Maps of a legacy object pinned by name where iproute2 or Aya pin them (unless `pinmaps
/// DIR` puts all of the object's maps under DIR).
fn set_legacy_pins(
    open: &mut OpenObject,
    converted: &super::legacy::Converted,
    pinmaps: bool,
) -> Result<()> {
    if pinmaps {
        return Ok(());
    }
    for pin in &converted.pins {
        if let Some(mut map) = open
            .maps_mut()
            .find(|m| m.name().to_string_lossy() == pin.map)
        {
            map.set_pin_path(&pin.path)
                .with_context(|| format!("map {}: pin path {}", pin.map, pin.path.display()))?;
        }
    }
    Ok(())
}

fn invalid_object(path: &Path, err: libbpf_rs::Error) -> anyhow::Error {
    let said = log::take();
    let detail = said
        .lines()
        .rev()
        .find(|l| l.starts_with("libbpf: elf") || l.starts_with("libbpf: "))
        .map(|l| l.trim_start_matches("libbpf: ").to_owned())
        .unwrap_or_else(|| err.to_string());
    anyhow::anyhow!("{}: not a valid BPF object: {detail}", path.display())
}

/// Load an opened object into the kernel. A verifier rejection names the program, the
/// errno and the end of the verifier log.
pub fn load(open: OpenObject, path: &Path, log_file: Option<&Path>) -> Result<Object> {
    let prog_names: Vec<String> = open
        .progs()
        .map(|p| p.name().to_string_lossy().into_owned())
        .collect();
    // Programs that need a BPF trampoline, which some kernels refuse (EPERM).
    let trampolines: Vec<String> = open
        .progs()
        .filter(|p| {
            let sec = p.section().to_string_lossy();
            ["fentry", "fexit", "fmod_ret", "lsm"]
                .iter()
                .any(|k| sec.starts_with(k))
        })
        .map(|p| p.name().to_string_lossy().into_owned())
        .collect();
    let result = open.load();
    let said = log::take();
    let verifier = log::verifier_log(&said);
    if let (Some(file), Some(text)) = (log_file, verifier.as_deref()) {
        let mut out = crate::input::create(file, "--log")?;
        std::io::Write::write_all(&mut out, format!("{text}\n").as_bytes())
            .with_context(|| format!("writing the verifier log to {}", file.display()))?;
    }
    match result {
        Ok(obj) => Ok(obj),
        Err(err) => Err(load_error(
            path,
            &prog_names,
            &trampolines,
            &said,
            verifier,
            err,
        )),
    }
}

fn load_error(
    path: &Path,
    prog_names: &[String],
    trampolines: &[String],
    said: &str,
    verifier: Option<String>,
    err: libbpf_rs::Error,
) -> anyhow::Error {
    let failed = prog_names
        .iter()
        .find(|n| said.contains(&format!("prog '{n}': failed to load")))
        .or_else(|| {
            prog_names
                .iter()
                .find(|n| said.contains(&format!("prog '{n}'")))
        });
    let cause = said
        .lines()
        .filter(|l| !l.contains("PROG LOAD LOG"))
        .rfind(|l| l.starts_with("libbpf: "))
        .map(|l| l.trim_start_matches("libbpf: ").to_owned());
    let code = said
        .lines()
        .find_map(|l| l.split("failed to load: -").nth(1))
        .and_then(|n| n.trim().parse::<i32>().ok());
    let why = match code {
        Some(c) => format!(
            "{} ({})",
            std::io::Error::from_raw_os_error(c),
            super::errno_name(c)
        ),
        None => err.to_string(),
    };
    let mut msg = match failed {
        Some(name) => format!("{}: program '{name}' failed to load: {why}", path.display()),
        None => format!("{}: loading failed: {why}", path.display()),
    };
    match verifier {
        Some(log) if !log.is_empty() => {
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(20)..];
            msg.push_str("\nverifier log (last lines):\n");
            msg.push_str(&tail.join("\n"));
            hinted(msg, "the whole verifier log: rerun with -d, or --log FILE")
        }
        _ => {
            if let Some(cause) = cause {
                msg.push_str(&format!(" ({cause})"));
            }
            match (err.kind(), super::caps::missing_hint()) {
                (libbpf_rs::ErrorKind::PermissionDenied, Some(hint)) => hinted(msg, hint),
                (libbpf_rs::ErrorKind::PermissionDenied, None)
                    if failed.is_some_and(|n| trampolines.contains(n)) =>
                {
                    hinted(
                        format!(
                            "{msg}: this kernel refuses BPF trampolines (fentry/fexit/fmod_ret/lsm), e.g. under lockdown"
                        ),
                        "use a tracepoint or raw_tracepoint instead, or a kernel that allows trampolines (`make vmtest` boots one)",
                    )
                }
                _ => anyhow::anyhow!(msg),
            }
        }
    }
}

/// The maps of an opened object that libbpf will pin by name (LIBBPF_PIN_BY_NAME) when it
/// loads it, with the path it will use (under the pin root given at open).
pub fn pinned_by_name(open: &OpenObject) -> Vec<(String, PathBuf)> {
    open.maps()
        .filter_map(|m| {
            // SAFETY: the pointer is the live bpf_map behind `m`, borrowed from `open`;
            // bpf_map__pin_path returns NULL or a NUL-terminated string the map owns,
            // which is copied before the borrow ends.
            let path = unsafe {
                let p = libbpf_sys::bpf_map__pin_path(m.as_libbpf_object().as_ptr());
                if p.is_null() {
                    return None;
                }
                std::ffi::CStr::from_ptr(p).to_bytes().to_vec()
            };
            let name = m.name().to_string_lossy().into_owned();
            Some((name, PathBuf::from(std::ffi::OsString::from_vec(path))))
        })
        .collect()
}

/// Make sure `dir` can take pins: an existing trusted directory on a bpffs, or one created
/// here (mode 0700), whose removal `rollback` undoes unless the caller commits.
pub fn prepare_pin_dir(dir: &Path, rollback: &mut Rollback<'_>) -> Result<()> {
    if dir.exists() {
        return super::bpffs::check_trusted_dir(dir);
    }
    super::bpffs::check_pin_path(dir)?;
    for made in super::bpffs::create_dirs(dir)? {
        rollback.push(move || {
            let _ = std::fs::remove_dir(&made);
        });
    }
    Ok(())
}

/// Pin every map of a loaded object under `dir` (made ready by `prepare_pin_dir`), by map
/// name with `.` made `_` (as libbpf does: bpffs names cannot hold dots); maps libbpf pinned
/// by name are there already. Each pin is undone by `rollback` unless the caller commits.
/// With `staged`, each map is pinned under its temporary name (`staging::temp_path`) and
/// the (temporary, final) pairs are returned for the caller to rename into place.
pub fn pin_maps(
    obj: &mut Object,
    dir: &Path,
    staged: bool,
    rollback: &mut Rollback<'_>,
) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut moves = Vec::new();
    for map in obj.maps() {
        if map.is_pinned() {
            continue;
        }
        let name = map.name().to_string_lossy().replace('.', "_");
        let fin = dir.join(&name);
        let path = if staged {
            super::staging::temp_path(&fin)
        } else {
            fin.clone()
        };
        super::obj_pin(map.as_fd(), &path).with_context(|| format!("pinning map {name}"))?;
        if staged {
            moves.push((path.clone(), fin));
        }
        rollback.push(move || {
            let _ = std::fs::remove_file(&path);
        });
    }
    Ok(moves)
}
