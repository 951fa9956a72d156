// `rbt net` against the live kernel: every test builds its own pair of network namespaces
// joined by a veth pair (removed by a Drop guard, also on failure) and sends pings only
// between the addresses it assigned there.

#[macro_use]
mod common;

use std::thread;
use std::time::Duration;

use common::netns::*;
use common::*;
use serde_json::Value;

/// The program's map called `name`, read with bpftool (key 0, an u64 counter).
fn counter(prog_id: u64, name: &str) -> u64 {
    let prog = bpftool_json(&["-j", "prog", "show", "id", &prog_id.to_string()]);
    for id in prog["map_ids"].as_array().expect("map_ids") {
        let id = id.to_string();
        let map = bpftool_json(&["-j", "map", "show", "id", &id]);
        if map["name"] == name {
            let dump = bpftool_json(&["-j", "map", "dump", "id", &id]);
            return dump[0]["formatted"]["value"]
                .as_u64()
                .expect("counter value");
        }
    }
    panic!("program {prog_id} has no map {name}");
}

/// bpftool 7.1 has no `netfilter` array; compare the keys both have.
fn without_netfilter(mut v: Value) -> Value {
    if let Some(doc) = v.get_mut(0).and_then(Value::as_object_mut) {
        doc.remove("netfilter");
    }
    v
}

#[test]
fn xdp_drops_and_counts_then_detach_restores_traffic() {
    require_kernel!("net xdp");
    let progs = Loaded::progs("net_xdp");
    let lab = Lab::new("x");
    let (drop_pin, drop_id) = progs.find("xdp_drop_cnt");

    assert_eq!(lab.ping_from_b(3), (3, 3), "traffic flows before attach");
    let out = lab.rbt_ok(&["net", "attach", "xdp", "pinned", drop_pin, "dev", &lab.a]);
    assert!(out.contains("driver mode"), "{out}");
    let show = lab.show(&lab.a);
    assert_eq!(show[0]["xdp"][0]["id"], drop_id);
    assert_eq!(show[0]["xdp"][0]["mode"], "driver");

    assert_eq!(lab.ping_from_b(5), (5, 0), "every ping is dropped");
    assert_eq!(
        counter(drop_id, "drop_cnt"),
        5,
        "the program counted each drop"
    );

    let (code, _, err) = lab.rbt(&["-j", "net", "detach", "xdp", "dev", &lab.a]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(lab.show(&lab.a)[0]["xdp"], serde_json::json!([]));
    assert_eq!(lab.ping_from_b(3), (3, 3), "traffic flows after detach");
    assert_eq!(counter(drop_id, "drop_cnt"), 5);
}

#[test]
fn xdp_modes_are_reported_like_bpftool() {
    require_kernel!("net xdp modes");
    let progs = Loaded::progs("net_xdp");
    let lab = Lab::new("m");
    let (pin, id) = progs.find("xdp_pass_cnt");
    for (ty, mode) in [
        ("xdpgeneric", "generic"),
        ("xdpdrv", "driver"),
        ("xdp", "driver"),
    ] {
        lab.rbt_ok(&["net", "attach", ty, pin, "dev", &lab.a]);
        let rbt = lab.show(&lab.a);
        assert_eq!(rbt[0]["xdp"][0]["mode"], mode, "{ty}");
        assert_eq!(rbt[0]["xdp"][0]["id"], id, "{ty}");
        assert_eq!(without_netfilter(rbt), lab.bpftool_show(&lab.a), "{ty}");
        lab.rbt_ok(&["net", "detach", ty, "dev", &lab.a]);
    }
}

#[test]
fn show_equals_bpftool_in_the_default_namespace() {
    require_kernel!("net show");
    let pid = std::process::id();
    let xdp = Loaded::progs("net_xdp");
    let tc = Loaded::progs("net_tc");
    let veth = HostVeth::new("s");
    let host = veth.host.clone();
    let (xdp_pin, xdp_id) = xdp.find("xdp_pass_cnt");
    let (tc_pin, tc_id) = tc.find("tc_pass_cnt");
    ok(&["net", "attach", "xdpgeneric", xdp_pin, "dev", &host]);
    ok(&["net", "attach", "tc_ingress", tc_pin, "dev", &host]);
    ok(&[
        "net",
        "attach",
        "tc_egress",
        tc_pin,
        "dev",
        &host,
        "prio",
        "7",
        "handle",
        "3",
    ]);
    let rbt = run_json(&["-j", "net", "show", "dev", &host]);
    let bpftool = bpftool_json(&["-j", "net", "show", "dev", &host]);
    assert_eq!(rbt[0]["xdp"][0]["id"], xdp_id);
    assert_eq!(rbt[0]["tc"][0]["id"], tc_id);
    assert_eq!(rbt[0]["tc"][1]["kind"], "clsact/egress");
    assert!(rbt[0]["netfilter"].is_array(), "{rbt}");
    assert_eq!(without_netfilter(rbt), bpftool);
    // The table names the interface and both hooks.
    let (_, table, _) = run(&["net", "show", "dev", &host]);
    assert!(
        table.contains("xdp/generic") && table.contains("clsact/egress"),
        "{table}"
    );
    assert!(table.contains("prio 7 handle 0x3"), "{table}");
    // An unknown interface is an error, not an empty document.
    let (code, out, err) = run(&["-j", "net", "show", "dev", &format!("rbtno{pid}")]);
    assert_eq!(code, 1, "{err}");
    assert!(
        serde_json::from_str::<Value>(&out).is_ok_and(|v| v["error"].is_string()),
        "{out}"
    );
    ok(&["net", "detach", "xdpgeneric", "dev", &host]);
    ok(&["net", "detach", "tc_ingress", "dev", &host]);
    ok(&["net", "detach", "tc_egress", "dev", &host]);
    let after = run_json(&["-j", "net", "show", "dev", &host]);
    assert_eq!(
        without_netfilter(after),
        bpftool_json(&["-j", "net", "show", "dev", &host])
    );
}

#[test]
fn tc_ingress_and_egress_count_and_drop() {
    require_kernel!("net tc");
    let progs = Loaded::progs("net_tc");
    let lab = Lab::new("t");
    let (pass_pin, pass_id) = progs.find("tc_pass_cnt");
    let (drop_pin, drop_id) = progs.find("tc_drop_cnt");
    let qdiscs = || {
        String::from_utf8_lossy(&in_ns(&lab.ns_a, &["tc", "qdisc", "show", "dev", &lab.a]).stdout)
            .into_owned()
    };
    assert!(!qdiscs().contains("clsact"));

    let out = lab.rbt_ok(&["net", "attach", "tc_ingress", pass_pin, "dev", &lab.a]);
    assert!(out.contains("created the clsact qdisc"), "{out}");
    assert!(qdiscs().contains("clsact"));
    assert_eq!(lab.ping_from_b(4), (4, 4), "the ingress program passes");
    assert_eq!(counter(pass_id, "pass_cnt"), 4, "and counts each request");

    lab.rbt_ok(&["net", "attach", "tc_egress", drop_pin, "dev", &lab.a]);
    assert_eq!(
        lab.ping_from_b(3),
        (3, 0),
        "the egress program drops the replies"
    );
    assert_eq!(counter(drop_id, "drop_cnt"), 3);
    assert_eq!(counter(pass_id, "pass_cnt"), 7);
    assert_eq!(
        without_netfilter(lab.show(&lab.a)),
        lab.bpftool_show(&lab.a)
    );
    // The whole namespace, every interface (lo included), as bpftool sees it.
    let (code, all, err) = lab.rbt(&["-j", "net", "show"]);
    assert_eq!(code, 0, "{err}");
    let all: Value = serde_json::from_str(&all).expect("JSON");
    let bpftool_all: Value =
        serde_json::from_slice(&in_ns(&lab.ns_a, &["bpftool", "-j", "net", "show"]).stdout)
            .expect("bpftool JSON");
    assert_eq!(all[0]["tc"].as_array().map(Vec::len), Some(2), "{all}");
    assert_eq!(without_netfilter(all), bpftool_all);

    lab.rbt_ok(&["net", "detach", "tc_egress", "dev", &lab.a]);
    assert!(qdiscs().contains("clsact"), "a filter is left on ingress");
    lab.rbt_ok(&["net", "detach", "tc_ingress", "dev", &lab.a]);
    assert!(
        !qdiscs().contains("clsact"),
        "rbt removes the clsact it created once empty"
    );
    assert_eq!(lab.ping_from_b(2), (2, 2));

    // A clsact rbt did not create stays.
    in_ns(&lab.ns_a, &["tc", "qdisc", "add", "dev", &lab.a, "clsact"]);
    let out = lab.rbt_ok(&[
        "net",
        "attach",
        "tc_ingress",
        drop_pin,
        "dev",
        &lab.a,
        "prio",
        "3",
        "handle",
        "2",
    ]);
    assert!(!out.contains("created"), "{out}");
    assert_eq!(lab.ping_from_b(2), (2, 0));
    // The same slot is taken: overwrite replaces it in place.
    let (code, _, err) = lab.rbt(&[
        "net",
        "attach",
        "tc_ingress",
        pass_pin,
        "dev",
        &lab.a,
        "prio",
        "3",
        "handle",
        "2",
    ]);
    assert_eq!(code, 1, "{err}");
    lab.rbt_ok(&[
        "net",
        "attach",
        "tc_ingress",
        pass_pin,
        "dev",
        &lab.a,
        "prio",
        "3",
        "handle",
        "2",
        "overwrite",
    ]);
    assert_eq!(lab.ping_from_b(2), (2, 2));
    lab.rbt_ok(&[
        "net",
        "detach",
        "tc_ingress",
        "dev",
        &lab.a,
        "prio",
        "3",
        "handle",
        "2",
    ]);
    assert!(qdiscs().contains("clsact"), "the user's clsact stays");
}

#[test]
fn replace_under_a_ping_flood_has_no_gap() {
    require_kernel!("net replace");
    let progs = Loaded::progs("net_xdp");
    let lab = Lab::new("r");
    let (pass_pin, pass_id) = progs.find("xdp_pass_cnt");
    let (drop_pin, drop_id) = progs.find("xdp_drop_cnt");
    lab.rbt_ok(&["net", "attach", "xdp", pass_pin, "dev", &lab.a]);
    let ns_b = lab.ns_b.clone();
    let flood = thread::spawn(move || ping(&ns_b, IP_A, 1500, "0.002"));
    thread::sleep(Duration::from_millis(800));
    let out = lab.rbt_ok(&["net", "attach", "xdp", drop_pin, "dev", &lab.a, "overwrite"]);
    assert!(out.contains("replaced"), "{out}");
    let (sent, received) = flood.join().expect("flood thread");
    let passed = counter(pass_id, "pass_cnt");
    let dropped = counter(drop_id, "drop_cnt");
    assert!(
        passed > 0 && dropped > 0,
        "both programs ran: {passed} {dropped}"
    );
    assert_eq!(
        passed + dropped,
        sent,
        "every request met exactly one program"
    );
    assert_eq!(received, passed, "every passed request was answered");
    assert_eq!(lab.show(&lab.a)[0]["xdp"][0]["id"], drop_id);
}

#[test]
fn tcx_chain_order_and_links() {
    require_kernel!("net tcx");
    let progs = Loaded::progs("net_tc");
    let lab = Lab::new("c");
    let (pass_pin, pass_id) = progs.find("tc_pass_cnt");
    let (drop_pin, drop_id) = progs.find("tc_drop_cnt");
    lab.rbt_ok(&["net", "attach", "tcx_ingress", pass_pin, "dev", &lab.a]);
    let before = format!("id={pass_id}");
    lab.rbt_ok(&[
        "net",
        "attach",
        "tcx_ingress",
        drop_pin,
        "dev",
        &lab.a,
        "--before",
        &before,
    ]);
    let tc = lab.show(&lab.a)[0]["tc"].clone();
    assert_eq!(tc[0]["kind"], "tcx/ingress");
    assert_eq!(tc[0]["prog_id"], drop_id, "drop runs first: {tc}");
    assert_eq!(tc[1]["prog_id"], pass_id);
    assert_eq!(lab.ping_from_b(3), (3, 0));
    assert_eq!(counter(drop_id, "drop_cnt"), 3);
    assert_eq!(counter(pass_id, "pass_cnt"), 0, "a drop ends the chain");
    // Several programs: detach needs to be told which.
    let (code, _, err) = lab.rbt(&["net", "detach", "tcx_ingress", "dev", &lab.a]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("several"), "{err}");
    // PROG may also follow the interface, as in `net detach TYPE dev IF PROG`.
    lab.rbt_ok(&[
        "net",
        "detach",
        "tcx_ingress",
        "dev",
        &lab.a,
        "pinned",
        drop_pin,
    ]);
    assert_eq!(lab.ping_from_b(2), (2, 2));
    assert_eq!(counter(pass_id, "pass_cnt"), 2);
    // prepend through a pinned bpf_link.
    let link = progs.dir.join("tcx-link");
    lab.rbt_ok(&[
        "net",
        "attach",
        "tcx_ingress",
        drop_pin,
        "dev",
        &lab.a,
        "prepend",
        "--link",
        "--link-pin",
        &link,
    ]);
    let pinned = bpftool_json(&["-j", "link", "show", "pinned", &link]);
    assert_eq!(pinned["prog_id"], drop_id);
    let tc = lab.show(&lab.a)[0]["tc"].clone();
    assert_eq!(tc[0]["prog_id"], drop_id, "{tc}");
    assert!(tc[0]["link_id"].as_u64().is_some(), "{tc}");
    lab.rbt_ok(&["net", "detach", "tcx_ingress", drop_pin, "dev", &lab.a]);
    assert!(
        !std::path::Path::new(&link).exists(),
        "detach removes the link's pin"
    );
    lab.rbt_ok(&["net", "detach", "tcx_ingress", "dev", &lab.a]);
    assert_eq!(lab.show(&lab.a)[0]["tc"], serde_json::json!([]));
}

#[test]
fn xdp_through_a_pinned_link() {
    require_kernel!("net xdp link");
    let progs = Loaded::progs("net_xdp");
    let lab = Lab::new("l");
    let (drop_pin, drop_id) = progs.find("xdp_drop_cnt");
    let (pass_pin, _) = progs.find("xdp_pass_cnt");
    let link = progs.dir.join("xdp-link");
    lab.rbt_ok(&[
        "net",
        "attach",
        "xdpgeneric",
        drop_pin,
        "dev",
        &lab.a,
        "--link",
        "--link-pin",
        &link,
    ]);
    let info = bpftool_json(&["-j", "link", "show", "pinned", &link]);
    assert_eq!(info["type"], "xdp");
    assert_eq!(info["prog_id"], drop_id);
    assert_eq!(lab.show(&lab.a)[0]["xdp"][0]["mode"], "generic");
    assert_eq!(lab.ping_from_b(2), (2, 0));
    // The link holds the hook: a netlink overwrite is refused with a hint.
    let (code, _, err) = lab.rbt(&[
        "net",
        "attach",
        "xdpgeneric",
        pass_pin,
        "dev",
        &lab.a,
        "overwrite",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bpf_link"), "{err}");
    lab.rbt_ok(&["net", "detach", "xdpgeneric", "dev", &lab.a]);
    assert!(
        !std::path::Path::new(&link).exists(),
        "the link's pin is removed"
    );
    assert_eq!(lab.show(&lab.a)[0]["xdp"], serde_json::json!([]));
    assert_eq!(lab.ping_from_b(2), (2, 2));
    // The default pin: /sys/fs/bpf/rbt/net/<netns name>/<dev>-<type>, removed on detach.
    let out = lab.rbt_ok(&["net", "attach", "xdpdrv", drop_pin, "dev", &lab.a, "--link"]);
    let dir = format!("/sys/fs/bpf/rbt/net/{}", lab.ns_a);
    let default_pin = format!("{dir}/{}-xdpdrv", lab.a);
    assert!(out.contains(&default_pin), "{out}");
    assert_eq!(
        bpftool_json(&["-j", "link", "show", "pinned", &default_pin])["prog_id"],
        drop_id
    );
    lab.rbt_ok(&["net", "detach", "xdp", "dev", &lab.a]);
    assert!(
        !std::path::Path::new(&dir).exists(),
        "the empty pin directory is removed"
    );
}

#[test]
fn already_attached_succeeds_and_dry_run_changes_nothing() {
    require_kernel!("net dry-run");
    let progs = Loaded::progs("net_xdp");
    let lab = Lab::new("d");
    let (drop_pin, drop_id) = progs.find("xdp_drop_cnt");
    let (pass_pin, pass_id) = progs.find("xdp_pass_cnt");
    lab.rbt_ok(&["net", "attach", "xdpgeneric", pass_pin, "dev", &lab.a]);
    let again = lab.rbt_ok(&["net", "attach", "xdpgeneric", pass_pin, "dev", &lab.a]);
    assert!(again.contains("already attached"), "{again}");
    let (code, out, err) = lab.rbt(&[
        "-j",
        "net",
        "attach",
        "xdpgeneric",
        drop_pin,
        "dev",
        &lab.a,
        "overwrite",
        "--dry-run",
    ]);
    assert_eq!(code, 0, "{err}");
    let plan: Value = serde_json::from_str(&out).expect("plan JSON");
    assert_eq!(plan[0]["action"], "replace");
    assert_eq!(plan[0]["replaces"], pass_id);
    assert_eq!(plan[0]["prog_id"], drop_id);
    assert_eq!(
        lab.show(&lab.a)[0]["xdp"][0]["id"],
        pass_id,
        "dry run changed nothing"
    );
    let text = lab.rbt_ok(&["net", "detach", "xdpgeneric", "dev", &lab.a, "--dry-run"]);
    assert!(text.contains("would detach"), "{text}");
    assert_eq!(lab.show(&lab.a)[0]["xdp"][0]["id"], pass_id);
    lab.rbt_ok(&["net", "detach", "xdpgeneric", "dev", &lab.a]);
}

#[test]
fn several_interfaces_are_all_or_nothing() {
    require_kernel!("net multi");
    let progs = Loaded::progs("net_xdp");
    let lab = Lab::with_second_pair("v");
    let (drop_pin, drop_id) = progs.find("xdp_drop_cnt");
    let (pass_pin, pass_id) = progs.find("xdp_pass_cnt");
    lab.rbt_ok(&["net", "attach", "xdpgeneric", drop_pin, "dev", &lab.a2]);
    let (code, _, err) = lab.rbt(&[
        "net",
        "attach",
        "xdpgeneric",
        pass_pin,
        "dev",
        &lab.a,
        "dev",
        &lab.a2,
    ]);
    // Every interface is planned before any changes: the conflict on the second one
    // fails before the first is touched.
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already has XDP program"), "{err}");
    assert!(!err.contains("rolled back"), "nothing was done: {err}");
    assert_eq!(
        lab.show(&lab.a)[0]["xdp"],
        serde_json::json!([]),
        "the first one was never attached"
    );
    assert_eq!(
        lab.show(&lab.a2)[0]["xdp"][0]["id"],
        drop_id,
        "the second is untouched"
    );
    // A failure only the kernel finds (a bridge has no native XDP) comes after the
    // first interface was attached: that one is rolled back.
    let bridge = format!("{}x", &lab.a[..lab.a.len() - 1]);
    in_ns(&lab.ns_a, &["ip", "link", "add", &bridge, "type", "bridge"]);
    let (code, _, err) = lab.rbt(&[
        "net", "attach", "xdpdrv", pass_pin, "dev", &lab.a, "dev", &bridge,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("rolled back the 1 interface(s) done before it"),
        "{err}"
    );
    assert_eq!(
        lab.show(&lab.a)[0]["xdp"],
        serde_json::json!([]),
        "the first one was rolled back"
    );
    lab.rbt_ok(&[
        "net",
        "attach",
        "xdpgeneric",
        pass_pin,
        "dev",
        &lab.a,
        "dev",
        &lab.a2,
        "overwrite",
    ]);
    assert_eq!(lab.show(&lab.a)[0]["xdp"][0]["id"], pass_id);
    assert_eq!(lab.show(&lab.a2)[0]["xdp"][0]["id"], pass_id);
    lab.rbt_ok(&["net", "detach", "xdpgeneric", "dev", &lab.a, "dev", &lab.a2]);
    assert_eq!(lab.show(&lab.a)[0]["xdp"], serde_json::json!([]));
    assert_eq!(lab.show(&lab.a2)[0]["xdp"], serde_json::json!([]));
    // A missing interface among several: nothing is attached anywhere.
    let (code, _, err) = lab.rbt(&[
        "net",
        "attach",
        "xdpgeneric",
        pass_pin,
        "dev",
        &lab.a,
        "dev",
        "rbtnosuch0",
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(lab.show(&lab.a)[0]["xdp"], serde_json::json!([]));
}

#[test]
fn prog_left_out_takes_the_one_unattached_program() {
    require_kernel!("net prog left out");
    let progs = Loaded::progs("net_xdp");
    let lab = Lab::with_second_pair("u");
    let (drop_pin, drop_id) = progs.find("xdp_drop_cnt");
    let (pass_pin, pass_id) = progs.find("xdp_pass_cnt");
    // Two of ours are unattached: rbt cannot choose and lists both.
    let (code, _, err) = lab.rbt(&["net", "attach", "xdpgeneric", "dev", &lab.a]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(drop_pin) && err.contains(pass_pin), "{err}");
    assert_eq!(lab.show(&lab.a)[0]["xdp"], serde_json::json!([]));
    // Once one is attached, it is no candidate any more. Other tests on this machine may
    // have unattached XDP programs pinned too: then the error lists ours, else ours is used.
    lab.rbt_ok(&["net", "attach", "xdpgeneric", drop_pin, "dev", &lab.a]);
    let (code, _, err) = lab.rbt(&["net", "attach", "xdpgeneric", "dev", &lab.a2]);
    if code == 0 {
        assert_eq!(lab.show(&lab.a2)[0]["xdp"][0]["id"], pass_id);
    } else {
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(pass_pin) && !err.contains(drop_pin), "{err}");
    }
    let _ = drop_id;
}

#[test]
fn bad_input_is_a_clear_error_and_changes_nothing() {
    require_kernel!("net bad input");
    let progs = Loaded::progs("net_xdp");
    let lab = Lab::new("b");
    let (xdp_pin, _) = progs.find("xdp_drop_cnt");
    let tp = Loaded::progs("net_tp");
    let (tp_pin, _) = tp.find("net_tp");
    let nothing = |lab: &Lab| {
        let show = lab.show(&lab.a);
        assert_eq!(show[0]["xdp"], serde_json::json!([]));
        assert_eq!(show[0]["tc"], serde_json::json!([]));
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["net", "attach", "xdp", xdp_pin, "dev", "rbtnosuch0"],
            "no interface named",
        ),
        (
            vec!["net", "attach", "xdp", tp_pin, "dev", &lab.a],
            "tracepoint",
        ),
        (
            vec!["net", "attach", "tc_ingress", xdp_pin, "dev", &lab.a],
            "sched_cls",
        ),
        (
            vec!["net", "attach", "xdpoffload", xdp_pin, "dev", &lab.a],
            "offload",
        ),
        (
            vec!["net", "detach", "xdp", "dev", &lab.a],
            "nothing to detach",
        ),
        (
            vec!["net", "detach", "tc_ingress", "dev", &lab.a],
            "nothing to detach",
        ),
        (
            vec!["net", "detach", "tcx_egress", "dev", &lab.a],
            "nothing to detach",
        ),
    ];
    for (args, needle) in cases {
        let (code, _, err) = lab.rbt(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains("Error:") && err.contains(needle),
            "{args:?}: {err}"
        );
        nothing(&lab);
    }
    // No such namespace.
    let (code, _, err) = run(&[
        "net",
        "attach",
        "xdp",
        xdp_pin,
        "dev",
        &lab.a,
        "--netns",
        "rbt-no-such-ns",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("rbt-no-such-ns"), "{err}");
    nothing(&lab);
    // Usage errors exit 2.
    for args in [
        vec!["net", "attach", "xdpx", xdp_pin, "dev", &lab.a],
        vec!["net", "attach", "xdp", xdp_pin],
        vec!["net", "attach", "xdp", xdp_pin, "dev", &lab.a, "prio", "1"],
        vec![
            "net",
            "attach",
            "tc_ingress",
            xdp_pin,
            "dev",
            &lab.a,
            "--link",
        ],
    ] {
        let (code, _, err) = lab.rbt(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        nothing(&lab);
    }
}

#[test]
fn every_net_verb_has_help_with_examples() {
    for verb in ["show", "attach", "detach"] {
        let (code, out, err) = run(&["net", verb, "--help"]);
        assert_eq!(code, 0, "{verb}: {err}");
        assert!(out.contains("Examples:"), "net {verb} --help: {out}");
        assert!(
            out.contains(&format!("rbt net {verb}")),
            "net {verb} --help: {out}"
        );
    }
}
