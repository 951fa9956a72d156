// Live-kernel tests of `prog top`: JSON lines with a nonzero rate for an XDP program fed by
// pings on a veth pair, the full-screen view in a tmux pseudo-terminal, BPF_ENABLE_STATS
// left as found, and bad input.

#[macro_use]
mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::netns::{ping, Lab, IP_A};
use common::*;
use serde_json::Value;

/// kernel.bpf_stats_enabled is one switch for the whole machine: these tests take turns.
static STATS: Mutex<()> = Mutex::new(());
const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

fn stats_enabled() -> String {
    std::fs::read_to_string(SYSCTL)
        .expect("reading the sysctl")
        .trim()
        .to_string()
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    STATS.lock().unwrap_or_else(|e| e.into_inner())
}

/// An XDP program that counts and passes every packet, attached to the A end of a lab,
/// and a thread pinging A from B for `secs` seconds.
struct Traffic {
    progs: Loaded,
    lab: Lab,
    id: u64,
    pinger: Option<std::thread::JoinHandle<(u64, u64)>>,
}

impl Traffic {
    fn new(tag: &str) -> Traffic {
        let progs = Loaded::new("net_xdp");
        let lab = Lab::new(tag);
        let (pin, id) = progs.find("xdp_pass_cnt");
        let pin = pin.to_string();
        lab.rbt_ok(&["net", "attach", "xdp", "pinned", &pin, "dev", &lab.a]);
        Traffic {
            progs,
            lab,
            id,
            pinger: None,
        }
    }

    fn start(&mut self, count: u32) {
        let ns = self.lab.ns_b.clone();
        self.pinger = Some(std::thread::spawn(move || ping(&ns, IP_A, count, "0.01")));
    }

    fn stop(&mut self) {
        if let Some(p) = self.pinger.take() {
            let (sent, _) = p.join().expect("pinger");
            assert!(sent > 0, "pings were sent");
        }
    }
}

fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {e}: {l}")))
        .collect()
}

#[test]
fn json_lines_show_a_rate_for_a_program_with_traffic() {
    require_kernel!("BPF_ENABLE_STATS");
    let _g = lock();
    let mut t = Traffic::new("tj");
    assert_eq!(stats_enabled(), "0", "statistics are off before");
    t.start(150);
    std::thread::sleep(Duration::from_millis(200));
    let id = t.id.to_string();
    let drop_id = t.progs.find("xdp_drop_cnt").1.to_string();
    let started = Instant::now();
    let out = ok(&[
        "-j",
        "prog",
        "top",
        "id",
        &id,
        "id",
        &drop_id,
        "--interval",
        "400ms",
        "--count",
        "3",
    ]);
    let took = started.elapsed();
    t.stop();
    let all = lines(&out);
    assert_eq!(all.len(), 6, "one line per program per interval: {out}");
    assert!(
        took >= Duration::from_millis(1100),
        "three intervals: {took:?}"
    );
    let mine: Vec<&Value> = all.iter().filter(|l| l["id"] == t.id).collect();
    assert_eq!(mine.len(), 3);
    assert!(
        mine.iter().any(|l| l["runs_per_sec"].as_f64() > Some(10.0)
            && l["avg_ns"].as_u64() > Some(0)
            && l["cpu_pct"].as_f64() > Some(0.0)
            && l["host_cpu_pct"].as_f64() > Some(0.0)),
        "a nonzero rate for the program that sees the pings: {out}"
    );
    // Sorted by cpu: the busy program comes first in each interval.
    assert_eq!(all[0]["id"], t.id, "{out}");
    for l in all.iter().filter(|l| l["id"] != t.id) {
        assert_eq!(l["runs_per_sec"], 0.0, "the drop program saw nothing: {l}");
    }
    assert_eq!(stats_enabled(), "0", "statistics are off again after rbt");

    // The same program as bpftool shows it; counters only grow.
    let last = mine[2];
    let bpftool = bpftool_json(&["-j", "prog", "show", "id", &id]);
    for field in ["id", "type", "name"] {
        assert_eq!(last[field], bpftool[field], "{field}");
    }
    assert!(bpftool["run_cnt"].as_u64() >= last["run_cnt"].as_u64());
    assert!(bpftool["run_time_ns"].as_u64() >= last["run_time_ns"].as_u64());
    assert!(last["run_cnt"].as_u64() > Some(0));
}

#[test]
fn without_a_terminal_the_lines_are_json_too() {
    require_kernel!("BPF_ENABLE_STATS");
    let _g = lock();
    let progs = Loaded::progs("net_xdp");
    let (_, id) = progs.find("xdp_pass_cnt");
    let out = ok(&[
        "prog",
        "top",
        "id",
        &id.to_string(),
        "--count",
        "1",
        "--interval",
        "100ms",
    ]);
    let all = lines(&out);
    assert_eq!(all.len(), 1, "{out}");
    assert_eq!(all[0]["id"], id);
    for field in [
        "timestamp",
        "type",
        "name",
        "run_cnt",
        "run_time_ns",
        "runs_per_sec",
        "avg_ns",
        "cpu_pct",
        "host_cpu_pct",
    ] {
        assert!(all[0].get(field).is_some(), "{field} in {out}");
    }
}

/// `rbt -j prog top` running until killed (on drop too).
struct Running(Child);

impl Running {
    fn spawn() -> Running {
        Running(
            Command::new(assert_cmd::cargo::cargo_bin("rbt"))
                .args(["-j", "prog", "top", "--interval", "100ms"])
                .stdout(Stdio::null())
                .spawn()
                .expect("spawning rbt"),
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The program's run_cnt as bpftool shows it (absent while zero).
fn run_cnt(id: u64) -> u64 {
    bpftool_json(&["-j", "prog", "show", "id", &id.to_string()])["run_cnt"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn statistics_are_on_only_while_rbt_runs_and_left_alone_when_already_on() {
    require_kernel!("BPF_ENABLE_STATS");
    let _g = lock();
    let t = Traffic::new("ts");
    let pings = |n| ping(&t.lab.ns_b, IP_A, n, "0.01");
    assert_eq!(stats_enabled(), "0");
    pings(5);
    let before = run_cnt(t.id);
    let top = Running::spawn();
    std::thread::sleep(Duration::from_millis(300));
    pings(20);
    let during = run_cnt(t.id);
    assert!(
        during >= before + 20,
        "counted while rbt runs: {before} -> {during}"
    );
    // SIGKILL: the kernel closes the fd, so the statistics go off even after a crash.
    drop(top);
    std::thread::sleep(Duration::from_millis(100));
    pings(20);
    assert_eq!(run_cnt(t.id), during, "not counted once rbt is gone");
    assert_eq!(stats_enabled(), "0", "the sysctl was never touched");

    // The sysctl turned them on: rbt leaves it on.
    std::fs::write(SYSCTL, "1").expect("sysctl on");
    let out = ok(&["-j", "prog", "top", "--count", "1", "--interval", "50ms"]);
    let on_after = stats_enabled();
    std::fs::write(SYSCTL, "0").expect("sysctl off");
    assert_eq!(on_after, "1", "left on: {out}");
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_statistics_off() {
    require_kernel!("BPF_ENABLE_STATS");
    let _g = lock();
    for (args, code, needle) in [
        (vec!["prog", "top", "--sort", "fastest"], 2, "fastest"),
        (vec!["prog", "top", "--interval", "0s"], 2, "--interval"),
        (vec!["prog", "top", "--interval", "soon"], 2, "soon"),
        (vec!["prog", "top", "--count", "0"], 2, "--count"),
        (vec!["prog", "top", "id"], 2, "expected"),
        (vec!["prog", "top", "id", "4294967295"], 1, "4294967295"),
        (
            vec!["prog", "top", "name", "rbt_no_such_prog"],
            1,
            "rbt_no_such_prog",
        ),
        (vec!["prog", "top", "bogus"], 2, "bogus"),
    ] {
        let (c, out, err) = run(&args);
        assert_eq!(c, code, "{args:?}: {out}{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    let (c, out, _) = run(&["-j", "prog", "top", "id", "4294967295"]);
    assert_eq!(c, 1);
    let v: Value = serde_json::from_str(&out).expect("JSON error");
    assert!(v["error"].is_string(), "{out}");
    assert_eq!(stats_enabled(), "0", "nothing left on");
}

/// A tmux server of this test's own, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("running tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "top"]).stdout).into_owned()
    }

    fn running(&self) -> bool {
        self.cmd(&["has-session", "-t", "top"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[test]
fn the_full_screen_view_shows_the_program_and_its_rate() {
    require_kernel!("BPF_ENABLE_STATS");
    assert!(
        which("tmux").is_some(),
        "tmux is not installed (run `make deps`)"
    );
    let _g = lock();
    let mut t = Traffic::new("tt");
    t.start(300);
    let tmux = Tmux {
        socket: format!("rbt-test-{}", std::process::id()),
    };
    let rbt = assert_cmd::cargo::cargo_bin("rbt").display().to_string();
    let line = format!("{rbt} prog top --interval 300ms; sleep 30");
    let started = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "top",
        "-x",
        "160",
        "-y",
        "40",
        &line,
    ]);
    assert!(started.status.success(), "tmux: {started:?}");

    // Wait for the program's row with a nonzero RUNS/S.
    let deadline = Instant::now() + Duration::from_secs(8);
    let row = loop {
        let screen = tmux.screen();
        let row = screen
            .lines()
            .find(|l| {
                l.contains("xdp_pass_cnt") && l.split_whitespace().next() == Some(&t.id.to_string())
            })
            .map(str::to_string);
        if let Some(r) = &row {
            let rate: f64 = r
                .split_whitespace()
                .nth(3)
                .and_then(|x| x.parse().ok())
                .unwrap_or(0.0);
            if rate > 0.0 {
                break r.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no nonzero rate on screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let screen = tmux.screen();
    assert!(
        screen.contains("BPF CPU:") && screen.contains("of the host"),
        "{screen}"
    );
    assert!(screen.contains("LAST MINUTE"), "{screen}");
    assert!(row.contains("xdp"), "{row}");

    // `?` shows the help, any key closes it; `/` filters by name.
    tmux.cmd(&["send-keys", "-t", "top", "?"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(tmux.screen().contains("this help"), "{}", tmux.screen());
    tmux.cmd(&["send-keys", "-t", "top", "x"]);
    tmux.cmd(&[
        "send-keys",
        "-t",
        "top",
        "/",
        "x",
        "d",
        "p",
        "_",
        "d",
        "r",
        "o",
        "p",
        "Enter",
    ]);
    std::thread::sleep(Duration::from_millis(500));
    let filtered = tmux.screen();
    assert!(filtered.contains("filter: xdp_drop"), "{filtered}");
    assert!(!filtered.contains("xdp_pass_cnt"), "{filtered}");
    assert!(filtered.contains("xdp_drop_cnt"), "{filtered}");

    // `q` quits and the terminal is back (the shell's `sleep` keeps the pane).
    tmux.cmd(&["send-keys", "-t", "top", "q"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(tmux.running());
    assert!(
        !tmux.screen().contains("LAST MINUTE"),
        "alternate screen left"
    );
    t.stop();
    let after = run_cnt(t.id);
    ping(&t.lab.ns_b, IP_A, 10, "0.01");
    assert_eq!(run_cnt(t.id), after, "statistics off after q");
}
