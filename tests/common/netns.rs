// Network labs: netns and `rbt*` veths a test creates (removed on drop), pings between them.

use std::process::{Command, Output};

use serde_json::Value;

use super::run;

pub const IP_A: &str = "10.99.0.1";
pub const IP_B: &str = "10.99.0.2";

/// Run a command; panic with its stderr unless it succeeded.
pub fn sh(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `sh` inside network namespace `ns`.
pub fn in_ns(ns: &str, args: &[&str]) -> Output {
    let mut all = vec!["ip", "netns", "exec", ns];
    all.extend_from_slice(args);
    sh(&all)
}

/// Two namespaces A and B joined by veth a <-> b (IPv6 off, static neighbours, so the only
/// packets on the wire are the test's pings); optionally a second pair a2 <-> b2.
pub struct Lab {
    pub ns_a: String,
    pub ns_b: String,
    pub a: String,
    pub b: String,
    pub a2: String,
}

impl Lab {
    pub fn new(tag: &str) -> Lab {
        let pid = std::process::id();
        let lab = Lab {
            ns_a: format!("rbt-{tag}-{pid}-a"),
            ns_b: format!("rbt-{tag}-{pid}-b"),
            a: format!("rbt{tag}{pid}a"),
            b: format!("rbt{tag}{pid}b"),
            a2: format!("rbt{tag}{pid}c"),
        };
        assert!(lab.a.len() <= 15, "interface name too long: {}", lab.a);
        for ns in [&lab.ns_a, &lab.ns_b] {
            sh(&["ip", "netns", "add", ns]);
            for key in ["all", "default"] {
                in_ns(
                    ns,
                    &[
                        "sysctl",
                        "-qw",
                        &format!("net.ipv6.conf.{key}.disable_ipv6=1"),
                    ],
                );
            }
            in_ns(ns, &["ip", "link", "set", "lo", "up"]);
        }
        lab.pair(&lab.a, &lab.b, "01", "02", IP_A, IP_B);
        lab
    }

    pub fn with_second_pair(tag: &str) -> Lab {
        let lab = Lab::new(tag);
        let b2 = format!("{}d", &lab.b[..lab.b.len() - 1]);
        lab.pair(&lab.a2, &b2, "03", "04", "10.99.1.1", "10.99.1.2");
        lab
    }

    fn pair(&self, a: &str, b: &str, mac_a: &str, mac_b: &str, ip_a: &str, ip_b: &str) {
        let mac_a = format!("02:00:00:00:00:{mac_a}");
        let mac_b = format!("02:00:00:00:00:{mac_b}");
        sh(&[
            "ip", "link", "add", a, "address", &mac_a, "netns", &self.ns_a, "type", "veth", "peer",
            "name", b, "address", &mac_b, "netns", &self.ns_b,
        ]);
        for (ns, dev, ip, peer_ip, peer_mac) in [
            (&self.ns_a, a, ip_a, ip_b, &mac_b),
            (&self.ns_b, b, ip_b, ip_a, &mac_a),
        ] {
            in_ns(ns, &["ip", "addr", "add", &format!("{ip}/24"), "dev", dev]);
            in_ns(ns, &["ip", "link", "set", dev, "up"]);
            in_ns(
                ns,
                &[
                    "ip",
                    "neigh",
                    "replace",
                    peer_ip,
                    "lladdr",
                    peer_mac,
                    "dev",
                    dev,
                    "nud",
                    "permanent",
                ],
            );
        }
    }

    /// `rbt ARGS --netns A`.
    pub fn rbt(&self, args: &[&str]) -> (i32, String, String) {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--netns", &self.ns_a]);
        run(&all)
    }

    pub fn rbt_ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.rbt(args);
        assert_eq!(code, 0, "rbt {args:?} failed: {err}");
        out
    }

    /// rbt's `net show` JSON of interface `dev` in A.
    pub fn show(&self, dev: &str) -> Value {
        let (code, out, err) = self.rbt(&["-j", "net", "show", "dev", dev]);
        assert_eq!(code, 0, "net show: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON {e}: {out}"))
    }

    /// bpftool's `net show` of `dev`, run inside A (bpftool has no --netns).
    pub fn bpftool_show(&self, dev: &str) -> Value {
        let out = in_ns(&self.ns_a, &["bpftool", "-j", "net", "show", "dev", dev]);
        serde_json::from_slice(&out.stdout).expect("bpftool JSON")
    }

    /// Send `count` pings from B to A; returns (transmitted, received).
    pub fn ping_from_b(&self, count: u32) -> (u64, u64) {
        ping(&self.ns_b, IP_A, count, "0.05")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting the namespaces deletes the veths (and their attachments) with them.
        for ns in [&self.ns_a, &self.ns_b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        // Link pins rbt made at its default place for this namespace.
        let _ = std::fs::remove_dir_all(format!("/sys/fs/bpf/rbt/net/{}", self.ns_a));
    }
}

/// A veth `host` in the default namespace whose peer is in a namespace of its own; both
/// are deleted on drop.
pub struct HostVeth {
    pub host: String,
    pub ns: String,
}

impl HostVeth {
    pub fn new(tag: &str) -> HostVeth {
        let pid = std::process::id();
        let ns = format!("rbt-{tag}-{pid}");
        let peer = format!("rbt{tag}{pid}b");
        sh(&["ip", "netns", "add", &ns]);
        let veth = HostVeth {
            host: format!("rbt{tag}{pid}a"),
            ns,
        };
        sh(&[
            "ip", "link", "add", &veth.host, "type", "veth", "peer", "name", &peer, "netns",
            &veth.ns,
        ]);
        veth
    }
}

impl Drop for HostVeth {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// Send `count` pings `interval` seconds apart from namespace `ns` to `ip`; returns
/// (transmitted, received).
pub fn ping(ns: &str, ip: &str, count: u32, interval: &str) -> (u64, u64) {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "ping",
            "-q",
            "-n",
            "-c",
            &count.to_string(),
            "-i",
            interval,
            "-W",
            "1",
            ip,
        ])
        .output()
        .expect("ping");
    parse_ping(&String::from_utf8_lossy(&out.stdout))
}

/// (transmitted, received) from ping's summary line.
pub fn parse_ping(text: &str) -> (u64, u64) {
    let line = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no ping summary in {text}"));
    let nums: Vec<u64> = line
        .split(',')
        .take(2)
        .map(|part| {
            part.split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("bad ping summary {line}"))
        })
        .collect();
    (nums[0], nums[1])
}
