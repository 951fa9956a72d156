// The words of `net` verbs: every parse of the command line's Vec<String> into the typed
// requests the verbs run on (attach types, PROG, `dev IF`, options), kept here alone so the
// parser can be swapped without touching what the verbs do.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Result;

use crate::bpf::net::{self as kn, Direction};
use crate::bpf::Kind;
use crate::cli::{NetAttachArgs, NetDetachArgs};
use crate::error::usage;
use crate::handle::{self, Handle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    Auto,
    Generic,
    Driver,
    Offload,
}

impl XdpMode {
    pub fn flags(self) -> u32 {
        match self {
            XdpMode::Auto => 0,
            XdpMode::Generic => kn::XDP_FLAGS_SKB_MODE,
            XdpMode::Driver => kn::XDP_FLAGS_DRV_MODE,
            XdpMode::Offload => kn::XDP_FLAGS_HW_MODE,
        }
    }

    /// bpftool's mode word in `net show`.
    pub fn word(self) -> &'static str {
        match self {
            XdpMode::Auto => "auto",
            XdpMode::Generic => "generic",
            XdpMode::Driver => "driver",
            XdpMode::Offload => "offload",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachType {
    Xdp(XdpMode),
    Tc(Direction),
    Tcx(Direction),
}

const TYPES: &str =
    "xdp, xdpgeneric, xdpdrv, xdpoffload, tc_ingress, tc_egress, tcx_ingress, tcx_egress";

impl AttachType {
    pub fn parse(word: &str) -> Result<AttachType> {
        Ok(match word {
            "xdp" => AttachType::Xdp(XdpMode::Auto),
            "xdpgeneric" => AttachType::Xdp(XdpMode::Generic),
            "xdpdrv" => AttachType::Xdp(XdpMode::Driver),
            "xdpoffload" => AttachType::Xdp(XdpMode::Offload),
            "tc_ingress" => AttachType::Tc(Direction::Ingress),
            "tc_egress" => AttachType::Tc(Direction::Egress),
            "tcx_ingress" => AttachType::Tcx(Direction::Ingress),
            "tcx_egress" => AttachType::Tcx(Direction::Egress),
            other => {
                return Err(usage(format!(
                    "unknown attach type `{other}`: expected one of {TYPES}"
                )))
            }
        })
    }

    pub fn word(self) -> String {
        match self {
            AttachType::Xdp(XdpMode::Auto) => "xdp".into(),
            AttachType::Xdp(XdpMode::Generic) => "xdpgeneric".into(),
            AttachType::Xdp(XdpMode::Driver) => "xdpdrv".into(),
            AttachType::Xdp(XdpMode::Offload) => "xdpoffload".into(),
            AttachType::Tc(d) => format!("tc_{}", d.word()),
            AttachType::Tcx(d) => format!("tcx_{}", d.word()),
        }
    }

    /// The program types that fit this attach type.
    pub fn prog_types(self) -> &'static [&'static str] {
        match self {
            AttachType::Xdp(_) => &["xdp"],
            AttachType::Tc(_) | AttachType::Tcx(_) => &["sched_cls"],
        }
    }
}

/// `[PROG] dev IF [dev IF].. [overwrite|prepend] [prio P] [handle H]`.
#[derive(Debug, Default, PartialEq)]
pub struct Words {
    pub prog: Option<Handle>,
    pub devs: Vec<String>,
    pub overwrite: bool,
    pub prepend: bool,
    pub prio: Option<u32>,
    pub handle: Option<u32>,
}

/// Where a tcx program goes relative to another (`--before PROG` / `--after PROG`).
#[derive(Debug, PartialEq)]
pub enum Relative {
    Before(Handle),
    After(Handle),
}

/// `net attach`, parsed and checked.
#[derive(Debug)]
pub struct AttachRequest {
    pub t: AttachType,
    pub w: Words,
    pub relative: Option<Relative>,
    pub netns: Option<String>,
    pub link: bool,
    pub link_pin: Option<PathBuf>,
    pub dry_run: bool,
}

/// `net detach`, parsed and checked.
#[derive(Debug)]
pub struct DetachRequest {
    pub t: AttachType,
    pub w: Words,
    pub netns: Option<String>,
    pub dry_run: bool,
}

pub fn attach(args: &NetAttachArgs) -> Result<AttachRequest> {
    let t = AttachType::parse(&args.attach_type)?;
    let w = parse_words(&args.rest)?;
    check_words_fit(t, &w, args.link)?;
    if (args.before.is_some() || args.after.is_some()) && !matches!(t, AttachType::Tcx(_)) {
        return Err(usage("--before/--after are for tcx_ingress/tcx_egress"));
    }
    if args.link_pin.is_some() && w.devs.len() > 1 {
        return Err(usage("--link-pin names one pin: give one `dev IF`"));
    }
    let relative = match (&args.before, &args.after) {
        (Some(word), _) => Some(Relative::Before(parse_one_word_handle(word)?)),
        (None, Some(word)) => Some(Relative::After(parse_one_word_handle(word)?)),
        (None, None) => None,
    };
    Ok(AttachRequest {
        t,
        w,
        relative,
        netns: args.netns.clone(),
        link: args.link,
        link_pin: args.link_pin.clone(),
        dry_run: args.dry_run,
    })
}

pub fn detach(args: &NetDetachArgs) -> Result<DetachRequest> {
    let t = AttachType::parse(&args.attach_type)?;
    let w = parse_words(&args.rest)?;
    if w.overwrite || w.prepend {
        return Err(usage("overwrite and prepend are for attach"));
    }
    if (w.prio.is_some() || w.handle.is_some()) && !matches!(t, AttachType::Tc(_)) {
        return Err(usage("prio and handle are for tc_ingress/tc_egress"));
    }
    Ok(DetachRequest {
        t,
        w,
        netns: args.netns.clone(),
        dry_run: args.dry_run,
    })
}

/// `net show [dev IF]`: the interface, if one is named.
pub fn show(words: &[String]) -> Result<Option<&str>> {
    match words {
        [] => Ok(None),
        [d, name] if d == "dev" => Ok(Some(name.as_str())),
        _ => Err(usage("net show: expected nothing or `dev IF`")),
    }
}

fn parse_number(word: &str, what: &str) -> Result<u32> {
    let parsed = match word.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => word.parse(),
    };
    parsed.map_err(|_| usage(format!("{what} `{word}`: expected a number")))
}

fn parse_words(words: &[String]) -> Result<Words> {
    let mut w = Words::default();
    let mut i = 0;
    if let Some(first) = words.first() {
        if first != "dev" {
            let (h, used) = handle::parse(Kind::Prog, words)?;
            w.prog = Some(h);
            i = used;
        }
    }
    let value = |i: usize, what: &str| {
        words
            .get(i)
            .ok_or_else(|| usage(format!("`{what}` needs a value")))
    };
    while i < words.len() {
        match words[i].as_str() {
            "dev" => {
                w.devs.push(value(i + 1, "dev")?.clone());
                i += 2;
            }
            "overwrite" => {
                w.overwrite = true;
                i += 1;
            }
            "prepend" => {
                w.prepend = true;
                i += 1;
            }
            "prio" => {
                let p = parse_number(value(i + 1, "prio")?, "prio")?;
                if p == 0 || p > 0xffff {
                    return Err(usage(format!("prio {p}: expected 1..65535")));
                }
                w.prio = Some(p);
                i += 2;
            }
            "handle" => {
                let h = parse_number(value(i + 1, "handle")?, "handle")?;
                if h == 0 {
                    return Err(usage("handle 0: expected a non-zero handle"));
                }
                w.handle = Some(h);
                i += 2;
            }
            other if w.prog.is_none() && is_handle_start(other) => {
                let (h, used) = handle::parse(Kind::Prog, &words[i..])?;
                w.prog = Some(h);
                i += used;
            }
            other => {
                return Err(usage(format!(
                    "unexpected `{other}`: expected dev IF, overwrite, prepend, prio P or handle H"
                )))
            }
        }
    }
    if w.devs.is_empty() {
        return Err(usage("expected `dev IF` (the interface)"));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = w.devs.iter().find(|d| !seen.insert(d.as_str())) {
        return Err(usage(format!("interface `{dup}` is named twice")));
    }
    Ok(w)
}

/// Whether `word` starts a PROG handle (`net detach TYPE dev IF PROG`).
fn is_handle_start(word: &str) -> bool {
    matches!(word, "id" | "pinned" | "name" | "tag") || word.starts_with('/')
}

/// A PROG given in one word (`--before id=7`, `--after /sys/fs/bpf/p`).
fn parse_one_word_handle(word: &str) -> Result<Handle> {
    let parts: Vec<String> = word
        .split(|c: char| c == '=' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    handle::parse_all(Kind::Prog, &parts)
}

fn check_words_fit(t: AttachType, w: &Words, link: bool) -> Result<()> {
    let tc = matches!(t, AttachType::Tc(_));
    let tcx = matches!(t, AttachType::Tcx(_));
    if (w.prio.is_some() || w.handle.is_some()) && !tc {
        return Err(usage(format!(
            "prio and handle are for tc_ingress/tc_egress, not {}",
            t.word()
        )));
    }
    if w.prepend && !tcx {
        return Err(usage(format!(
            "prepend is for tcx_ingress/tcx_egress, not {}",
            t.word()
        )));
    }
    if w.overwrite && tcx {
        return Err(usage(
            "overwrite is not for tcx (a chain holds several programs): detach the old one, or use --before/--after",
        ));
    }
    if link && tc {
        return Err(usage(
            "tc filters cannot be held by a bpf_link: use tcx_ingress/tcx_egress with --link",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn attach_words_parse() {
        let w = parse_words(&words("id 7 dev a dev b overwrite")).unwrap_or_default();
        assert_eq!(w.prog, Some(Handle::Id(7)));
        assert_eq!(w.devs, ["a", "b"]);
        assert!(w.overwrite);
        let w = parse_words(&words("dev a prio 3 handle 0x10")).unwrap_or_default();
        assert_eq!(w.prog, None);
        assert_eq!((w.prio, w.handle), (Some(3), Some(16)));
        let w = parse_words(&words("/sys/fs/bpf/p dev a")).unwrap_or_default();
        assert_eq!(w.prog, Some(Handle::Pinned("/sys/fs/bpf/p".into())));
        let w = parse_words(&words("dev a id 9")).unwrap_or_default();
        assert_eq!(
            (w.prog, w.devs),
            (Some(Handle::Id(9)), vec!["a".to_string()])
        );
        assert!(parse_words(&words("id 1 dev a id 2")).is_err());
    }

    #[test]
    fn bad_attach_words_are_usage_errors() {
        for bad in [
            "id 7",
            "dev",
            "id 7 dev a bogus",
            "dev a dev a",
            "dev a prio x",
            "dev a prio 0",
        ] {
            let err = parse_words(&words(bad)).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
        }
        assert!(AttachType::parse("xdpx").is_err());
    }

    #[test]
    fn one_word_handles() {
        assert_eq!(parse_one_word_handle("id=7").ok(), Some(Handle::Id(7)));
        assert_eq!(
            parse_one_word_handle("/sys/fs/bpf/x").ok(),
            Some(Handle::Pinned("/sys/fs/bpf/x".into()))
        );
        assert!(parse_one_word_handle("id").is_err());
    }

    #[test]
    fn type_words_round_trip() {
        for w in TYPES.split(", ") {
            assert_eq!(
                AttachType::parse(w).map(|t| t.word()).ok().as_deref(),
                Some(w)
            );
        }
    }
}
