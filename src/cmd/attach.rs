// `prog attach PROG HOOK ...` and `prog load ... autoattach`: attach a program to a
// tracing or cgroup hook through a BPF link and pin the link; errors that say what is missing.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::bpf::{self, attach as k, bpffs, link_pin, Kind};
use crate::cli::{AttachArgs, Globals};
use crate::cmd::map_attach;
use crate::cmd::object_verbs::pins_by_id;
use crate::cmd::usdt::{self, UsdtTarget};
use crate::error::{hinted, usage};
use crate::grammar::words::{MapAttachType, Word};
use crate::grammar::{self, Matches};
use crate::handle::{self, Handle};
use crate::output::Output;
use crate::rollback::Rollback;

/// Where `prog attach` hooks a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    Tracepoint {
        category: String,
        name: String,
    },
    RawTracepoint(String),
    Kprobe {
        func: String,
        offset: u64,
        retprobe: bool,
    },
    Uprobe {
        path: PathBuf,
        symbol: String,
        offset: u64,
        retprobe: bool,
        pid: Option<i32>,
    },
    /// fentry, fexit or fmod_ret: the target is fixed when the program is loaded.
    Tracing(&'static str),
    Usdt {
        path: PathBuf,
        provider: String,
        name: String,
        pid: Option<i32>,
    },
    Cgroup {
        path: PathBuf,
        attach_type: String,
    },
    /// bpftool's map-attached types (a sockmap or sockhash), and the flow dissector (the
    /// current network namespace, no map): classic BPF_PROG_ATTACH, see map_attach.rs.
    Map {
        attach_type: MapAttachType,
        map: Option<Handle>,
    },
}

/// `NAME[+OFF]`.
fn split_offset(text: &str, what: &str) -> Result<(String, u64)> {
    match text.rsplit_once('+') {
        Some((name, off)) => {
            let off = grammar::number::as_type::<u64>(off)
                .ok_or_else(|| usage(format!("{what} `{text}`: bad offset `{off}`")))?;
            Ok((name.to_owned(), off))
        }
        None => Ok((text.to_owned(), 0)),
    }
}

fn usdt_usage(target: &str) -> anyhow::Error {
    usage(format!(
        "usdt `{target}`: expected PATH:PROVIDER:NAME, e.g. /usr/bin/python3:python:function__entry"
    ))
}

impl Hook {
    /// The hook of a parsed `prog attach` line (its HOOK slot and `pid P`).
    pub fn from_matches(m: &Matches) -> Result<Hook> {
        let Some(given) = m.which("HOOK") else {
            return Err(usage("prog attach: expected a hook after PROG"));
        };
        let kind = given.slot.name;
        let target = given.word(0);
        let pid = m.number::<i32>("pid")?;
        if let Some(p) = pid.filter(|p| *p <= 0) {
            return Err(usage(format!(
                "pid {p}: not a process id; leave `pid` out to trace every process"
            )));
        }
        let hook = match kind {
            "tracepoint" => {
                let (category, name) = target
                    .split_once(':')
                    .or_else(|| target.split_once('/'))
                    .filter(|(c, n)| !c.is_empty() && !n.is_empty())
                    .ok_or_else(|| {
                        usage(format!(
                            "tracepoint `{target}`: expected CAT:NAME, e.g. syscalls:sys_enter_openat"
                        ))
                    })?;
                Hook::Tracepoint {
                    category: category.into(),
                    name: name.into(),
                }
            }
            "raw_tracepoint" => Hook::RawTracepoint(target.to_owned()),
            "kprobe" | "kretprobe" => {
                let (func, offset) = split_offset(target, kind)?;
                if kind == "kretprobe" && offset != 0 {
                    return Err(usage("kretprobe: a return probe takes no offset"));
                }
                Hook::Kprobe {
                    func,
                    offset,
                    retprobe: kind == "kretprobe",
                }
            }
            "uprobe" | "uretprobe" => {
                let (path, sym) = target
                    .rsplit_once(':')
                    .filter(|(p, s)| !p.is_empty() && !s.is_empty())
                    .ok_or_else(|| {
                        usage(format!(
                            "{kind} `{target}`: expected PATH:SYMBOL[+OFF], e.g. /usr/bin/bash:readline"
                        ))
                    })?;
                let (symbol, offset) = split_offset(sym, kind)?;
                Hook::Uprobe {
                    path: PathBuf::from(path),
                    symbol,
                    offset,
                    retprobe: kind == "uretprobe",
                    pid,
                }
            }
            "usdt" => {
                let mut parts = target.rsplitn(3, ':');
                let (Some(name), Some(provider), Some(path)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(usdt_usage(target));
                };
                if [name, provider, path].iter().any(|p| p.is_empty()) {
                    return Err(usdt_usage(target));
                }
                Hook::Usdt {
                    path: PathBuf::from(path),
                    provider: provider.into(),
                    name: name.into(),
                    pid,
                }
            }
            "fentry" => Hook::Tracing("fentry"),
            "fexit" => Hook::Tracing("fexit"),
            "fmod_ret" => Hook::Tracing("fmod_ret"),
            "cgroup" => Hook::Cgroup {
                path: PathBuf::from(target),
                attach_type: given.word(1).to_owned(),
            },
            other if MapAttachType::from_word(other).is_some() => Hook::Map {
                attach_type: MapAttachType::from_word(other)
                    .ok_or_else(|| usage(format!("unknown attach type `{other}`")))?,
                map: if given.slot.values.is_empty() {
                    None
                } else {
                    m.handle(other)?
                },
            },
            other => return Err(usage(format!("internal: hook `{other}` has no parser"))),
        };
        if pid.is_some() && !matches!(hook, Hook::Uprobe { .. } | Hook::Usdt { .. }) {
            return Err(usage(format!(
                "`pid P` applies to uprobe, uretprobe and usdt hooks, not to {kind}"
            )));
        }
        Ok(hook)
    }

    fn word(&self) -> &'static str {
        match self {
            Hook::Tracepoint { .. } => "tracepoint",
            Hook::RawTracepoint(_) => "raw_tracepoint",
            Hook::Kprobe {
                retprobe: false, ..
            } => "kprobe",
            Hook::Kprobe { retprobe: true, .. } => "kretprobe",
            Hook::Uprobe {
                retprobe: false, ..
            } => "uprobe",
            Hook::Uprobe { retprobe: true, .. } => "uretprobe",
            Hook::Tracing(w) => w,
            Hook::Usdt { .. } => "usdt",
            Hook::Cgroup { .. } => "cgroup",
            Hook::Map { attach_type, .. } => attach_type.word(),
        }
    }

    /// The program types that can attach to this hook.
    fn prog_types(&self) -> &'static [&'static str] {
        match self {
            Hook::Tracepoint { .. } => &["tracepoint"],
            Hook::RawTracepoint(_) => &["raw_tracepoint", "raw_tracepoint_writable"],
            Hook::Kprobe { .. } | Hook::Uprobe { .. } | Hook::Usdt { .. } => &["kprobe"],
            Hook::Tracing(_) => &["tracing", "lsm", "ext"],
            Hook::Cgroup { .. } => &[
                "cgroup_skb",
                "cgroup_sock",
                "cgroup_sock_addr",
                "cgroup_device",
                "cgroup_sysctl",
                "cgroup_sockopt",
                "sock_ops",
                "lsm",
            ],
            Hook::Map { attach_type, .. } => match attach_type.prog_type() {
                "sk_msg" => &["sk_msg"],
                "sk_skb" => &["sk_skb"],
                _ => &["flow_dissector"],
            },
        }
    }
}

/// bpftool's cgroup attach type names, mapped to libbpf's.
fn cgroup_attach_type(name: &str) -> Option<u32> {
    let libbpf_name = match name {
        "ingress" => "cgroup_inet_ingress",
        "egress" => "cgroup_inet_egress",
        "sock_create" => "cgroup_inet_sock_create",
        "sock_release" => "cgroup_inet_sock_release",
        "sock_ops" => "cgroup_sock_ops",
        "device" => "cgroup_device",
        "bind4" => "cgroup_inet4_bind",
        "bind6" => "cgroup_inet6_bind",
        "post_bind4" => "cgroup_inet4_post_bind",
        "post_bind6" => "cgroup_inet6_post_bind",
        "connect4" => "cgroup_inet4_connect",
        "connect6" => "cgroup_inet6_connect",
        "sendmsg4" => "cgroup_udp4_sendmsg",
        "sendmsg6" => "cgroup_udp6_sendmsg",
        "recvmsg4" => "cgroup_udp4_recvmsg",
        "recvmsg6" => "cgroup_udp6_recvmsg",
        "sysctl" => "cgroup_sysctl",
        "getsockopt" => "cgroup_getsockopt",
        "setsockopt" => "cgroup_setsockopt",
        other => other,
    };
    bpf::link::attach_type_by_name(libbpf_name)
}

pub fn attach(args: &AttachArgs, g: &Globals, out: &mut Output) -> Result<()> {
    let m = grammar::parse("prog", "attach", &args.words)?;
    let handle = m
        .handle("PROG")?
        .ok_or_else(|| usage("prog attach: expected PROG"))?;
    let hook = Hook::from_matches(&m)?;
    if let Hook::Map { attach_type, map } = &hook {
        return map_attach::attach(&handle, *attach_type, map.as_ref(), args, out);
    }
    bpffs::ensure_mounted(g.nomount)?;
    let prog = handle::resolve_one(Kind::Prog, &handle)?;
    let info = bpf::prog::info(prog.fd.as_fd())?;
    if !hook.prog_types().contains(&info.type_name.as_str()) {
        return Err(hinted(
            format!(
                "program {} (id {}) is of type {}, which cannot attach to a {} hook",
                info.name,
                info.id,
                info.type_name,
                hook.word()
            ),
            format!(
                "a {} hook takes a program of type {}",
                hook.word(),
                hook.prog_types().join(" or ")
            ),
        ));
    }
    let pin = match &args.pin {
        Some(p) => p.clone(),
        None => default_link_pin(&handle, info.id)?,
    };
    bpffs::check_pin_path(&pin)?;
    if let Hook::Usdt {
        path,
        provider,
        name,
        pid,
    } = &hook
    {
        let target = UsdtTarget {
            path,
            provider,
            name,
            pid: *pid,
        };
        let a = usdt::attach(prog.fd.as_fd(), &info, &target, &pin)?;
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let ids: Vec<String> = a.link_ids.iter().map(|i| i.to_string()).collect();
        let pins: Vec<String> = a.pins.iter().map(|p| p.display().to_string()).collect();
        out.done(Some(&format!(
            "attached program {} (id {}) to usdt {provider}:{name} ({} site{}): link id{} {} pinned at {}",
            info.name,
            info.id,
            a.sites,
            plural(a.sites),
            plural(ids.len()),
            ids.join(", "),
            pins.join(", ")
        )))?;
        return Ok(());
    }
    // Until the link is pinned, this fd is its only holder: any error below drops it,
    // which detaches the program again.
    let link = create(&hook, prog.fd.as_fd(), g)
        .with_context(|| format!("attaching program {} (id {})", info.name, info.id))?;
    bpf::obj_pin(link.as_fd(), &pin)?;
    let link_id = bpf::fdinfo_field(link.as_fd(), "link_id").unwrap_or_default();
    out.done(Some(&format!(
        "attached program {} (id {}) to {}: link id {link_id} pinned at {}",
        info.name,
        info.id,
        hook.word(),
        pin.display()
    )))?;
    Ok(())
}

/// The default pin of the link: the naming rule is `link_pin::prog_attach_default`.
pub(crate) fn default_link_pin(handle: &Handle, prog_id: u32) -> Result<PathBuf> {
    let prog_pin = match handle {
        Handle::Pinned(p) => Some(p.display().to_string()),
        _ => pins_by_id(Kind::Prog)
            .get(&prog_id)
            .and_then(|p| p.first().cloned()),
    };
    link_pin::prog_attach_default(prog_pin.as_deref(), prog_id)
}

fn no_kprobes() -> anyhow::Error {
    hinted(
        "this kernel has no kprobe support (built without CONFIG_KPROBES: no kprobe PMU in \
/sys/bus/event_source/devices and no kprobe_events in tracefs)",
        "attach to a tracepoint or raw_tracepoint instead, or use a kernel with CONFIG_KPROBES=y \
(`make vmtest` boots one)",
    )
}

/// Create the link for `hook`; the returned fd is the link's only holder.
fn create(hook: &Hook, prog: BorrowedFd<'_>, g: &Globals) -> Result<OwnedFd> {
    match hook {
        Hook::Tracepoint { category, name } => {
            let tracefs = k::tracefs_root(g.nomount)?;
            let id = k::tracepoint_id(&tracefs, category, name)?;
            let event = k::open_tracepoint(id).map_err(|e| {
                bpf::kernel_error(e, format!("opening tracepoint {category}:{name}"))
            })?;
            k::perf_link(prog, event.as_fd())
                .map_err(|e| bpf::kernel_error(e, format!("linking to tracepoint {category}:{name}")))
        }
        Hook::RawTracepoint(name) => k::raw_tracepoint(prog, Some(name)).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOENT) {
                hinted(
                    format!("no raw tracepoint {name}"),
                    "raw tracepoint names are tracepoint names without the category, e.g. sched_switch",
                )
            } else {
                bpf::kernel_error(e, format!("attaching to raw tracepoint {name}"))
            }
        }),
        Hook::Kprobe {
            func,
            offset,
            retprobe,
        } => {
            let tracefs = k::tracefs_root(g.nomount).ok();
            if !k::kprobes_supported(tracefs.as_deref()) {
                return Err(no_kprobes());
            }
            let what = if *retprobe { "kretprobe" } else { "kprobe" };
            let event = k::open_kprobe(func, *offset, *retprobe).map_err(|e| {
                match e.raw_os_error() {
                    Some(libc::ENOENT) | Some(libc::EINVAL) => hinted(
                        format!("no kernel function {func} to {what} ({e})"),
                        format!("check it exists and is traceable: grep -w {func} /proc/kallsyms"),
                    ),
                    _ => bpf::kernel_error(e, format!("opening {what} on {func}")),
                }
            })?;
            k::perf_link(prog, event.as_fd())
                .map_err(|e| bpf::kernel_error(e, format!("linking to {what} {func}")))
        }
        Hook::Uprobe {
            path,
            symbol,
            offset,
            retprobe,
            pid,
        } => {
            let what = if *retprobe { "uretprobe" } else { "uprobe" };
            let path = std::fs::canonicalize(path)
                .with_context(|| format!("{what}: binary {}: no such file", path.display()))?;
            let base = match grammar::number::as_type::<u64>(symbol) {
                Some(addr) if symbol.starts_with("0x") => addr,
                _ => k::uprobe_offset(&path, symbol)?,
            };
            if k::pmu_type("uprobe").is_none() {
                anyhow::bail!("this kernel has no uprobe support (no uprobe PMU in /sys/bus/event_source/devices)");
            }
            let event = k::open_uprobe(&path, base + offset, *retprobe, *pid, 0).map_err(|e| {
                let target = format!("{}:{symbol}", path.display());
                match (e.raw_os_error(), pid) {
                    (Some(libc::ESRCH), Some(p)) => anyhow::anyhow!("{what} {target}: no process {p}"),
                    _ => bpf::kernel_error(e, format!("opening {what} on {target}")),
                }
            })?;
            k::perf_link(prog, event.as_fd())
                .map_err(|e| bpf::kernel_error(e, format!("linking to {what} {}:{symbol}", path.display())))
        }
        Hook::Tracing(word) => {
            let link = k::raw_tracepoint(prog, None).map_err(|e| match e.raw_os_error() {
                Some(libc::EPERM) if bpf::caps::missing_hint().is_none() => hinted(
                    format!("{word}: the kernel refused the attachment (EPERM): it does not allow BPF trampolines (fentry/fexit/fmod_ret), e.g. under lockdown or without CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS"),
                    "use a tracepoint or raw_tracepoint instead, or a kernel that allows trampolines (`make vmtest` boots one)",
                ),
                _ => bpf::kernel_error(e, format!("attaching {word}")),
            })?;
            let got = bpf::link::info(link.as_fd())?
                .target
                .attach_type()
                .map(bpf::link::AttachType::name)
                .unwrap_or_default();
            let want = match *word {
                "fentry" => "trace_fentry",
                "fexit" => "trace_fexit",
                _ => "modify_return",
            };
            if got != want {
                // Dropping `link` here detaches it again.
                anyhow::bail!(
                    "the program was loaded as {got}, not {word}; attach it as what it was loaded for"
                );
            }
            Ok(link)
        }
        Hook::Cgroup { path, attach_type } => {
            let t = cgroup_attach_type(attach_type).ok_or_else(|| {
                usage(format!(
                    "unknown cgroup attach type `{attach_type}`: e.g. ingress, egress, sock_create, connect4, cgroup_inet_ingress"
                ))
            })?;
            let dir = std::fs::File::open(path)
                .with_context(|| format!("cgroup {}: cannot open", path.display()))?;
            if !nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type().0 == 0x6367_7270) {
                anyhow::bail!("{}: is not a cgroup v2 directory", path.display());
            }
            k::link_create(prog, dir.as_raw_fd(), t).map_err(|e| {
                bpf::kernel_error(
                    e,
                    format!("attaching to cgroup {} as {attach_type}", path.display()),
                )
            })
        }
        Hook::Usdt { .. } => anyhow::bail!("usdt: attached by usdt::attach"),
        Hook::Map { .. } => anyhow::bail!("map attach types: attached by map_attach::attach"),
    }
}

/// `prog load|loadall ... autoattach`: attach every program of a loaded object by its
/// section name and pin each link at `<program pin>_link`. Programs whose section says
/// nothing about where to attach (xdp, tc, ...) are left unattached and named in the result.
pub fn autoattach(
    obj: &libbpf_rs::Object,
    prog_pins: &[(String, PathBuf)],
    rollback: &mut Rollback<'_>,
) -> Result<Vec<String>> {
    let mut skipped = Vec::new();
    for prog in obj.progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        let Some((_, prog_pin)) = prog_pins.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let mut link = match prog.attach() {
            Ok(l) => l,
            Err(e) if e.kind() == libbpf_rs::ErrorKind::Unsupported => {
                skipped.push(name);
                continue;
            }
            Err(e) => {
                let said = bpf::log::take();
                let detail = said
                    .lines()
                    .rev()
                    .find(|l| l.starts_with("libbpf: prog"))
                    .map(|l| format!(" ({})", l.trim_start_matches("libbpf: ")))
                    .unwrap_or_default();
                return Err(anyhow::Error::new(e).context(format!(
                    "autoattach: attaching program {name} (section {}){detail}",
                    prog.section().to_string_lossy()
                )));
            }
        };
        let path = link_pin::autoattach(prog_pin);
        bpffs::check_pin_path(&path)?;
        link.pin(&path)
            .with_context(|| format!("pinning the link of {name} at {}", path.display()))?;
        rollback.push(move || {
            let _ = std::fs::remove_file(&path);
        });
    }
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hook of `prog attach id 1 <line>`.
    fn hook(line: &str) -> Result<Hook> {
        let words: Vec<String> = format!("id 1 {line}")
            .split_whitespace()
            .map(String::from)
            .collect();
        Hook::from_matches(&grammar::parse("prog", "attach", &words)?)
    }

    #[test]
    fn hooks_parse() {
        assert_eq!(
            hook("tracepoint syscalls:sys_enter_getpid").ok(),
            Some(Hook::Tracepoint {
                category: "syscalls".into(),
                name: "sys_enter_getpid".into()
            })
        );
        assert_eq!(
            hook("kprobe do_sys_open+0x10").ok(),
            Some(Hook::Kprobe {
                func: "do_sys_open".into(),
                offset: 16,
                retprobe: false
            })
        );
        assert_eq!(
            hook("uretprobe /bin/x:main pid 42").ok(),
            Some(Hook::Uprobe {
                path: "/bin/x".into(),
                symbol: "main".into(),
                offset: 0,
                retprobe: true,
                pid: Some(42)
            })
        );
        assert_eq!(
            hook("usdt /opt/a:b/x:prov:hit pid 7").ok(),
            Some(Hook::Usdt {
                path: "/opt/a:b/x".into(),
                provider: "prov".into(),
                name: "hit".into(),
                pid: Some(7)
            })
        );
        assert_eq!(hook("fexit").ok(), Some(Hook::Tracing("fexit")));
        assert_eq!(
            hook("sk_msg_verdict id 5").ok(),
            Some(Hook::Map {
                attach_type: MapAttachType::SkMsgVerdict,
                map: Some(Handle::Id(5))
            })
        );
        assert_eq!(
            hook("flow_dissector").ok(),
            Some(Hook::Map {
                attach_type: MapAttachType::FlowDissector,
                map: None
            })
        );
    }

    #[test]
    fn bad_hooks_are_usage_errors() {
        for bad in [
            "",
            "tracepoint",
            "tracepoint nocolon",
            "kprobe f+zz",
            "kretprobe f+4",
            "uprobe nosymbol",
            "uprobe /x:f pid y",
            "usdt /x:hit",
            "usdt /x::hit",
            "usdt /x:p:n pid",
            "tracepoint a:b pid 4",
            "uprobe /x:f pid 0",
            "fentry extra",
            "bogus x",
            "sk_msg_verdict",
            "sk_skb_verdict name",
            "flow_dissector id 3",
            "sk_msg_verdict id 1 tracepoint a:b",
        ] {
            let err = hook(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
        }
    }
}
