// `feature probe` (what this kernel's BPF can do, bpftool's sections plus rbt's live
// probes) and `version`; the results are gathered here and rendered in render.rs.

mod render;
mod system;

use anyhow::Result;

use crate::bpf::probe::{self, Misc, HELPER_NAMES};
use crate::bpf::probe_live::{self, Check};
use crate::cli::FeatureVerb;
use crate::error::{hinted, usage};
use crate::grammar;
use crate::output::Output;

pub use render::version;

pub fn run(verb: Option<FeatureVerb>, out: &mut Output) -> Result<()> {
    match verb.unwrap_or(FeatureVerb::Probe { words: Vec::new() }) {
        FeatureVerb::Probe { words } => probe(&words, out),
    }
}

/// What to probe and how to print it.
#[derive(Debug, Clone, Default)]
struct Options {
    /// `dev IF`: the interface's index and name.
    dev: Option<(u32, String)>,
    full: bool,
    unprivileged: bool,
    /// `macros [prefix P]`: the prefix ("" without `prefix`).
    macros: Option<String>,
}

fn options(words: &[String]) -> Result<Options> {
    let m = grammar::parse("feature", "probe", words)?;
    let dev = match m.text("dev") {
        Some(name) => Some((ifindex(name)?, name.to_owned())),
        None => None,
    };
    let macros = match (m.has("macros"), m.text("prefix")) {
        (true, p) => Some(p.unwrap_or_default().to_owned()),
        (false, Some(_)) => {
            return Err(usage("`prefix` can only be used after `macros`"));
        }
        (false, None) => None,
    };
    Ok(Options {
        dev,
        full: m.has("full"),
        unprivileged: m.has("unprivileged"),
        macros,
    })
}

fn ifindex(name: &str) -> Result<u32> {
    nix::net::if_::if_nametoindex(name).map_err(|e| {
        hinted(
            format!("unrecognized netdevice '{name}': {}", e.desc()),
            "list the interfaces with `ip link` (or `rbt net show`)",
        )
    })
}

/// The sysctls (-1 when unreadable) and the config options (None: not set).
pub type System = (
    Vec<(&'static str, i64)>,
    Vec<(&'static str, Option<String>)>,
);

/// Everything one `feature probe` found, in bpftool's section order.
#[derive(Debug, Default)]
pub struct Report {
    /// Sysctls (-1 when unreadable) and config options; absent for `dev IF`.
    pub system: Option<System>,
    pub syscall: bool,
    pub prog_types: Vec<(&'static str, bool)>,
    pub map_types: Vec<(&'static str, bool)>,
    /// Per program type: each helper probed, and whether it may be called.
    pub helpers: Vec<(&'static str, Vec<(&'static str, bool)>)>,
    pub misc: Vec<(&'static str, &'static str, bool)>,
    /// rbt's own sections (the host only).
    pub live: Option<Live>,
}

/// rbt's live probes and what follows from them.
#[derive(Debug, Default)]
pub struct Live {
    pub checks: Vec<(&'static str, Check)>,
    pub link_types: Vec<(&'static str, bool)>,
    pub attach_types: Vec<(&'static str, bool)>,
}

fn probe(words: &[String], out: &mut Output) -> Result<()> {
    let opts = options(words)?;
    if !opts.unprivileged {
        if let Some(hint) = crate::bpf::caps::missing_hint() {
            return Err(hinted(
                "full feature probing needs CAP_SYS_ADMIN or CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON",
                format!("{hint}; or use `unprivileged`"),
            ));
        }
    }
    let report = if opts.unprivileged {
        let o = opts.clone();
        std::thread::scope(|s| {
            s.spawn(move || -> Result<Report> {
                crate::bpf::caps::drop_bpf_caps_on_this_thread()
                    .map_err(|e| anyhow::anyhow!("dropping capabilities: {e}"))?;
                Ok(gather(&o))
            })
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the probe thread panicked")))
        })?
    } else {
        gather(&opts)
    };
    render::emit(&report, &opts, out)
}

/// Helpers that write to the kernel log; bpftool probes them only with `full`.
fn noisy_helper(id: u32) -> bool {
    id == libbpf_sys::BPF_FUNC_trace_printk
        || id == libbpf_sys::BPF_FUNC_trace_vprintk
        || id == libbpf_sys::BPF_FUNC_probe_write_user
}

/// Run the probes. rbt's live probes wait on the kernel (a detach waits for RCU), so they
/// run on a thread of their own beside bpftool's probes.
fn gather(opts: &Options) -> Report {
    let unprivileged = opts.unprivileged;
    std::thread::scope(|s| {
        let live = opts.dev.is_none().then(|| {
            s.spawn(move || {
                if unprivileged {
                    // Capabilities are per thread: this one starts with the parent's.
                    let _ = crate::bpf::caps::drop_bpf_caps_on_this_thread();
                }
                live()
            })
        });
        let mut report = gather_bpftool(opts);
        if report.syscall {
            report.live = live.and_then(|h| h.join().ok());
        }
        report
    })
}

/// bpftool's sections.
fn gather_bpftool(opts: &Options) -> Report {
    let ifindex = opts.dev.as_ref().map_or(0, |(i, _)| *i);
    let mut report = Report {
        syscall: probe::bpf_syscall(),
        ..Report::default()
    };
    if opts.dev.is_none() {
        let sysctls = system::SYSCTLS
            .iter()
            .map(|(key, path)| (*key, system::sysctl(path)))
            .collect();
        report.system = Some((sysctls, system::kernel_config()));
    }
    if !report.syscall {
        return report;
    }
    let offloadable =
        |t: u32| t == libbpf_sys::BPF_PROG_TYPE_SCHED_CLS || t == libbpf_sys::BPF_PROG_TYPE_XDP;
    let prog_types: Vec<(u32, &'static str, bool)> = probe::prog_types()
        .into_iter()
        .filter(|(t, _)| ifindex == 0 || offloadable(*t))
        .map(|(t, name)| {
            let yes = if ifindex != 0 {
                probe::prog_type_offload(t, ifindex)
            } else {
                let a = probe::prog_type(t);
                a.yes && !(opts.unprivileged && a.eperm)
            };
            (t, name, yes)
        })
        .collect();
    report.prog_types = prog_types.iter().map(|(_, n, y)| (*n, *y)).collect();
    report.map_types = probe::map_types()
        .into_iter()
        .filter(|(t, _)| {
            ifindex == 0
                || *t == libbpf_sys::BPF_MAP_TYPE_HASH
                || *t == libbpf_sys::BPF_MAP_TYPE_ARRAY
        })
        .map(|(t, name)| {
            let yes = if ifindex != 0 {
                probe::map_type_offload(t, ifindex)
            } else {
                probe::map_type(t)
            };
            (name, yes)
        })
        .collect();
    report.helpers = helpers(&prog_types, opts, ifindex);
    report.misc = [
        (
            Misc::LargeInsnLimit,
            "have_large_insn_limit",
            "LARGE_INSN_LIMIT",
        ),
        (Misc::BoundedLoops, "have_bounded_loops", "BOUNDED_LOOPS"),
        (Misc::V2Isa, "have_v2_isa_extension", "V2_ISA_EXTENSION"),
        (Misc::V3Isa, "have_v3_isa_extension", "V3_ISA_EXTENSION"),
    ]
    .into_iter()
    .map(|(f, key, define)| (key, define, probe::misc(f, ifindex)))
    .collect();
    report
}

/// The helper probes, program types split over two threads (the probes are independent
/// loads, so the wall time halves where there are two CPUs).
fn helpers(
    prog_types: &[(u32, &'static str, bool)],
    opts: &Options,
    ifindex: u32,
) -> Vec<(&'static str, Vec<(&'static str, bool)>)> {
    let one = |&(t, name, supported): &(u32, &'static str, bool)| {
        let list: Vec<(&'static str, bool)> = (1..HELPER_NAMES.len() as u32)
            .filter(|id| opts.full || !noisy_helper(*id))
            .map(|id| {
                let yes = supported
                    && if ifindex != 0 {
                        probe::helper_offload(t, id, ifindex)
                    } else {
                        let a = probe::helper(t, id);
                        a.yes && !(opts.unprivileged && a.eperm)
                    };
                (HELPER_NAMES[id as usize], yes)
            })
            .collect();
        (name, list)
    };
    let half = prog_types.len() / 2;
    let (first, second) = prog_types.split_at(half);
    let unprivileged = opts.unprivileged;
    std::thread::scope(|s| {
        let other = s.spawn(|| {
            if unprivileged {
                // Capabilities are per thread: this one starts with the parent's.
                let _ = crate::bpf::caps::drop_bpf_caps_on_this_thread();
            }
            second.iter().map(one).collect::<Vec<_>>()
        });
        let mut all: Vec<_> = first.iter().map(one).collect();
        match other.join() {
            Ok(rest) => all.extend(rest),
            Err(_) => all.extend(second.iter().map(one)),
        }
        all
    })
}

/// rbt's live probes, each on a thread of its own: they mostly wait on the kernel (a
/// detach waits for an RCU grace period), so side by side they take the time of the slowest.
fn live() -> Live {
    type Probe = fn() -> Check;
    const PROBES: &[(&str, Probe)] = &[
        ("kprobes", probe_live::kprobes),
        ("bpf_trampoline", probe_live::trampoline),
        ("tcx", probe_live::tcx),
        ("netkit", probe_live::netkit),
        ("uprobe_multi", probe_live::uprobe_multi),
        ("ringbuf", probe_live::ringbuf),
        ("batch_ops", probe_live::batch_ops),
        ("kprobe_multi", probe_live::kprobe_multi_link),
        ("raw_tracepoint_link", probe_live::raw_tracepoint_link),
        ("xdp_link", probe_live::xdp),
    ];
    let (checks, mut attach_types) = std::thread::scope(|s| {
        let running: Vec<_> = PROBES.iter().map(|(n, f)| (*n, s.spawn(*f))).collect();
        let attach_types = probe_live::attach_types_by_load();
        let checks: Vec<(&'static str, Check)> = running
            .into_iter()
            .map(|(name, h)| {
                let check = h.join().unwrap_or_else(|_| Check {
                    available: false,
                    detail: "the probe thread panicked".into(),
                });
                (name, check)
            })
            .collect();
        (checks, attach_types)
    });
    let check = |name: &str| {
        checks
            .iter()
            .find(|(n, _)| *n == name)
            .is_some_and(|(_, c)| c.available)
    };
    let link_types = vec![
        ("raw_tracepoint", check("raw_tracepoint_link")),
        ("tracing", check("bpf_trampoline")),
        ("xdp", check("xdp_link")),
        ("perf_event", check("kprobes")),
        ("kprobe_multi", check("kprobe_multi")),
        ("tcx", check("tcx")),
        ("uprobe_multi", check("uprobe_multi")),
        ("netkit", check("netkit")),
    ];
    let by_link = |name: &str| link_types.iter().find(|(n, _)| *n == name).map(|(_, y)| *y);
    for (attach, link) in [
        ("trace_fentry", "tracing"),
        ("xdp", "xdp"),
        ("trace_kprobe_multi", "kprobe_multi"),
        ("tcx_ingress", "tcx"),
        ("trace_uprobe_multi", "uprobe_multi"),
        ("netkit_primary", "netkit"),
    ] {
        if let Some(yes) = by_link(link) {
            attach_types.push((attach, yes));
        }
    }
    Live {
        checks,
        link_types,
        attach_types,
    }
}
