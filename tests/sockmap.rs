// `prog attach|detach PROG ATTACH_TYPE MAP` against the live kernel: sk_msg and sk_skb
// programs on a sockmap whose connected socket pair they count, the flow dissector in a
// network namespace of the test, cross-checked with bpftool, and bad input.

#[macro_use]
mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

/// Run the peer: a connected TCP pair put into the pinned sockmap, `n` messages sent.
fn peer(map: &str, n: u32) -> u64 {
    let peer = target_program("sockmap_peer", &["-O1"], "");
    number_printed_by(Command::new(peer).args([map, &n.to_string()]))
}

fn count(loaded: &Loaded, key: u32) -> u64 {
    map_number(&loaded.map("verdict_counts"), key)
}

#[test]
fn msg_verdict_counts_a_socket_pair() {
    require_kernel!("sockmap");
    let loaded = Loaded::new("sockmap_verdict");
    let prog = loaded.prog("rbt_msg_verdict");
    let map = loaded.map("sock_map");
    let out = ok(&[
        "prog",
        "attach",
        "pinned",
        &prog,
        "sk_msg_verdict",
        "pinned",
        &map,
    ]);
    assert!(out.contains("attached program rbt_msg_verdict"), "{out}");
    assert_eq!(peer(&map, 5), 20);
    assert_eq!(count(&loaded, 0), 5, "one verdict per message");
    // bpftool sees the same attachment: its detach succeeds, and then rbt's says it is gone
    let (code, _, err) = bpftool(&[
        "prog",
        "detach",
        "pinned",
        &prog,
        "sk_msg_verdict",
        "pinned",
        &map,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&[
        "prog",
        "detach",
        "pinned",
        &prog,
        "sk_msg_verdict",
        "pinned",
        &map,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("not attached"), "{err}");
    // and the other way round
    let (code, _, err) = bpftool(&[
        "prog",
        "attach",
        "pinned",
        &prog,
        "sk_msg_verdict",
        "pinned",
        &map,
    ]);
    assert_eq!(code, 0, "{err}");
    let out = ok(&[
        "prog",
        "detach",
        "pinned",
        &prog,
        "sk_msg_verdict",
        "pinned",
        &map,
    ]);
    assert!(out.contains("detached"), "{out}");
    peer(&map, 2);
    assert_eq!(count(&loaded, 0), 5, "nothing counts after detach");
}

#[test]
fn stream_parser_and_verdict() {
    require_kernel!("sockmap");
    let loaded = Loaded::new("sockmap_verdict");
    let parser = loaded.prog("rbt_skb_parser");
    let verdict = loaded.prog("rbt_skb_verdict");
    let map = loaded.map("sock_map");
    ok(&[
        "prog",
        "attach",
        "pinned",
        &parser,
        "sk_skb_stream_parser",
        "pinned",
        &map,
    ]);
    ok(&[
        "prog",
        "attach",
        "pinned",
        &verdict,
        "sk_skb_stream_verdict",
        "pinned",
        &map,
    ]);
    assert_eq!(peer(&map, 3), 12);
    assert!(count(&loaded, 1) >= 1, "verdicts counted");
    assert!(count(&loaded, 2) >= 1, "parser runs counted");
    ok(&[
        "prog",
        "detach",
        "pinned",
        &verdict,
        "sk_skb_stream_verdict",
        "pinned",
        &map,
    ]);
    ok(&[
        "prog",
        "detach",
        "pinned",
        &parser,
        "sk_skb_stream_parser",
        "pinned",
        &map,
    ]);
    // sk_skb_verdict: the same program type, another hook
    ok(&[
        "prog",
        "attach",
        "pinned",
        &verdict,
        "sk_skb_verdict",
        "pinned",
        &map,
    ]);
    ok(&[
        "prog",
        "detach",
        "pinned",
        &verdict,
        "sk_skb_verdict",
        "pinned",
        &map,
    ]);
}

#[test]
fn bad_map_attachments_are_clear() {
    require_kernel!("sockmap");
    let loaded = Loaded::new("sockmap_verdict");
    let msg = loaded.prog("rbt_msg_verdict");
    let map = loaded.map("sock_map");
    let counts = loaded.map("verdict_counts");
    // the program type the attach type needs is named
    let (code, _, err) = run(&[
        "prog",
        "attach",
        "pinned",
        &msg,
        "sk_skb_stream_verdict",
        "pinned",
        &map,
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("type sk_msg") && err.contains("type sk_skb"),
        "{err}"
    );
    // not a sockmap
    let (code, out, err) = run(&[
        "-j",
        "prog",
        "attach",
        "pinned",
        &msg,
        "sk_msg_verdict",
        "pinned",
        &counts,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("not a sockmap"), "{err}");
    assert!(serde_json::from_str::<Value>(&out).is_ok_and(|v| v["error"].is_string()));
    // MAP missing, or given to flow_dissector; --pin has nothing to pin
    let (code, _, _) = run(&["prog", "attach", "pinned", &msg, "sk_msg_verdict"]);
    assert_eq!(code, 2);
    let (code, _, _) = run(&["prog", "detach", "pinned", &msg]);
    assert_eq!(code, 2);
    let pin = loaded.dir.join("l");
    let (code, _, _) = run(&[
        "prog",
        "attach",
        "pinned",
        &msg,
        "sk_msg_verdict",
        "pinned",
        &map,
        "--pin",
        &pin,
    ]);
    assert_eq!(code, 2);
    // nothing was attached: bpftool's detach finds nothing either
    let (code, _, _) = bpftool(&[
        "prog",
        "detach",
        "pinned",
        &msg,
        "sk_msg_verdict",
        "pinned",
        &map,
    ]);
    assert_ne!(code, 0);
}

/// A network namespace of this test, removed on drop.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Run rbt (or bpftool) in the namespace with nsenter, which keeps /sys/fs/bpf visible.
fn in_netns(ns: &str, tool: &str, args: &[&str]) -> (i32, String, String) {
    let bin = if tool == "rbt" {
        assert_cmd::cargo::cargo_bin("rbt").display().to_string()
    } else {
        tool.to_owned()
    };
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{ns}"))
        .arg(bin)
        .args(args)
        .output()
        .expect("nsenter");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn flow_dissector_on_a_netns() {
    require_kernel!("flow dissector");
    if which("nsenter").is_none() {
        panic!("nsenter (util-linux) is needed");
    }
    let ns = Netns(format!("rbtfd{}", std::process::id()));
    let st = Command::new("ip")
        .args(["netns", "add", &ns.0])
        .status()
        .expect("ip");
    assert!(st.success());
    let loaded = Loaded::new("sockmap_verdict");
    let prog = loaded.prog("rbt_flow");
    let id = loaded.prog_id("rbt_flow");
    let (code, out, err) = in_netns(
        &ns.0,
        "rbt",
        &["prog", "attach", "pinned", &prog, "flow_dissector"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("network namespace"), "{out}");
    let (_, out, _) = in_netns(&ns.0, "rbt", &["-j", "net", "show"]);
    let r: Value = serde_json::from_str(&out).expect("rbt json");
    assert_eq!(r[0]["flow_dissector"][0]["id"].as_u64(), Some(id));
    // bpftool 7.1 prints "flow_dissector":["id":N] (not JSON): check the id is there
    let (_, bout, _) = in_netns(&ns.0, "bpftool", &["-j", "net", "show"]);
    assert!(bout.contains(&format!("\"id\":{id}")), "{bout}");
    // attached twice: clear error
    let (code, _, err) = in_netns(
        &ns.0,
        "rbt",
        &["prog", "attach", "pinned", &prog, "flow_dissector"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("already"), "{err}");
    let (code, _, err) = in_netns(
        &ns.0,
        "rbt",
        &[
            "prog",
            "attach",
            "pinned",
            &prog,
            "flow_dissector",
            "pinned",
            &loaded.map("sock_map"),
        ],
    );
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = in_netns(
        &ns.0,
        "rbt",
        &["prog", "detach", "pinned", &prog, "flow_dissector"],
    );
    assert_eq!(code, 0, "{err}");
    let (_, bout, _) = in_netns(&ns.0, "bpftool", &["-j", "net", "show"]);
    assert!(!bout.contains(&format!("\"id\":{id}")), "{bout}");
    let (code, _, err) = in_netns(
        &ns.0,
        "rbt",
        &["prog", "detach", "pinned", &prog, "flow_dissector"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("not attached"), "{err}");
}
