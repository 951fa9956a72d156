// `prog` verbs: show, pin, load, loadall, run; the program record and its table row.
// `dump` (xlated and jited code) lives in dump.rs and jited.rs.

mod dump;
mod jited;
mod profile;

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::bpf::object::{self, LoadSpec, MapSelector};
use crate::bpf::pids::PidRef;
use crate::bpf::{self, bpffs, Kind};
use crate::cli::{Globals, LoadArgs, ProgVerb};
use crate::cmd::object_verbs::{self, ShowContext};
use crate::error::usage;
use crate::grammar::{self, Matches};
use crate::handle::{self, Handle};
use crate::hex;
use crate::input;
use crate::output::{Output, Tabular};
use crate::rollback::Rollback;

pub fn run(verb: Option<ProgVerb>, g: &Globals, out: &mut Output) -> Result<()> {
    match verb.unwrap_or(ProgVerb::Show { words: Vec::new() }) {
        ProgVerb::Show { words } => object_verbs::show(Kind::Prog, &words, g, out, record),
        ProgVerb::Pin { words } => object_verbs::pin(Kind::Prog, &words, g, out),
        ProgVerb::Dump { words } => dump::dump(&words, out),
        ProgVerb::Load(args) => load(&args, false, g, out),
        ProgVerb::Loadall(args) => load(&args, true, g, out),
        ProgVerb::Run { words } => test_run(&words, out),
        ProgVerb::Attach(args) => crate::cmd::attach::attach(&args, g, out),
        ProgVerb::Detach { words } => crate::cmd::map_attach::detach(&words, out),
        ProgVerb::Tracelog(args) => crate::cmd::perf::tracelog(&args, g, out),
        ProgVerb::Top(args) => crate::cmd::top::top(&args, out),
        ProgVerb::Profile { words } => profile::profile(&words, out),
    }
}

/// One program as `prog show` prints it; field names and order are bpftool's.
#[derive(Debug, Serialize)]
pub struct ProgRecord {
    pub id: u32,
    #[serde(rename = "type")]
    pub prog_type: String,
    pub name: String,
    pub tag: String,
    pub gpl_compatible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_time_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_cnt: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recursion_misses: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded_at: Option<i64>,
    pub uid: u32,
    pub bytes_xlated: u32,
    pub jited: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_jited: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_memlock: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub map_ids: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub btf_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pids: Vec<PidRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Tabular for ProgRecord {
    fn header() -> &'static [&'static str] {
        &["ID", "TYPE", "NAME", "TAG", "LOADED", "JITED", "MAPS"]
    }

    fn row(&self) -> Vec<String> {
        let loaded = self
            .loaded_at
            .and_then(|s| u64::try_from(s).ok())
            .map(|s| {
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(s);
                humantime::format_rfc3339_seconds(t).to_string()
            })
            .unwrap_or_default();
        let jited = self
            .bytes_jited
            .map(|b| format!("{b}B"))
            .unwrap_or_else(|| "-".into());
        let maps: Vec<String> = self.map_ids.iter().map(u32::to_string).collect();
        vec![
            self.id.to_string(),
            self.prog_type.clone(),
            self.name.clone(),
            self.tag.clone(),
            loaded,
            jited,
            maps.join(","),
        ]
    }
}

fn record(fd: std::os::fd::BorrowedFd<'_>, ctx: &ShowContext) -> Result<ProgRecord> {
    let info = bpf::prog::info(fd)?;
    let stats = info.run_time_ns != 0;
    Ok(ProgRecord {
        id: info.id,
        prog_type: info.type_name,
        name: info.name,
        tag: hex::compact(&info.tag),
        gpl_compatible: info.gpl_compatible,
        run_time_ns: stats.then_some(info.run_time_ns),
        run_cnt: stats.then_some(info.run_cnt),
        recursion_misses: (info.recursion_misses != 0).then_some(info.recursion_misses),
        loaded_at: (info.load_time != 0).then(|| bpf::prog::boot_ns_to_epoch_secs(info.load_time)),
        uid: info.uid,
        bytes_xlated: info.bytes_xlated,
        jited: info.bytes_jited != 0,
        bytes_jited: (info.bytes_jited != 0).then_some(info.bytes_jited),
        bytes_memlock: bpf::fdinfo_field(fd, "memlock").and_then(|v| v.parse().ok()),
        metadata: metadata(&info.map_ids),
        map_ids: info.map_ids,
        btf_id: (info.btf_id != 0).then_some(info.btf_id),
        pinned: ctx.pinned(info.id),
        pids: ctx.pids(info.id),
    })
}

/// bpftool's `metadata`: the `bpf_metadata_*` variables of the program's .rodata, typed.
fn metadata(map_ids: &[u32]) -> Option<serde_json::Map<String, serde_json::Value>> {
    const PREFIX: &str = "bpf_metadata_";
    let rodata = bpf::prog::rodata(map_ids)?;
    let btf = crate::btf::Btf::from_kernel_id(rodata.btf_id).ok()?;
    let mut fields = serde_json::Map::new();
    for var in btf.datasec_vars(rodata.value_type_id) {
        let Some(name) = var.name.strip_prefix(PREFIX) else {
            continue;
        };
        let start = var.offset as usize;
        let Some(bytes) = rodata.bytes.get(start..start + var.size as usize) else {
            continue;
        };
        if let Ok(value) = crate::btf::format::to_json(&btf, var.ty, bytes) {
            fields.insert(name.to_owned(), value);
        }
    }
    (!fields.is_empty()).then_some(fields)
}

/// bpftool's options after `prog load OBJ`.
#[derive(Debug, Default, PartialEq)]
struct LoadOptions {
    obj: PathBuf,
    path: Option<PathBuf>,
    prog_type: Option<String>,
    maps: Vec<(MapSelector, Handle)>,
    pinmaps: Option<PathBuf>,
    autoattach: bool,
}

fn parse_load_options(m: &Matches) -> Result<LoadOptions> {
    if let Some(word) = ["dev", "offload_dev", "xdpmeta_dev"]
        .into_iter()
        .find(|w| m.has(w))
    {
        return Err(usage(format!(
            "`{word}`: device offload is not supported by rbt"
        )));
    }
    let mut maps = Vec::new();
    for given in m.all("map") {
        let selector = match given.words(0) {
            [tag, n] if tag == "idx" => MapSelector::Idx(given_number(n)?),
            [_, name] => MapSelector::Name(name.clone()),
            _ => return Err(usage("map: expected `idx N` or `name NAME`")),
        };
        maps.push((selector, given.handle(1)?));
    }
    Ok(LoadOptions {
        obj: m.path("OBJ").unwrap_or_default(),
        path: m.path("PATH"),
        prog_type: m.text("type").map(str::to_owned),
        maps,
        pinmaps: m.path("pinmaps"),
        autoattach: m.has("autoattach"),
    })
}

/// A map index (`map idx N`), range-checked.
fn given_number(word: &str) -> Result<usize> {
    crate::grammar::number::parse(word)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| usage(format!("map idx `{word}`: expected a number from 0")))
}

/// /sys/fs/bpf/<stem>: the file name without `.o` and without a `.bpf` suffix.
pub fn default_pin_path(obj: &Path) -> PathBuf {
    let name = obj
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".o").unwrap_or(&name);
    let stem = stem.strip_suffix(".bpf").unwrap_or(stem);
    Path::new(bpffs::DEFAULT_ROOT).join(stem)
}

fn load(args: &LoadArgs, all: bool, g: &Globals, out: &mut Output) -> Result<()> {
    let verb = if all { "loadall" } else { "load" };
    let opts = parse_load_options(&grammar::parse("prog", verb, &args.words)?)?;
    let target = opts
        .path
        .clone()
        .unwrap_or_else(|| default_pin_path(&opts.obj));
    let prog_type = match &opts.prog_type {
        Some(t) => Some(object::parse_prog_type(t).ok_or_else(|| {
            usage(format!(
                "unknown program type `{t}`; known types: {}",
                bpf::prog::prog_type_names()[1..].join(", ")
            ))
        })?),
        None => None,
    };
    object::check_file(&opts.obj)?;
    bpffs::ensure_mounted(g.nomount)?;
    remove_stale_temporaries(&target, all, opts.pinmaps.as_deref());
    // Refuse a bad pin path before anything is loaded. From here on SIGINT, SIGTERM and
    // SIGHUP roll back what was done: all of the object's pins, or none.
    bpf::stream::defer_interrupts()?;
    let mut rollback = Rollback::new();
    let mut plan = plan_pins(&target, all, &mut rollback)?;
    if let Some(to) = &args.rewrite_to {
        object::rewrite_to(&opts.obj, to)?;
        let to = to.clone();
        rollback.push(move || {
            let _ = std::fs::remove_file(&to);
        });
    }
    load_and_pin(args, &opts, prog_type, &mut plan, &mut rollback)?;
    bpf::stream::interrupted()?;
    // Everything is pinned under temporary names: move it into place. Against SIGKILL this
    // is the one step that makes the pins appear (a new DIR, or `load`'s PATH, appears in one
    // rename); a kill before it leaves only temporaries, which the next run removes.
    for (tmp, fin) in plan.moves(opts.autoattach) {
        bpf::staging::rename_noreplace(&tmp, &fin)?;
        rollback.push(move || {
            let _ = bpf::staging::rename_noreplace(&fin, &tmp);
        });
    }
    rollback.commit();
    out.done(None)?;
    Ok(())
}

/// Remove what an earlier rbt, killed mid-load, left under temporary names in the
/// directories this load uses (`load`: PATH's directory; `loadall`: DIR and its parent).
fn remove_stale_temporaries(target: &Path, all: bool, pinmaps: Option<&Path>) {
    let mut dirs = Vec::new();
    for (path, is_dir) in [(Some(target), all), (pinmaps, true)] {
        let Some(path) = path else { continue };
        if is_dir && path.is_dir() {
            dirs.push(path.to_path_buf());
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            dirs.push(parent.to_path_buf());
        }
    }
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        for (path, pid) in bpf::staging::remove_stale(&dir) {
            crate::output::status_line(&format!(
                "removed stale temporary pin {} left by a killed rbt (pid {pid})",
                path.display()
            ));
        }
    }
}

/// Where a load pins its programs: under temporary names first, moved into place at the end.
struct PinPlan {
    all: bool,
    /// The directory the programs are pinned in (loadall), or the temporary pin (load).
    pin_at: PathBuf,
    /// A directory this load creates (loadall DIR): made under a temporary name and renamed
    /// into place whole, as (temporary, final).
    new_dir: Option<(PathBuf, PathBuf)>,
    /// (temporary, final) of each program pin, when they are moved one by one.
    pins: Vec<(PathBuf, PathBuf)>,
    /// (temporary, final) of `pinmaps DIR` when this load creates it, or of each map pin in
    /// it; moved into place before the programs.
    maps: Vec<(PathBuf, PathBuf)>,
}

impl PinPlan {
    /// Where the program `name` is pinned now (its temporary path).
    fn pin_path(&mut self, name: &str) -> PathBuf {
        if !self.all {
            return self.pin_at.clone();
        }
        match &self.new_dir {
            Some(_) => self.pin_at.join(name),
            None => {
                let fin = self.pin_at.join(name);
                let tmp = bpf::staging::temp_path(&fin);
                self.pins.push((tmp.clone(), fin));
                tmp
            }
        }
    }

    /// The renames that put everything in place: the new directory, or each program pin
    /// (and its `_link` pin with autoattach).
    fn moves(&self, autoattach: bool) -> Vec<(PathBuf, PathBuf)> {
        let mut moves = self.maps.clone();
        if let Some(dir) = &self.new_dir {
            moves.push(dir.clone());
            return moves;
        }
        for (tmp, fin) in &self.pins {
            moves.push((tmp.clone(), fin.clone()));
            let link = bpf::link_pin::autoattach(tmp);
            if autoattach && link.symlink_metadata().is_ok() {
                moves.push((link, bpf::link_pin::autoattach(fin)));
            }
        }
        moves
    }
}

/// Check the target and make the plan. `load`: PATH must be free; the program is pinned
/// as `rbt-tmp-<pid>-<name>` beside it. `loadall`: DIR may exist (the programs are pinned
/// beside their final names, then renamed one by one), or is created as
/// `rbt-tmp-<pid>-<dir>` and renamed into place whole.
fn plan_pins(target: &Path, all: bool, rollback: &mut Rollback<'_>) -> Result<PinPlan> {
    if !all {
        bpffs::check_pin_path(target)?;
        let tmp = bpf::staging::temp_path(target);
        return Ok(PinPlan {
            all,
            pins: vec![(tmp.clone(), target.to_path_buf())],
            pin_at: tmp,
            new_dir: None,
            maps: Vec::new(),
        });
    }
    if target.is_dir() {
        if !bpffs::is_bpffs(target) {
            anyhow::bail!("{}: is not on a bpffs", target.display());
        }
        bpffs::check_trusted_dir(target)?;
        return Ok(PinPlan {
            all,
            pin_at: target.to_path_buf(),
            new_dir: None,
            pins: Vec::new(),
            maps: Vec::new(),
        });
    }
    bpffs::check_pin_path(target)?;
    let tmp = bpf::staging::temp_path(target);
    bpffs::check_pin_path(&tmp)?;
    for made in bpffs::create_dirs(&tmp)? {
        rollback.push(move || {
            let _ = std::fs::remove_dir(&made);
        });
    }
    Ok(PinPlan {
        all,
        pin_at: tmp.clone(),
        new_dir: Some((tmp, target.to_path_buf())),
        pins: Vec::new(),
        maps: Vec::new(),
    })
}

fn load_and_pin(
    args: &LoadArgs,
    opts: &LoadOptions,
    prog_type: Option<(u32, u32)>,
    plan: &mut PinPlan,
    rollback: &mut Rollback<'_>,
) -> Result<()> {
    let mut reuse_maps = Vec::new();
    for (selector, map) in &opts.maps {
        let fd = handle::resolve_one(Kind::Map, map)?.fd;
        reuse_maps.push((selector.clone(), fd));
    }
    let spec = LoadSpec {
        path: &opts.obj,
        prog_type,
        reuse_maps,
        want_log: args.log.is_some(),
        pin_root: opts.pinmaps.as_deref(),
    };
    let open = object::open(&spec)?;
    // By-name pins that do not exist yet are made by this load (existing ones are reused).
    let mut by_name = object::pinned_by_name(&open);
    // `pinmaps DIR`: when this load creates it and libbpf pins nothing there by name, it is
    // made under a temporary name and renamed into place at the end (like a loadall DIR);
    // otherwise it must exist before the load (libbpf pins LIBBPF_PIN_BY_NAME maps there)
    // and each map rbt pins in it is staged.
    let mut maps_at = None;
    if let Some(dir) = &opts.pinmaps {
        if by_name.is_empty() && dir.symlink_metadata().is_err() {
            bpffs::check_pin_path(dir)?;
            let tmp = bpf::staging::temp_path(dir);
            object::prepare_pin_dir(&tmp, rollback)?;
            plan.maps.push((tmp.clone(), dir.clone()));
            maps_at = Some((tmp, false));
        } else {
            object::prepare_pin_dir(dir, rollback)?;
            maps_at = Some((dir.clone(), true));
        }
    }
    by_name.retain(|(_, path)| path.symlink_metadata().is_err());
    for (_, path) in &by_name {
        if let Some(dir) = path.parent() {
            // iproute2's /sys/fs/bpf/tc/globals for a legacy object's PIN_GLOBAL_NS maps
            // may not exist yet: made here (and removed again if the load fails).
            let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
            for d in missing.into_iter().rev() {
                object::prepare_pin_dir(d, rollback)?;
            }
            bpffs::check_trusted_dir(dir)?;
        }
    }
    let mut obj = object::load(open, &opts.obj, args.log.as_deref())?;
    for (name, path) in by_name {
        if opts.pinmaps.is_none() {
            crate::output::status_line(&format!(
                "map {name} pinned by name (LIBBPF_PIN_BY_NAME) at {}",
                path.display()
            ));
        }
        rollback.push(move || {
            let _ = std::fs::remove_file(&path);
        });
    }
    let mut prog_pins: Vec<(String, PathBuf)> = Vec::new();
    for prog in obj.progs() {
        let name = prog.name().to_string_lossy().into_owned();
        let path = plan.pin_path(&name);
        bpf::stream::interrupted()?;
        bpf::obj_pin(prog.as_fd(), &path).with_context(|| format!("pinning program {name}"))?;
        prog_pins.push((name, path.clone()));
        rollback.push(move || {
            let _ = std::fs::remove_file(&path);
        });
        if !plan.all {
            break;
        }
    }
    if let Some((dir, staged)) = &maps_at {
        let moves = object::pin_maps(&mut obj, dir, *staged, rollback)?;
        plan.maps.extend(moves);
    }
    if opts.autoattach {
        crate::cmd::attach::autoattach(&obj, &prog_pins, rollback)?;
    }
    Ok(())
}

/// `prog run` output, as bpftool's JSON: data written to stdout (`-`) as byte arrays.
#[derive(Debug, Serialize)]
pub struct RunRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_out: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_out: Option<Vec<u8>>,
    pub retval: u32,
    pub duration: u32,
}

impl Tabular for RunRecord {
    fn header() -> &'static [&'static str] {
        &["RETVAL", "DURATION (AVG)", "DATA OUT"]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.retval.to_string(),
            format!("{}ns", self.duration),
            self.data_out
                .as_deref()
                .map(hex::compact)
                .unwrap_or_default(),
        ]
    }
}

/// Options of `prog run` after the program handle.
#[derive(Debug, Default, PartialEq)]
struct RunOptions {
    data_in: String,
    data_out: Option<String>,
    data_size_out: Option<u32>,
    ctx_in: Option<String>,
    ctx_out: Option<String>,
    ctx_size_out: Option<u32>,
    repeat: u32,
}

fn parse_run_options(m: &Matches) -> Result<RunOptions> {
    Ok(RunOptions {
        data_in: m.text("data_in").unwrap_or_default().to_owned(),
        data_out: m.text("data_out").map(str::to_owned),
        data_size_out: m.number("data_size_out")?,
        ctx_in: m.text("ctx_in").map(str::to_owned),
        ctx_out: m.text("ctx_out").map(str::to_owned),
        ctx_size_out: m.number("ctx_size_out")?,
        repeat: m.number::<u32>("repeat")?.unwrap_or(1).max(1),
    })
}

fn read_input(file: &str) -> Result<Vec<u8>> {
    if file == "-" {
        return input::read_all(std::io::stdin().lock(), input::MAX_DATA, "stdin");
    }
    input::read_file(Path::new(file), input::MAX_DATA, "reading")
}

/// Write output data to FILE, or return it for the output when FILE is `-`.
fn write_output(file: Option<&str>, bytes: &[u8]) -> Result<Option<Vec<u8>>> {
    match file {
        None => Ok(None),
        Some("-") => Ok(Some(bytes.to_vec())),
        Some(f) => {
            std::io::Write::write_all(&mut input::create(Path::new(f), "output file")?, bytes)
                .with_context(|| format!("writing {f}"))?;
            Ok(None)
        }
    }
}

fn test_run(args: &[String], out: &mut Output) -> Result<()> {
    let m = grammar::parse("prog", "run", args)?;
    let handle = m
        .handle("PROG")?
        .ok_or_else(|| usage("prog run: expected PROG"))?;
    let opts = parse_run_options(&m)?;
    let prog = handle::resolve_one(Kind::Prog, &handle)?;
    let data_in = read_input(&opts.data_in)?;
    let ctx_in = opts.ctx_in.as_deref().map(read_input).transpose()?;
    let data_size_out = match (&opts.data_out, opts.data_size_out) {
        (None, _) => 0,
        (Some(_), Some(n)) => n,
        (Some(_), None) => (data_in.len() as u32).max(1) + 256,
    };
    let ctx_size_out = match (&opts.ctx_out, opts.ctx_size_out) {
        (None, _) => 0,
        (Some(_), Some(n)) => n,
        (Some(_), None) => ctx_in.as_ref().map_or(256, |c| c.len() as u32),
    };
    let ran = bpf::prog::test_run(
        prog.fd.as_fd(),
        &data_in,
        ctx_in.as_deref(),
        data_size_out,
        ctx_size_out,
        opts.repeat,
    )?;
    let record = RunRecord {
        data_out: write_output(opts.data_out.as_deref(), &ran.data_out)?,
        context_out: write_output(opts.ctx_out.as_deref(), &ran.ctx_out)?,
        retval: ran.retval,
        duration: ran.duration,
    };
    Ok(out.one(&record)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn default_pin_path_strips_o_and_bpf() {
        assert_eq!(
            default_pin_path(Path::new("examples/xdp_drop.bpf.o")),
            PathBuf::from("/sys/fs/bpf/xdp_drop")
        );
        assert_eq!(
            default_pin_path(Path::new("x.o")),
            PathBuf::from("/sys/fs/bpf/x")
        );
    }

    fn load_words(line: &str) -> Result<LoadOptions> {
        parse_load_options(&grammar::parse("prog", "load", &words(line))?)
    }

    fn run_words(line: &str) -> Result<RunOptions> {
        parse_run_options(&grammar::parse("prog", "run", &words(line))?)
    }

    #[test]
    fn load_options_parse() {
        let o = load_words("x.o /sys/fs/bpf/p type xdp map name cnt id 4 pinmaps /sys/fs/bpf/m")
            .unwrap_or_default();
        assert_eq!(o.obj, PathBuf::from("x.o"));
        assert_eq!(o.path, Some(PathBuf::from("/sys/fs/bpf/p")));
        assert_eq!(o.prog_type.as_deref(), Some("xdp"));
        assert_eq!(
            o.maps,
            vec![(MapSelector::Name("cnt".into()), Handle::Id(4))]
        );
        assert_eq!(o.pinmaps, Some(PathBuf::from("/sys/fs/bpf/m")));
        let o = load_words("x.o map idx 0 /sys/fs/bpf/m").unwrap_or_default();
        assert_eq!(o.path, None);
        assert_eq!(
            o.maps,
            vec![(MapSelector::Idx(0), Handle::Pinned("/sys/fs/bpf/m".into()))]
        );
    }

    #[test]
    fn run_options_parse() {
        let o = run_words("id 1 data_in p.bin data_out - repeat 100").unwrap_or_default();
        assert_eq!(o.data_in, "p.bin");
        assert_eq!(o.data_out.as_deref(), Some("-"));
        assert_eq!(o.repeat, 100);
        for bad in [
            "id 1 repeat 5",
            "id 1 data_in",
            "id 1 data_in x repeat many",
            "id 1 data_in x bogus 1",
            "id 1 data_in x repeat -1",
        ] {
            assert!(run_words(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_load_options_are_usage_errors() {
        for bad in [
            "x.o p type",
            "x.o p map idx x id 1",
            "x.o p map foo 1 id 2",
            "x.o p bogus 1",
            "x.o p map name m",
            "x.o dev eth0",
            "x.o map idx -1 id 2",
        ] {
            let err = load_words(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
        }
    }
}
