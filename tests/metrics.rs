// `rbt metrics` against the live kernel: print checked by promtool and against bpftool,
// serve under concurrent scrapes, bad input, and a real Prometheus scraping XDP traffic.

#[macro_use]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::netns::*;
use common::*;
use serde_json::Value;

/// Held by the tests that need BPF statistics on (or that turn the sysctl on and off), so
/// one never turns off what another relies on.
static STATS: Mutex<()> = Mutex::new(());

fn stats_lock() -> std::sync::MutexGuard<'static, ()> {
    STATS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The exposition lines of family `name` (samples only).
fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .collect()
}

/// The value of the one sample of `name` whose line contains every one of `labels`.
fn value_of(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    samples(text, name)
        .into_iter()
        .find(|l| labels.iter().all(|x| l.contains(x)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// `promtool check metrics` on `text`: (passed, its report).
fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (make deps installs the prometheus package)");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(text.as_bytes())
        .expect("writing to promtool");
    drop(stdin);
    let out = child.wait_with_output().expect("promtool");
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), report)
}

/// The kernel id of the map pinned at `pin`.
fn map_id(pin: &str) -> u64 {
    run_json(&["-j", "map", "show", "pinned", pin])["id"]
        .as_u64()
        .expect("map id")
}

/// The fixture with its labels map holding a key whose name has a quote, a backslash and
/// a newline.
fn loaded() -> Loaded {
    let l = Loaded::new("metrics");
    let key = r#"{"name":"a\"b\\c\nd","port":80}"#;
    ok(&[
        "map",
        "update",
        "pinned",
        &l.map("rbt_mlabels"),
        "key",
        key,
        "value",
        "7",
    ]);
    let key = r#"{"name":"plain","port":443}"#;
    ok(&[
        "map",
        "update",
        "pinned",
        &l.map("rbt_mlabels"),
        "key",
        key,
        "value",
        "9",
    ]);
    l
}

#[test]
fn print_exports_programs_maps_and_values_and_passes_promtool() {
    require_kernel!("bpf maps");
    let l = loaded();
    let labels = l.map("rbt_mlabels");
    let (prog_pin, prog_id) = l.find("rbt_metrics_xdp");
    let text = ok(&[
        "metrics",
        "print",
        "--map",
        &labels,
        "--map",
        &l.map("rbt_mflows"),
        "--histogram",
        &l.map("rbt_msizes"),
    ]);
    let (passed, report) = promtool(&text);
    assert!(passed, "promtool check metrics: {report}\n{text}");

    // Programs: info with bpftool's tag and type, counters present.
    let bpftool = bpftool_json(&["-j", "prog", "show", "pinned", prog_pin]);
    let id = format!("id=\"{prog_id}\"");
    let tag = format!("tag=\"{}\"", bpftool["tag"].as_str().expect("tag"));
    let info = samples(&text, "rbt_prog_info");
    let line = info.iter().find(|l| l.contains(&id)).expect("our program");
    assert!(
        line.contains(&tag) && line.contains("type=\"xdp\""),
        "{line}"
    );
    assert!(line.contains("name=\"rbt_metrics_xdp\""), "{line}");
    assert!(value_of(&text, "rbt_prog_run_count_total", &[&id]).is_some());
    assert!(value_of(&text, "rbt_prog_run_time_seconds_total", &[&id]).is_some());

    // Maps: sizes as bpftool shows them; the hash map's elements counted.
    let mid = map_id(&labels);
    let bt = bpftool_json(&["-j", "map", "show", "id", &mid.to_string()]);
    let id = format!("id=\"{mid}\"");
    assert_eq!(
        value_of(&text, "rbt_map_max_entries", &[&id]),
        bt["max_entries"].as_f64()
    );
    assert_eq!(
        value_of(&text, "rbt_map_memory_bytes", &[&id]),
        bt["bytes_memlock"].as_f64()
    );
    assert_eq!(value_of(&text, "rbt_map_entries", &[&id]), Some(2.0));

    // Values: one label per key member; quote, backslash and newline escaped.
    let map_label = format!("map_id=\"{mid}\"");
    let escaped = r#"name="a\"b\\c\nd",port="80""#;
    assert_eq!(
        value_of(&text, "rbt_map_value_rbt_mlabels", &[&map_label, escaped]),
        Some(7.0),
        "{text}"
    );
    assert_eq!(
        value_of(
            &text,
            "rbt_map_value_rbt_mlabels",
            &["name=\"plain\",port=\"443\""]
        ),
        Some(9.0)
    );
    // The histogram of the (still empty) size array: 12 buckets, +Inf, sum and count.
    let hist = samples(&text, "rbt_map_value_rbt_msizes_bucket");
    assert_eq!(hist.len(), 13, "{text}");
    assert!(
        hist[0].contains("le=\"1\"") && hist[11].contains("le=\"2048\""),
        "{hist:?}"
    );
    assert!(text.contains("# TYPE rbt_map_value_rbt_msizes histogram"));
}

#[test]
fn per_cpu_values_are_summed_and_enum_keys_named() {
    require_kernel!("bpf maps");
    let l = loaded();
    let flows = l.map("rbt_mflows");
    // One element written for every CPU: 3 packets and 100 bytes on each.
    let ncpus = std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| s.trim().rsplit('-').next()?.parse::<usize>().ok())
        .map_or(1, |last| last + 1);
    let key = r#"{"ifindex":4,"proto":"PROTO_UDP"}"#;
    ok(&[
        "map",
        "update",
        "pinned",
        &flows,
        "key",
        key,
        "value",
        r#"{"packets":3,"bytes":100}"#,
    ]);
    let text = ok(&["metrics", "print", "--map", &flows]);
    let labels = ["ifindex=\"4\",proto=\"PROTO_UDP\""];
    assert_eq!(
        value_of(&text, "rbt_map_value_rbt_mflows_packets", &labels),
        Some(3.0 * ncpus as f64),
        "{text}"
    );
    assert_eq!(
        value_of(&text, "rbt_map_value_rbt_mflows_bytes", &labels),
        Some(100.0 * ncpus as f64)
    );
}

/// The fixture with one element in its address-keyed map: src 10.0.0.1, dst6 2001:db8::1,
/// mac 02:00:00:00:00:aa, port 8080 (big-endian), value 5.
fn with_address() -> Loaded {
    let l = loaded();
    let key = "hex 0a 00 00 01 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 \
               02 00 00 00 00 aa 1f 90";
    let mut args = vec!["map", "update", "pinned"];
    let pin = l.map("rbt_maddrs");
    args.push(&pin);
    args.push("key");
    args.extend(key.split_whitespace());
    args.extend(["value", "5", "0", "0", "0", "0", "0", "0", "0"]);
    ok(&args);
    l
}

#[test]
fn key_types_label_addresses_and_pass_promtool() {
    require_kernel!("bpf maps");
    let l = with_address();
    let addrs = l.map("rbt_maddrs");
    let members = [
        "--key-type",
        "src=ipv4",
        "--key-type",
        "dst6=ipv6",
        "--key-type",
        "mac=mac",
        "--key-type",
        "port=be16",
    ];
    let mut args = vec!["metrics", "print", "--map", &addrs];
    args.extend(members);
    let text = ok(&args);
    let (passed, report) = promtool(&text);
    assert!(passed, "promtool check metrics: {report}\n{text}");
    let labels = r#"src="10.0.0.1",dst6="2001:db8::1",mac="02:00:00:00:00:aa",port="8080""#;
    assert_eq!(
        value_of(&text, "rbt_map_value_rbt_maddrs", &[labels]),
        Some(5.0),
        "{text}"
    );
    // Without --key-type: numbers and hex, as before.
    let text = ok(&["metrics", "print", "--map", &addrs]);
    assert_eq!(
        value_of(&text, "rbt_map_value_rbt_maddrs", &["src=\"16777226\""]),
        Some(5.0),
        "{text}"
    );

    // The whole key as one label; a scalar key (the histogram's) as an address.
    let text = ok(&["metrics", "print", "--map", &addrs, "--key-type", "hex"]);
    let whole = "key=\"0x0a00000120010db80000000000000000000000010200000000aa1f90\"";
    assert_eq!(
        value_of(&text, "rbt_map_value_rbt_maddrs", &[whole]),
        Some(5.0),
        "{text}"
    );
    let sizes = l.map("rbt_msizes");
    let text = ok(&[
        "metrics",
        "print",
        "--histogram",
        &sizes,
        "--key-type",
        "ipv4",
    ]);
    let (passed, report) = promtool(&text);
    assert!(passed, "promtool check metrics: {report}\n{text}");
    assert!(
        text.contains("rbt_map_value_rbt_msizes_bucket{map_id=\""),
        "{text}"
    );
    assert!(text.contains(",key=\"0.0.0.0\",le=\"1\"}"), "{text}");

    // serve spells the labels the same way.
    let mut args = vec!["--map", addrs.as_str()];
    args.extend(members);
    let serve = Serve::start(&args);
    let (status, body) = serve.get("/metrics");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        value_of(&body, "rbt_map_value_rbt_maddrs", &[labels]),
        Some(5.0),
        "{body}"
    );
}

#[test]
fn bad_key_types_are_refused_and_print_nothing() {
    require_kernel!("bpf maps");
    let l = loaded();
    let addrs = l.map("rbt_maddrs");
    for (args, code, expect) in [
        (
            vec!["--map", &addrs, "--key-type", "src=ipv5"],
            2,
            "unknown type `ipv5`; known: u8",
        ),
        (vec!["--map", &addrs, "--key-type", "=ipv4"], 2, "MEMBER=TYPE"),
        (vec!["--key-type", "ipv4"], 2, "none given"),
        (
            vec!["--map", &addrs, "--key-type", "src=ipv6"],
            1,
            "`src=ipv6` is 16 bytes but key member src is 4 bytes",
        ),
        (
            vec!["--map", &addrs, "--key-type", "ipv4"],
            1,
            "is 4 bytes but the map's key is 28 bytes",
        ),
        (
            vec!["--map", &addrs, "--key-type", "saddr=ipv4"],
            1,
            "no key of the maps asked for has a member `saddr` (their key labels: src, dst6, mac, port)",
        ),
    ] {
        let mut all = vec!["metrics", "print"];
        all.extend_from_slice(&args);
        let (got, out, err) = run(&all);
        assert_eq!(got, code, "{all:?}: {err}");
        assert!(out.is_empty(), "{all:?}: {out}");
        assert!(err.starts_with("Error: ") && err.contains(expect), "{all:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{all:?}: {err}");
        // serve refuses the same before listening.
        let mut all = vec!["metrics", "serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(&args);
        let (got, _, err) = run(&all);
        assert_eq!(got, code, "{all:?}: {err}");
        assert!(err.contains(expect), "{all:?}: {err}");
    }
}

#[test]
fn print_refuses_bad_maps_and_words_and_prints_nothing() {
    require_kernel!("bpf maps");
    let l = loaded();
    let names = l.map("rbt_mnames");
    let (code, out, err) = run(&["metrics", "print", "--map", &names]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("has no numeric members"), "{err}");
    assert!(err.contains("struct comm"), "{err}");

    let (code, out, err) = run(&["metrics", "print", "--histogram", &l.map("rbt_mlabels")]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("not an array of integer buckets"), "{err}");

    for (args, expect) in [
        (vec!["--map", "id=abc"], "invalid map id"),
        (vec!["--map", "tag=0102030405060708"], "unknown map handle"),
        (vec!["--bucket-multiplier=0"], "positive number"),
        (vec!["extra"], "extra"),
    ] {
        let mut all = vec!["metrics", "print"];
        all.extend_from_slice(&args);
        let (code, out, err) = run(&all);
        assert_eq!(code, 2, "{all:?}: {err}");
        assert!(out.is_empty() && err.contains(expect), "{all:?}: {err}");
    }
    let (code, _, err) = run(&["metrics", "print", "--map", "id=4294967295"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no map with id 4294967295"), "{err}");
    let (code, out, _) = run(&["-j", "metrics", "print"]);
    assert_eq!(code, 2);
    assert!(out.contains("no JSON form"), "{out}");
}

/// A running `rbt metrics serve`, stopped with SIGTERM on drop; its stderr collected.
struct Serve {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("rbt"))
            .args(["metrics", "serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting rbt metrics serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("log").push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let found = log.lock().expect("log").iter().find_map(|l| {
                let rest = l.split("serving http://").nth(1)?;
                Some(rest.trim_end_matches("/metrics").to_owned())
            });
            if let Some(a) = found {
                break a;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("serve exited {status}: {:?}", log.lock().expect("log"));
            }
            assert!(Instant::now() < deadline, "serve did not start");
            thread::sleep(Duration::from_millis(50));
        };
        Serve { child, addr, log }
    }

    fn log(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    /// Whether the log has a line containing `text` within a few seconds (stderr is read
    /// by another thread).
    fn logged(&self, text: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.log().contains(text) {
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Whether the server process holds an fd whose link reads `target`.
    fn holds(&self, target: &str) -> bool {
        let dir = format!("/proc/{}/fd", self.child.id());
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy() == target))
    }

    fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.addr, path)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.0 GET: (status, body).
fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("request");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("response");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

#[test]
fn serve_answers_concurrent_scrapes_and_survives_a_map_that_goes_away() {
    require_kernel!("bpf maps");
    let l = loaded();
    let labels = l.map("rbt_mlabels");
    let mid = map_id(&labels);
    let serve = Serve::start(&["--map", &labels, "--workers", "3"]);
    let log = serve.log();
    assert!(
        log.contains("statistics enabled while rbt serves") || log.contains("already enabled"),
        "{log}"
    );
    if log.contains("enabled while rbt serves") {
        assert!(
            serve.holds("anon_inode:bpf-stats"),
            "serve holds the stats fd"
        );
    }
    let addr = serve.addr.clone();
    let scrapers: Vec<_> = (0..8)
        .map(|_| {
            let addr = addr.clone();
            thread::spawn(move || {
                (0..3)
                    .map(|_| http_get(&addr, "/metrics"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for s in scrapers {
        for (status, body) in s.join().expect("scraper") {
            assert_eq!(status, 200);
            assert!(body.contains("name=\"plain\",port=\"443\"} 9"), "{body}");
            assert!(body.contains("# TYPE rbt_prog_run_count_total counter"));
        }
    }
    assert_eq!(serve.get("/nothing").0, 404);

    drop(l); // the map is unpinned and freed: the next scrape goes on without it
    let (status, body) = serve.get("/metrics");
    assert_eq!(status, 200);
    assert!(!body.contains(&format!("map_id=\"{mid}\"")), "{body}");
    assert!(body.contains("rbt_prog_info"));
    let (passed, report) = promtool(&body);
    assert!(passed, "{report}");
    assert!(serve.logged("not exported this time"), "{}", serve.log());
}

#[test]
fn serve_caps_series_with_a_log_line() {
    require_kernel!("bpf maps");
    let serve = Serve::start(&["--max-series", "3"]);
    let (status, body) = serve.get("/metrics");
    assert_eq!(status, 200);
    let n = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    assert!(n <= 3, "{n} series: {body}");
    assert!(serve.logged("--max-series 3 reached"), "{}", serve.log());
}

#[test]
fn serve_refuses_a_busy_or_foreign_address_and_a_bad_map() {
    require_kernel!("bpf maps");
    let busy = TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = busy.local_addr().expect("addr").to_string();
    let (code, _, err) = run(&["metrics", "serve", "--listen", &addr]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the address is in use") && err.contains("hint:"),
        "{err}"
    );

    // 192.0.2.1 (TEST-NET-1) is nobody's address here.
    let (code, _, err) = run(&["metrics", "serve", "--listen", "192.0.2.1:9435"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("192.0.2.1 is not an address of this host"),
        "{err}"
    );

    for bad in ["nonsense", "127.0.0.1", "127.0.0.1:99999"] {
        let (code, _, err) = run(&["metrics", "serve", "--listen", bad]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("expected IP:PORT"), "{err}");
    }
    let l = loaded();
    let (code, _, err) = run(&[
        "metrics",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--map",
        &l.map("rbt_mnames"),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("has no numeric members"), "{err}");
}

/// A Prometheus server on a free port of 127.0.0.1, scraping `target` every second;
/// killed and its data removed on drop.
struct Prometheus {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
scrape_configs:\n  - job_name: rbt\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("config");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (make deps installs it)");
        Prometheus {
            child,
            addr,
            _dir: dir,
        }
    }

    /// The first value of an instant query, if it has one.
    fn query(&self, promql: &str) -> Option<f64> {
        let q: String = promql
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, body) = http_get(&self.addr, &format!("/api/v1/query?query={q}"));
        if status != 200 {
            return None;
        }
        let v: Value = serde_json::from_str(&body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn prometheus_sees_xdp_traffic_through_serve() {
    require_kernel!("net xdp");
    let _stats = stats_lock();
    let l = loaded();
    let lab = Lab::new("m");
    let (prog_pin, prog_id) = l.find("rbt_metrics_xdp");
    lab.rbt_ok(&["net", "attach", "xdp", "pinned", prog_pin, "dev", &lab.a]);
    let serve = Serve::start(&[
        "--map",
        &l.map("rbt_mflows"),
        "--histogram",
        &l.map("rbt_msizes"),
    ]);
    let prom = Prometheus::start(&serve.addr);

    let rate = format!("rate(rbt_prog_run_count_total{{id=\"{prog_id}\"}}[10s])");
    let icmp = "rbt_map_value_rbt_mflows_packets{proto=\"PROTO_ICMP\"}";
    let sizes = "rbt_map_value_rbt_msizes_bucket{le=\"128\"}";
    let deadline = Instant::now() + Duration::from_secs(90);
    let (mut r, mut packets, mut bucket) = (None, None, None);
    while Instant::now() < deadline {
        let (sent, _) = lab.ping_from_b(10);
        assert_eq!(sent, 10);
        r = prom.query(&rate);
        packets = prom.query(icmp);
        bucket = prom.query(sizes);
        if r.is_some_and(|v| v > 0.0)
            && packets.is_some_and(|v| v >= 10.0)
            && bucket.is_some_and(|v| v >= 10.0)
        {
            break;
        }
    }
    assert!(
        r.is_some_and(|v| v > 0.0),
        "rate of runs {r:?}; serve log: {}",
        serve.log()
    );
    assert!(
        packets.is_some_and(|v| v >= 10.0),
        "ICMP packets {packets:?}"
    );
    assert!(
        bucket.is_some_and(|v| v >= 10.0),
        "pings of 98 bytes in le=128: {bucket:?}"
    );
    drop(prom);
    drop(serve);
}

#[test]
fn without_cap_sys_admin_print_and_serve_fail_at_once_with_a_hint() {
    require_kernel!("bpf maps");
    let rbt = assert_cmd::cargo::cargo_bin("rbt");
    for verb in [&["print"][..], &["serve", "--listen", "127.0.0.1:0"][..]] {
        let out = Command::new("setpriv")
            .args(["--inh-caps=-sys_admin", "--bounding-set=-sys_admin"])
            .arg(&rbt)
            .arg("metrics")
            .args(verb)
            .output()
            .expect("setpriv (util-linux)");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{verb:?}: {err}");
        assert!(
            err.contains("listing programs: Operation not permitted"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn serve_leaves_statistics_alone_when_the_sysctl_has_them_on() {
    require_kernel!("bpf stats");
    let _stats = stats_lock();
    const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";
    let before = std::fs::read_to_string(SYSCTL).expect("sysctl");
    std::fs::write(SYSCTL, "1").expect("turning the sysctl on");
    let serve = Serve::start(&[]);
    let ok = serve.logged("already on (kernel.bpf_stats_enabled=1); left alone");
    let holds = serve.holds("anon_inode:bpf-stats");
    drop(serve);
    let after = std::fs::read_to_string(SYSCTL).expect("sysctl");
    std::fs::write(SYSCTL, before.trim()).expect("restoring the sysctl");
    assert!(ok, "serve said it left the statistics alone");
    assert!(!holds, "serve took no stats fd of its own");
    assert_eq!(
        after.trim(),
        "1",
        "the sysctl is as the other owner left it"
    );
}
