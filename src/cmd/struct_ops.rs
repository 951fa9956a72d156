//! `struct_ops` verbs: show, dump (bpftool's JSON, function pointers as programs), register OBJ [LINK_DIR], unregister.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::bpf::struct_ops::{self as so, OpsInfo};
use crate::bpf::{self, bpffs, Kind};
use crate::btf::Btf;
use crate::cli::{Globals, StructOpsVerb};
use crate::error::{hinted, usage};
use crate::grammar;
use crate::handle::{self, Handle};
use crate::output::{Output, Tabular};
use crate::rollback::Rollback;

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";
const VALUE_PREFIX: &str = "bpf_struct_ops_";

pub fn run(verb: Option<StructOpsVerb>, g: &Globals, out: &mut Output) -> Result<()> {
    match verb.unwrap_or(StructOpsVerb::Show { words: Vec::new() }) {
        StructOpsVerb::Show { words } => show(&words, out),
        StructOpsVerb::Dump { words } => dump(&words, out),
        StructOpsVerb::Register { words } => register(&words, g, out),
        StructOpsVerb::Unregister { words } => unregister(&words, g, out),
    }
}

/// The kernel's BTF: vmlinux, and the modules' split BTF on top of it, read once each.
struct KernelBtf {
    base: Rc<Btf>,
    modules: HashMap<u32, Rc<Btf>>,
}

impl KernelBtf {
    fn new() -> Result<KernelBtf> {
        let base = Btf::from_file(Path::new(VMLINUX), None).map_err(|e| {
            hinted(
                format!("struct_ops needs the kernel's BTF: {e:#}"),
                "build the kernel with CONFIG_DEBUG_INFO_BTF=y",
            )
        })?;
        Ok(KernelBtf {
            base: Rc::new(base),
            modules: HashMap::new(),
        })
    }

    /// The BTF a struct_ops map's `btf_vmlinux_id` names (vmlinux or a module's).
    fn of(&mut self, btf_id: u32) -> Rc<Btf> {
        if btf_id == 0 {
            return self.base.clone();
        }
        if let Some(b) = self.modules.get(&btf_id) {
            return b.clone();
        }
        let btf = match bpf::btf::info_by_id(btf_id) {
            Ok(info) if info.name != "vmlinux" => {
                Btf::from_kernel_id_split(btf_id, Some(&self.base))
                    .map(|(b, _)| Rc::new(b))
                    .unwrap_or_else(|_| self.base.clone())
            }
            _ => self.base.clone(),
        };
        self.modules.insert(btf_id, btf.clone());
        btf
    }

    /// The kernel struct a struct_ops map implements (`tcp_congestion_ops`).
    fn struct_name(&mut self, btf_id: u32, value_type_id: u32) -> String {
        let btf = self.of(btf_id);
        let full = btf.name_of(value_type_id);
        full.strip_prefix(VALUE_PREFIX).unwrap_or(full).to_owned()
    }

    /// The running kernel's `struct bpf_map_info`: its type id and size.
    fn map_info_type(&self) -> Result<(u32, usize)> {
        let id = self
            .base
            .find_by_name("bpf_map_info")
            .context("the kernel's BTF has no struct bpf_map_info")?;
        Ok((id, self.base.size_of(id)?))
    }
}

/// One struct_ops map a verb works on.
struct Selected {
    fd: OwnedFd,
    info: OpsInfo,
}

/// The struct_ops maps `handle` names, or every one when None. A map named by id or pin
/// that is not a struct_ops map is an error; `name` only picks among struct_ops maps.
fn select(handle: Option<&Handle>) -> Result<Vec<Selected>> {
    let Some(handle) = handle else {
        let mut all = Vec::new();
        for id in bpf::ids(Kind::Map)? {
            let Ok(fd) = bpf::fd_by_id(Kind::Map, id) else {
                continue;
            };
            let Ok((info, _)) = so::info(fd.as_fd(), 0) else {
                continue;
            };
            if info.is_struct_ops() {
                all.push(Selected { fd, info });
            }
        }
        return Ok(all);
    };
    let mut found = Vec::new();
    let mut others = Vec::new();
    for r in handle::resolve_all(Kind::Map, handle)? {
        let (info, _) = so::info(r.fd.as_fd(), 0)?;
        if info.is_struct_ops() {
            found.push(Selected { fd: r.fd, info });
        } else {
            others.push(info);
        }
    }
    if found.is_empty() {
        let what = others
            .iter()
            .map(|i| {
                format!(
                    "{} id {} is a {} map",
                    i.name,
                    i.id,
                    bpf::map::type_name(i.map_type)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Err(hinted(
            format!("map {handle} is not a struct_ops map ({what})"),
            "list struct_ops maps with `rbt struct_ops show`",
        ));
    }
    Ok(found)
}

/// Whether a handle names one map (id, pin): bpftool prints one object then, not a list.
fn names_one(handle: Option<&Handle>) -> bool {
    matches!(handle, Some(Handle::Id(_) | Handle::Pinned(_)))
}

fn parsed_handle(verb: &str, words: &[String]) -> Result<Option<Handle>> {
    grammar::parse("struct_ops", verb, words)?.handle("MAP")
}

/// A struct_ops map as `struct_ops show` prints it (bpftool's fields).
#[derive(Debug, Serialize)]
struct ShowRecord {
    id: u32,
    name: String,
    kernel_struct_ops: String,
}

impl Tabular for ShowRecord {
    fn header() -> &'static [&'static str] {
        &["ID", "NAME", "KERNEL STRUCT_OPS"]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.name.clone(),
            self.kernel_struct_ops.clone(),
        ]
    }
}

fn show(words: &[String], out: &mut Output) -> Result<()> {
    let handle = parsed_handle("show", words)?;
    let maps = select(handle.as_ref())?;
    let mut kbtf = KernelBtf::new()?;
    let records: Vec<ShowRecord> = maps
        .iter()
        .map(|m| ShowRecord {
            id: m.info.id,
            name: m.info.name.clone(),
            kernel_struct_ops: kbtf
                .struct_name(m.info.btf_vmlinux_id, m.info.btf_vmlinux_value_type_id),
        })
        .collect();
    match records.as_slice() {
        [one] if names_one(handle.as_ref()) => out.one(one)?,
        _ => out.list(&records)?,
    }
    Ok(())
}

fn dump(words: &[String], out: &mut Output) -> Result<()> {
    let handle = parsed_handle("dump", words)?;
    let maps = select(handle.as_ref())?;
    let mut kbtf = KernelBtf::new()?;
    let (info_type, info_len) = kbtf.map_info_type()?;
    let mut docs: Vec<Value> = Vec::with_capacity(maps.len() * 2);
    for m in &maps {
        let (info, raw_info) = so::info(m.fd.as_fd(), info_len)?;
        let base = kbtf.base.clone();
        let spell = |proto: u32, v: u64| func_ptr_text(&base, proto, v);
        let map_info = crate::btf::bpftool_json::to_json(&base, info_type, &raw_info, &spell)
            .context("formatting bpf_map_info")?;
        docs.push(serde_json::json!({ "bpf_map_info": map_info }));
        let btf = kbtf.of(info.btf_vmlinux_id);
        let value = so::value(&m.fd, &info)?;
        let spell = |proto: u32, v: u64| func_ptr_text(&btf, proto, v);
        let typed =
            crate::btf::bpftool_json::to_json(&btf, info.btf_vmlinux_value_type_id, &value, &spell)
                .with_context(|| {
                    format!("formatting struct_ops map {} id {}", info.name, info.id)
                })?;
        let mut obj = serde_json::Map::new();
        obj.insert(
            btf.name_of(info.btf_vmlinux_value_type_id).to_owned(),
            typed,
        );
        docs.push(Value::Object(obj));
    }
    if out.is_json() {
        out.json(&docs)?;
    } else {
        // bpftool prints the same JSON, pretty (4 spaces), without -j.
        let mut text = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut text, fmt);
        docs.serialize(&mut ser)?;
        text.push(b'\n');
        out.raw(&text)?;
    }
    Ok(())
}

/// bpftool's spelling of a function pointer in a struct_ops value, which holds the id of the
/// program behind it: `u32 (struct sock *) my_ssthresh/prog_id:21`, or `... 0` when unset.
fn func_ptr_text(btf: &Btf, proto: u32, prog_id: u64) -> Option<String> {
    let sig = btf.proto_signature(proto)?;
    if prog_id == 0 {
        return Some(format!("{sig} 0"));
    }
    let name = u32::try_from(prog_id)
        .ok()
        .and_then(|id| bpf::fd_by_id(Kind::Prog, id).ok())
        .and_then(|fd| bpf::prog_image::first_func_name(fd.as_fd()))
        .unwrap_or_else(|| "<unknown_prog_name>".to_owned());
    Some(format!("{sig} {name}/prog_id:{prog_id}"))
}

/// One registered map, as `struct_ops register -j` prints it.
#[derive(Debug, Serialize)]
struct RegisterRecord {
    id: u32,
    name: String,
    kernel_struct_ops: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    link_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pinned: Option<String>,
}

/// Where .struct_ops.link maps are pinned when no LINK_DIR is given.
fn default_link_dir() -> PathBuf {
    Path::new(bpffs::DEFAULT_ROOT).join("rbt/struct_ops")
}

/// Check that LINK_DIR can hold the links (on a bpffs, trusted, no pin of these names yet)
/// without changing anything. Returns the directories that must be created.
fn check_link_dir(dir: &Path, names: &[&str]) -> Result<bool> {
    let shown = dir.display();
    if dir.exists() {
        if !dir.is_dir() {
            anyhow::bail!("LINK_DIR {shown}: is not a directory");
        }
        if !bpffs::is_bpffs(dir) {
            return Err(hinted(
                format!("LINK_DIR {shown}: is not on a bpffs; nothing registered"),
                format!(
                    "give a directory under {} (or another bpffs mount)",
                    bpffs::DEFAULT_ROOT
                ),
            ));
        }
        bpffs::check_trusted_dir(dir)?;
        if nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_err() {
            anyhow::bail!("LINK_DIR {shown}: is not writable; nothing registered");
        }
        for name in names {
            let pin = dir.join(name);
            if pin.symlink_metadata().is_ok() {
                return Err(hinted(
                    format!("{}: already exists; nothing registered", pin.display()),
                    "unregister what is there first (`rbt struct_ops unregister name NAME`), or give another LINK_DIR",
                ));
            }
        }
        return Ok(false);
    }
    let mut above = dir;
    while !above.exists() {
        above = match above.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
    }
    if !bpffs::is_bpffs(above) {
        return Err(hinted(
            format!(
                "LINK_DIR {shown}: {} is not on a bpffs; nothing registered",
                above.display()
            ),
            format!(
                "give a directory under {} (or another bpffs mount)",
                bpffs::DEFAULT_ROOT
            ),
        ));
    }
    bpffs::check_trusted_dir(above)?;
    Ok(true)
}

fn register(words: &[String], g: &Globals, out: &mut Output) -> Result<()> {
    let m = grammar::parse("struct_ops", "register", words)?;
    let obj = m.path("OBJ").ok_or_else(|| usage("expected OBJ"))?;
    let given_dir = m.path("LINK_DIR");
    bpffs::ensure_mounted(g.nomount)?;
    // Ctrl-C, SIGTERM, SIGHUP between two maps: undo what was done, then exit.
    bpf::stream::defer_interrupts()?;
    let planned = so::plan(&obj)?;
    let link_names: Vec<&str> = planned
        .iter()
        .filter(|p| p.uses_link)
        .map(|p| p.name.as_str())
        .collect();
    let dir = given_dir.clone().unwrap_or_else(default_link_dir);
    let mut rollback = Rollback::new();
    let wants_dir = given_dir.is_some() || !link_names.is_empty();
    if wants_dir && check_link_dir(&dir, &link_names)? {
        let made = bpffs::create_dirs(&dir)?;
        rollback.push(move || {
            for d in made.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
        });
    }
    let regs = so::register(&obj, &|name: &str| dir.join(name), &mut rollback)?;
    let mut kbtf = KernelBtf::new()?;
    let records: Vec<RegisterRecord> = regs
        .iter()
        .map(|r| RegisterRecord {
            id: r.map_id,
            name: r.name.clone(),
            kernel_struct_ops: kbtf.struct_name(r.btf_vmlinux_id, r.btf_vmlinux_value_type_id),
            link_id: r.link_id,
            pinned: r.pinned.as_ref().map(|p| p.display().to_string()),
        })
        .collect();
    rollback.commit();
    if out.is_json() {
        out.json(&records)?;
        return Ok(());
    }
    let mut text = String::new();
    for r in &records {
        match (r.link_id, &r.pinned) {
            (Some(link), Some(pin)) => text.push_str(&format!(
                "Registered {} {} map id {} link id {link} pinned {pin}\n",
                r.kernel_struct_ops, r.name, r.id
            )),
            _ => text.push_str(&format!(
                "Registered {} {} id {}\n",
                r.kernel_struct_ops, r.name, r.id
            )),
        }
    }
    out.raw(text.as_bytes())?;
    Ok(())
}

fn unregister(words: &[String], g: &Globals, out: &mut Output) -> Result<()> {
    let handle = parsed_handle("unregister", words)?.ok_or_else(|| usage("expected MAP"))?;
    bpffs::ensure_mounted(g.nomount)?;
    let maps = select(Some(&handle))?;
    let mut kbtf = KernelBtf::new()?;
    let mut lines = Vec::new();
    for m in &maps {
        let info = &m.info;
        let kernel = kbtf.struct_name(info.btf_vmlinux_id, info.btf_vmlinux_value_type_id);
        let not_registered = || {
            hinted(
                format!(
                    "struct_ops map {} id {} ({kernel}) is not registered",
                    info.name, info.id
                ),
                "list the registered ones with `rbt struct_ops show`",
            )
        };
        if info.uses_link() {
            let links = so::links_of(info.id);
            if links.is_empty() {
                return Err(not_registered());
            }
            for (link_id, fd) in links {
                bpf::link::detach(fd.as_fd()).map_err(|e| {
                    bpf::kernel_error(e, format!("detaching link id {link_id} of {}", info.name))
                })?;
                crate::cmd::link::remove_pins(link_id, &Handle::Id(link_id));
            }
        } else {
            match so::delete_value(m.fd.as_fd()) {
                Ok(true) => {}
                Ok(false) => return Err(not_registered()),
                Err(e) => {
                    return Err(e.context(format!(
                        "unregistering {kernel} {} id {}",
                        info.name, info.id
                    )))
                }
            }
        }
        lines.push(format!(
            "Unregistered {kernel} {} id {}",
            info.name, info.id
        ));
    }
    out.done(Some(&lines.join("\n")))?;
    Ok(())
}
