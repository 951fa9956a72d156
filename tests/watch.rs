// Live-kernel tests of `map watch`: typed dumps each interval (compared with bpftool's
// `formatted`), --delta rates of a counter fed by pings through an XDP program, per-CPU
// values summed, and bad input.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::netns::{ping, Lab, IP_A};
use common::*;
use serde_json::{json, Value};

fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {e}: {l}")))
        .collect()
}

/// The lines without their timestamps.
fn untimed(all: &[Value]) -> Vec<Value> {
    all.iter()
        .map(|l| {
            let mut l = l.clone();
            l.as_object_mut().expect("object").remove("timestamp");
            l
        })
        .collect()
}

#[test]
fn delta_shows_the_rate_of_a_counter_fed_by_traffic() {
    require_kernel!("map watch");
    let progs = Loaded::new("net_xdp");
    let lab = Lab::new("w");
    let (pin, _) = progs.find("xdp_pass_cnt");
    let pin = pin.to_string();
    lab.rbt_ok(&["net", "attach", "xdp", "pinned", &pin, "dev", &lab.a]);
    let counter = progs.map("pass_cnt");
    let ns = lab.ns_b.clone();
    let pinger = std::thread::spawn(move || ping(&ns, IP_A, 150, "0.01"));
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let out = ok(&[
        "-j",
        "map",
        "watch",
        &counter,
        "--delta",
        "--interval",
        "400ms",
        "--count",
        "3",
    ]);
    let took = started.elapsed();
    let (sent, _) = pinger.join().expect("pinger");
    assert!(sent > 0);
    let all = lines(&out);
    assert_eq!(all.len(), 3, "one line per key per interval: {out}");
    assert!(
        took >= Duration::from_millis(1100),
        "three intervals after the first read: {took:?}"
    );
    for l in &all {
        assert_eq!(l["key"], 0, "{l}");
        assert!(l["timestamp"].as_f64() > Some(1.0e9), "{l}");
    }
    assert!(
        all.iter().any(|l| l["rate"].as_f64() > Some(10.0)),
        "a nonzero rate of pings per second: {out}"
    );

    // Without --delta: the typed dump, as bpftool formats it.
    let out = ok(&["-j", "map", "watch", &counter, "--count", "1"]);
    let bpftool = bpftool_json(&["-j", "map", "dump", "pinned", &counter]);
    assert_eq!(untimed(&lines(&out)), vec![bpftool[0]["formatted"].clone()]);
    assert!(lines(&out)[0]["value"].as_u64() >= Some(sent), "{out}");
}

#[test]
fn dumps_repeat_each_interval_and_match_map_dump() {
    require_kernel!("map watch");
    let maps = Loaded::first_with_maps("maps");
    let flows = maps.dir.join("flows");
    let key =
        r#"{"saddr":16777226,"daddr":33554442,"sport":20480,"dport":47873,"proto":"PROTO_TCP"}"#;
    ok(&[
        "map",
        "update",
        &flows,
        "key",
        key,
        "value",
        r#"{"packets":5,"bytes":1500,"ifname":"eth0"}"#,
    ]);
    let out = ok(&[
        "-j",
        "map",
        "watch",
        &flows,
        "--count",
        "2",
        "--interval",
        "100ms",
    ]);
    let all = lines(&out);
    assert_eq!(all.len(), 2, "{out}");
    let dump = run_json(&["-j", "map", "dump", &flows]);
    let untimed = untimed(&all);
    assert_eq!(untimed[0], dump[0]);
    assert_eq!(untimed[1], dump[0]);
    assert!(all[1]["timestamp"].as_f64() > all[0]["timestamp"].as_f64());

    // --delta on a struct: only the numeric members, as rates; strings left out.
    let out = ok(&[
        "-j",
        "map",
        "watch",
        &flows,
        "--delta",
        "--count",
        "1",
        "--interval",
        "100ms",
    ]);
    let rate = &lines(&out)[0]["rate"];
    assert_eq!(rate["packets"], 0.0, "{out}");
    assert_eq!(rate["bytes"], 0.0, "{out}");
    assert!(rate.get("ifname").is_none(), "{out}");

    // Table mode: a heading per interval, then the elements.
    let text = ok(&["map", "watch", &flows, "--count", "2", "--interval", "50ms"]);
    assert_eq!(text.matches("-- ").count(), 2, "{text}");
    assert!(text.contains("KEY") && text.contains("eth0"), "{text}");
}

#[test]
fn per_cpu_values_are_summed_for_rates() {
    require_kernel!("map watch");
    let maps = Loaded::first_with_maps("maps");
    let pc = maps.dir.join("pc_hash");
    ok(&["map", "update", &pc, "key", "7", "value", "5"]);
    let ncpus = run_json(&["-j", "map", "lookup", &pc, "key", "7"])["values"]
        .as_array()
        .expect("per-CPU values")
        .len() as f64;
    let child = std::thread::spawn({
        let pc = pc.clone();
        move || {
            ok(&[
                "-j",
                "map",
                "watch",
                &pc,
                "--delta",
                "--interval",
                "1s",
                "--count",
                "1",
            ])
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    // Every CPU's value goes from 5 to 15: the sum grows by 10 per CPU in about a second.
    ok(&["map", "update", &pc, "key", "7", "value", "15"]);
    let out = child.join().expect("watch");
    let l = &lines(&out)[0];
    assert_eq!(l["key"], 7);
    let rate = l["rate"].as_f64().expect("a number");
    let expected = 10.0 * ncpus;
    assert!(
        rate > expected * 0.8 && rate <= expected * 1.01,
        "rate {rate}, expected about {expected}: {out}"
    );
    // Without --delta a per-CPU map prints each CPU's value, as `map dump` does.
    let out = ok(&["-j", "map", "watch", &pc, "--count", "1"]);
    assert_eq!(lines(&out)[0]["values"][0], json!({"cpu": 0, "value": 15}));
}

#[test]
fn bad_input_is_a_clear_error() {
    require_kernel!("map watch");
    let maps = Loaded::first_with_maps("maps");
    let dir = PinDir::new();
    // A map without BTF whose 16-byte value is not a number.
    let blob = dir.join("blob");
    ok(&[
        "map", "create", &blob, "type", "hash", "key", "4", "value", "16", "entries", "4", "name",
        "blob",
    ]);
    let mut update = vec![
        "map",
        "update",
        blob.as_str(),
        "key",
        "1",
        "0",
        "0",
        "0",
        "value",
    ];
    update.extend(std::iter::repeat_n("0", 16));
    ok(&update);
    let (c, out, err) = run(&["map", "watch", &blob, "--delta", "--count", "1"]);
    assert_eq!(c, 1, "{out}{err}");
    assert!(
        err.contains("no numeric member") && err.contains("hint:"),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");
    // Without --delta the same map watches fine (hex values).
    let (c, _, err) = run(&["map", "watch", &blob, "--count", "1"]);
    assert_eq!(c, 0, "{err}");

    for (args, code, needle) in [
        (vec!["map", "watch"], 2, "expected MAP"),
        (
            vec!["map", "watch", "name", "rbt_no_such_map"],
            1,
            "rbt_no_such_map",
        ),
        (vec!["map", "watch", "id", "4294967295"], 1, "4294967295"),
        (
            vec!["map", "watch", &blob, "--interval", "0s"],
            2,
            "--interval",
        ),
        (vec!["map", "watch", &blob, "--count", "0"], 2, "--count"),
        (vec!["map", "watch", &blob, "extra"], 2, "extra"),
    ] {
        let (c, out, err) = run(&args);
        assert_eq!(c, code, "{args:?}: {out}{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let rb = maps.dir.join("rb");
    let (c, _, err) = run(&["map", "watch", &rb, "--count", "1"]);
    assert_eq!(c, 1);
    assert!(
        err.contains("cannot be watched") && err.contains("perf events"),
        "{err}"
    );
    let (c, out, _) = run(&["-j", "map", "watch", &rb]);
    assert_eq!(c, 1);
    assert!(out.contains("\"error\""), "{out}");
}
