// `feature probe`'s system section: the bpf sysctls under /proc/sys and the kernel config
// options bpftool reports, read from /boot/config-$(uname -r) or /proc/config.gz.

use std::io::{BufRead, BufReader, Read};

/// The sysctls bpftool reads, as its JSON keys and paths.
pub const SYSCTLS: &[(&str, &str)] = &[
    (
        "unprivileged_bpf_disabled",
        "/proc/sys/kernel/unprivileged_bpf_disabled",
    ),
    ("bpf_jit_enable", "/proc/sys/net/core/bpf_jit_enable"),
    ("bpf_jit_harden", "/proc/sys/net/core/bpf_jit_harden"),
    ("bpf_jit_kallsyms", "/proc/sys/net/core/bpf_jit_kallsyms"),
    ("bpf_jit_limit", "/proc/sys/net/core/bpf_jit_limit"),
];

/// The config options bpftool reports, in its order; `true` marks the ones `macros` prints.
pub const CONFIG_OPTIONS: &[(&str, bool)] = &[
    ("CONFIG_BPF", false),
    ("CONFIG_BPF_SYSCALL", false),
    ("CONFIG_HAVE_EBPF_JIT", false),
    ("CONFIG_BPF_JIT", false),
    ("CONFIG_BPF_JIT_ALWAYS_ON", false),
    ("CONFIG_DEBUG_INFO_BTF", false),
    ("CONFIG_DEBUG_INFO_BTF_MODULES", false),
    ("CONFIG_CGROUPS", false),
    ("CONFIG_CGROUP_BPF", false),
    ("CONFIG_CGROUP_NET_CLASSID", false),
    ("CONFIG_SOCK_CGROUP_DATA", false),
    ("CONFIG_BPF_EVENTS", false),
    ("CONFIG_KPROBE_EVENTS", false),
    ("CONFIG_UPROBE_EVENTS", false),
    ("CONFIG_TRACING", false),
    ("CONFIG_FTRACE_SYSCALLS", false),
    ("CONFIG_FUNCTION_ERROR_INJECTION", false),
    ("CONFIG_BPF_KPROBE_OVERRIDE", false),
    ("CONFIG_NET", false),
    ("CONFIG_XDP_SOCKETS", false),
    ("CONFIG_LWTUNNEL_BPF", false),
    ("CONFIG_NET_ACT_BPF", false),
    ("CONFIG_NET_CLS_BPF", false),
    ("CONFIG_NET_CLS_ACT", false),
    ("CONFIG_NET_SCH_INGRESS", false),
    ("CONFIG_XFRM", false),
    ("CONFIG_IP_ROUTE_CLASSID", false),
    ("CONFIG_IPV6_SEG6_BPF", false),
    ("CONFIG_BPF_LIRC_MODE2", false),
    ("CONFIG_BPF_STREAM_PARSER", false),
    ("CONFIG_NETFILTER_XT_MATCH_BPF", false),
    ("CONFIG_BPFILTER", false),
    ("CONFIG_BPFILTER_UMH", false),
    ("CONFIG_TEST_BPF", false),
    ("CONFIG_HZ", true),
];

/// The most of a kernel config rbt reads (real ones are a few hundred KiB).
const CONFIG_LIMIT: u64 = 16 << 20;

/// A sysctl as bpftool reads it: one decimal integer line, or -1.
pub fn sysctl(path: &str) -> i64 {
    let Ok(text) = std::fs::read_to_string(path) else {
        return -1;
    };
    match text.strip_suffix('\n') {
        Some(line) => line.parse().unwrap_or(-1),
        None => -1,
    }
}

/// Each config option's value (None: not set, or no config file found).
pub fn kernel_config() -> Vec<(&'static str, Option<String>)> {
    let text = read_config().unwrap_or_default();
    config_values(&text)
}

fn read_config() -> Option<String> {
    let release = nix::sys::utsname::uname()
        .ok()?
        .release()
        .to_string_lossy()
        .into_owned();
    let boot = format!("/boot/config-{release}");
    [boot.as_str(), "/proc/config.gz"]
        .iter()
        .find_map(|path| read_maybe_gzip(path))
        .filter(|text| text.lines().nth(1) == Some("# Automatically generated file; DO NOT EDIT."))
}

/// A file, gunzipped when it starts with the gzip magic (as zlib's gzopen does).
fn read_maybe_gzip(path: &str) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut head = [0u8; 2];
    let n = file.read(&mut head).ok()?;
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    if n == 2 && head == [0x1f, 0x8b] {
        let reader = flate2::read::GzDecoder::new(file).take(CONFIG_LIMIT);
        BufReader::new(reader).read_to_string(&mut text).ok()?;
    } else {
        BufReader::new(file.take(CONFIG_LIMIT))
            .read_to_string(&mut text)
            .ok()?;
    }
    Some(text)
}

/// The value of each option in `CONFIG_OPTIONS` in a config file's text; the first line
/// that sets an option wins, `CONFIG_X=` with nothing after it is skipped.
pub fn config_values(text: &str) -> Vec<(&'static str, Option<String>)> {
    let mut values: Vec<(&'static str, Option<String>)> =
        CONFIG_OPTIONS.iter().map(|(n, _)| (*n, None)).collect();
    for line in BufRead::lines(text.as_bytes()).map_while(Result::ok) {
        if !line.starts_with("CONFIG_") {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        if let Some(slot) = values.iter_mut().find(|(n, v)| *n == name && v.is_none()) {
            slot.1 = Some(value.to_owned());
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lines_are_read_like_bpftool() {
        let text = "#\n# Automatically generated file; DO NOT EDIT.\nCONFIG_BPF=y\n\
# CONFIG_KPROBE_EVENTS is not set\nCONFIG_HZ=250\nCONFIG_HZ=100\nCONFIG_NET=\n";
        let values = config_values(text);
        let get = |n: &str| {
            values
                .iter()
                .find(|(k, _)| *k == n)
                .and_then(|(_, v)| v.clone())
        };
        assert_eq!(get("CONFIG_BPF").as_deref(), Some("y"));
        assert_eq!(get("CONFIG_HZ").as_deref(), Some("250"));
        assert_eq!(get("CONFIG_KPROBE_EVENTS"), None);
        assert_eq!(get("CONFIG_NET"), None);
        assert_eq!(values.len(), CONFIG_OPTIONS.len());
    }
}
