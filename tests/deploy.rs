// Deployment: the static binary (`make static`) needs no library and runs in an empty
// chroot; the systemd unit verifies; the DaemonSet parses; and the capabilities both grant
// are what `metrics`, `prog show`, `map dump` and `prog top` need, checked as a non-root uid.

#[macro_use]
#[allow(unused_imports)] // this file uses no fixture helper but Loaded
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn deploy_file(name: &str) -> String {
    let path = repo().join("examples/deploy").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The static binary: $RBT_STATIC, else `make static`'s target/static/rbt; the reason it
/// is missing otherwise (`make test` builds it first, so CI always has it).
fn static_rbt() -> Result<PathBuf, String> {
    let path = std::env::var_os("RBT_STATIC")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("static/rbt"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `make static` (`make test` does)",
            path.display()
        ))
    }
}

/// A tool from a Debian package of DEBIAN_PKGS; the reason when it is not installed.
fn tool(name: &str, package: &str) -> Result<PathBuf, String> {
    which(name)
        .ok_or_else(|| format!("{name} is not installed (Debian {package}; run `make deps`)"))
}

fn text(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn output(cmd: &mut Command) -> (i32, String, String) {
    text(&cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}")))
}

#[test]
fn static_binary_needs_no_library() {
    require_kernel_and!("static binary", static_rbt().err());
    let Ok(rbt) = static_rbt() else { return };
    let readelf = |flag: &str| {
        let (code, out, err) = output(Command::new("readelf").args([flag, "-W"]).arg(&rbt));
        assert_eq!(code, 0, "readelf {flag}: {err}");
        out
    };
    // A static-pie has a dynamic section for its own relocations, but no interpreter and
    // no library to load.
    let headers = readelf("-l");
    assert!(!headers.contains("INTERP"), "{headers}");
    let dynamic = readelf("-d");
    assert!(!dynamic.contains("(NEEDED)"), "{dynamic}");
    let (_, out, err) = output(Command::new("ldd").arg(&rbt));
    let said = out + &err;
    assert!(
        said.contains("statically linked") || said.contains("not a dynamic executable"),
        "ldd: {said}"
    );
    // The same program as the debug build.
    let (code, version, err) = output(Command::new(&rbt).arg("--version"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(version, ok(&["--version"]));
}

/// An empty directory (the chroot), removed on drop. The mounts live in a private mount
/// namespace (`unshare --mount`) that ends with the command, so none can outlive the test.
struct Root(PathBuf);

impl Drop for Root {
    fn drop(&mut self) {
        // Only empty directories and the copied binary: never recurse into a mount.
        let _ = std::fs::remove_file(self.0.join("rbt"));
        for d in ["sys", "proc"] {
            let _ = std::fs::remove_dir(self.0.join(d));
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Run `/rbt ARGS` chrooted in `root` with /proc, /sys and /sys/fs/bpf bind-mounted.
fn in_chroot(root: &Path, args: &[&str]) -> (i32, String, String) {
    let script = r#"set -e
root=$1; shift
mount --bind /proc "$root/proc"
mount --bind /sys "$root/sys"
mount --bind /sys/fs/bpf "$root/sys/fs/bpf"
exec chroot "$root" /rbt "$@""#;
    output(
        Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(root)
            .args(args),
    )
}

#[test]
fn static_binary_runs_in_an_empty_chroot() {
    require_kernel_and!("static binary", static_rbt().err());
    let Ok(rbt) = static_rbt() else { return };
    let loaded = Loaded::new("metrics");
    let (_, prog_id) = loaded.find("rbt_metrics_xdp");
    let map_pin = loaded.map("rbt_maddrs");

    let root = Root(target_dir().join(format!("deploy-chroot-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&root.0);
    for d in ["proc", "sys"] {
        std::fs::create_dir_all(root.0.join(d)).expect("creating the chroot");
    }
    std::fs::copy(&rbt, root.0.join("rbt")).expect("copying the static rbt");
    // Nothing but the binary and the two mount points: no /lib, no /etc, no /dev.
    assert_eq!(entries(&root.0), ["proc", "rbt", "sys"]);

    let (code, out, err) = in_chroot(&root.0, &["prog", "show"]);
    assert_eq!(code, 0, "prog show in the chroot: {err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{prog_id} ")) && l.contains("rbt_metrics_xdp")),
        "{out}"
    );

    let (code, out, err) = in_chroot(&root.0, &["-j", "prog", "show", "id", &prog_id.to_string()]);
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(shown["name"], "rbt_metrics_xdp", "{out}");

    // bpffs is reachable: a pinned map by path.
    let (code, out, err) = in_chroot(&root.0, &["-j", "map", "show", "pinned", &map_pin]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"name\":\"rbt_maddrs\""), "{out}");

    let (code, out, err) = in_chroot(&root.0, &["-j", "feature", "probe"]);
    assert_eq!(code, 0, "feature probe in the chroot: {err}");
    let probe: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(probe["system_config"].is_object(), "{out}");
    assert!(probe["program_types"]["have_xdp_prog_type"]
        .as_bool()
        .unwrap_or(false));

    // The namespace took its mounts with it.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let dir = root.0.display().to_string();
    assert!(!mounts.contains(&dir), "left mounted: {mounts}");
}

/// `KEY=value` lines of a unit file (the last one wins).
fn unit_value(unit: &str, key: &str) -> String {
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .next_back()
        .unwrap_or_else(|| panic!("the unit has no {key}="))
        .trim()
        .to_string()
}

#[test]
fn systemd_unit_verifies() {
    require_kernel_and!("systemd-analyze", tool("systemd-analyze", "systemd").err());
    let unit = deploy_file("rbt-metrics.service");
    let exec = unit_value(&unit, "ExecStart");
    assert!(
        exec.starts_with("/usr/local/bin/rbt metrics serve --listen 127.0.0.1:"),
        "{exec}"
    );
    // verify checks that ExecStart is executable and that Documentation= man pages exist:
    // point them at this build and at the repository's man/.
    let dir = tempfile::tempdir().expect("tempdir");
    let rbt = assert_cmd::cargo::cargo_bin("rbt");
    let copy = dir.path().join("rbt-metrics.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/rbt", &rbt.display().to_string()),
    )
    .expect("writing the unit");
    let manpath = dir.path().join("man");
    std::fs::create_dir(&manpath).expect("man dir");
    std::os::unix::fs::symlink(repo().join("man"), manpath.join("man1")).expect("man1 link");
    let (code, out, err) = output(
        Command::new("systemd-analyze")
            .args(["verify", "--man=yes"])
            .arg(&copy)
            .env("MANPATH", &manpath),
    );
    assert_eq!(code, 0, "systemd-analyze verify: {out}{err}");
    // Unknown keys and bad values are only warnings: there must be none.
    assert_eq!(err.trim(), "", "systemd-analyze verify warned");

    // The command line itself parses (rbt checks the flags before it opens anything).
    let args: Vec<&str> = exec.split_whitespace().skip(1).collect();
    let mut bad = args.clone();
    bad.push("--no-such-flag");
    let (code, _, err) = run(&bad);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--no-such-flag"), "{err}");
}

/// The capabilities the unit and the DaemonSet grant (`CAP_` names), checked equal.
fn granted() -> Vec<String> {
    let unit = deploy_file("rbt-metrics.service");
    let ambient = unit_value(&unit, "AmbientCapabilities");
    let bounding = unit_value(&unit, "CapabilityBoundingSet");
    assert_eq!(ambient, bounding, "the unit's two capability lines differ");
    let caps: Vec<String> = ambient.split_whitespace().map(str::to_string).collect();
    let ds = daemonset();
    let sc = &ds["spec"]["template"]["spec"]["containers"][0]["securityContext"];
    let added: Vec<String> = sc["capabilities"]["add"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(|c| format!("CAP_{c}")))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        caps, added,
        "the unit and the DaemonSet grant different capabilities"
    );
    caps
}

/// examples/deploy/daemonset.yaml as JSON, parsed by PyYAML (Debian's python3-yaml).
fn daemonset() -> Value {
    let python = Path::new("/usr/bin/python3");
    let script = "import json, sys, yaml\nprint(json.dumps(yaml.safe_load(sys.stdin)))";
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 (make deps installs python3 and python3-yaml)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(deploy_file("daemonset.yaml").as_bytes())
        .expect("writing the YAML");
    let (code, out, err) = text(&child.wait_with_output().expect("python3"));
    assert_eq!(code, 0, "daemonset.yaml does not parse: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn daemonset_parses_and_mounts_bpffs() {
    require_kernel_and!(
        "python3-yaml",
        (!Path::new("/usr/lib/python3/dist-packages/yaml").is_dir())
            .then(|| "python3-yaml is not installed (run `make deps`)".to_string())
    );
    let ds = daemonset();
    assert_eq!(ds["apiVersion"], "apps/v1");
    assert_eq!(ds["kind"], "DaemonSet");
    let pod = &ds["spec"]["template"];
    assert_eq!(
        ds["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"],
        "the selector must match the pod's labels"
    );
    let notes = &pod["metadata"]["annotations"];
    assert_eq!(notes["prometheus.io/scrape"], "true");
    let c = &pod["spec"]["containers"][0];
    assert!(
        c["image"].as_str().is_some_and(|i| i.contains("rbt")),
        "{c}"
    );
    let args: Vec<&str> = c["args"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(args[..3], ["metrics", "serve", "--listen"], "{args:?}");
    let port = args[3].rsplit(':').next().unwrap_or_default();
    assert_eq!(notes["prometheus.io/port"], port);
    assert_eq!(c["ports"][0]["containerPort"].to_string(), port);

    let sc = &c["securityContext"];
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    let _ = granted();

    // /sys/fs/bpf and /sys/kernel/btf from the node, read-only.
    let volumes = pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mounts = c["volumeMounts"].as_array().cloned().unwrap_or_default();
    for path in ["/sys/fs/bpf", "/sys/kernel/btf"] {
        let m = mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("no volumeMount at {path}: {mounts:?}"));
        assert_eq!(m["readOnly"], true, "{m}");
        let v = volumes
            .iter()
            .find(|v| v["name"] == m["name"])
            .unwrap_or_else(|| panic!("no volume {}", m["name"]));
        assert_eq!(v["hostPath"]["path"], path, "{v}");
    }

    // The image: the static binary and nothing else.
    let docker = deploy_file("Dockerfile");
    assert!(
        docker.lines().any(|l| l.trim() == "FROM scratch"),
        "{docker}"
    );
    assert!(docker.contains("COPY target/static/rbt /rbt"), "{docker}");
}

/// `setpriv` as uid/gid 65534 (nobody) holding exactly `caps` (e.g. "CAP_SYS_ADMIN").
fn as_nobody(caps: &[&str]) -> Command {
    as_uid(65534, caps)
}

/// `setpriv` as uid/gid `uid` holding exactly `caps`.
fn as_uid(uid: u32, caps: &[&str]) -> Command {
    let set: String = std::iter::once("-all".to_string())
        .chain(
            caps.iter()
                .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_ascii_lowercase())),
        )
        .collect::<Vec<_>>()
        .join(",");
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups")
        .arg(format!("--inh-caps={set}"))
        .arg(format!("--ambient-caps={set}"))
        .arg(format!("--bounding-set={set}"))
        .arg(assert_cmd::cargo::cargo_bin("rbt"));
    cmd
}

fn run_as(caps: &[&str], args: &[&str]) -> (i32, String, String) {
    output(as_nobody(caps).args(args))
}

/// `metrics serve --listen 127.0.0.1:0` as nobody with `caps`: the body of one scrape.
fn scrape_as(caps: &[&str], extra: &[&str]) -> Result<String, String> {
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Kill(
        as_nobody(caps)
            .args(["metrics", "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting metrics serve"),
    );
    let stderr = child.0.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut log = String::new();
    let addr = loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                if let Some(rest) = line.split("serving http://").nth(1) {
                    break rest.trim_end_matches("/metrics").to_string();
                }
                log.push_str(&line);
            }
            Err(_) => {
                if let Ok(Some(status)) = child.0.try_wait() {
                    while let Ok(line) = rx.try_recv() {
                        log.push_str(&line);
                    }
                    return Err(format!("exited {status}: {log}"));
                }
            }
        }
        assert!(Instant::now() < deadline, "serve did not start: {log}");
    };
    let mut s = TcpStream::connect(&addr).expect("connecting");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("response");
    if resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200") {
        Ok(resp)
    } else {
        Err(resp)
    }
}

#[test]
fn granted_capabilities_are_enough_and_needed() {
    require_kernel_and!("setpriv", tool("setpriv", "util-linux").err());
    let caps = granted();
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    assert_eq!(
        caps,
        ["CAP_SYS_ADMIN"],
        "update the README's capability table"
    );
    let loaded = Loaded::new("metrics");
    let (prog_pin, prog_id) = loaded.find("rbt_metrics_xdp");
    let prog_id = prog_id.to_string();
    let map_pin = loaded.map("rbt_maddrs");
    let map_id = run_json(&["-j", "map", "show", "pinned", &map_pin])["id"]
        .as_u64()
        .expect("map id")
        .to_string();
    ok(&[
        "map", "update", "pinned", &map_pin, "key", "hex", "0a", "00", "00", "01", "20", "01",
        "0d", "b8", "00", "00", "00", "00", "00", "00", "00", "00", "00", "00", "00", "01", "02",
        "00", "00", "00", "00", "aa", "1f", "90", "value", "7", "0", "0", "0", "0", "0", "0", "0",
    ]);
    let map_word = format!("id={map_id}");

    // What the unit grants: every read-only verb by id, and a scrape with map values.
    for args in [
        vec!["prog", "show"],
        vec!["prog", "show", "id", &prog_id],
        vec!["map", "dump", "id", &map_id],
        vec!["metrics", "print"],
        vec![
            "metrics",
            "print",
            "--map",
            &map_word,
            "--key-type",
            "src=ipv4",
        ],
        vec!["-j", "prog", "top", "--count", "1", "--interval", "100ms"],
    ] {
        let (code, out, err) = run_as(&caps, &args);
        assert_eq!(code, 0, "{args:?} with {caps:?}: {err}");
        if args[0] == "metrics" && args.len() > 2 {
            assert!(out.contains("src=\"10.0.0.1\""), "{out}");
        }
    }
    let body = scrape_as(&caps, &["--map", &map_word]).unwrap_or_else(|e| panic!("{e}"));
    assert!(body.contains("rbt_map_value_rbt_maddrs{"), "{body}");
    assert!(
        body.contains(&format!("rbt_prog_info{{id=\"{prog_id}\"")),
        "{body}"
    );

    // CAP_BPF and CAP_PERFMON are not enough: listing and opening by id, and turning on
    // run-time statistics, are CAP_SYS_ADMIN's.
    let lesser = ["CAP_BPF", "CAP_PERFMON"];
    for args in [
        vec!["prog", "show"],
        vec!["map", "dump", "id", &map_id],
        vec!["metrics", "print"],
        vec!["-j", "prog", "top", "--count", "1", "--interval", "100ms"],
    ] {
        let (code, out, err) = run_as(&lesser, &args);
        assert_eq!(code, 1, "{args:?} with {lesser:?}: {out}{err}");
        assert!(err.contains("Operation not permitted"), "{args:?}: {err}");
    }
    let refused = scrape_as(&lesser, &[]).err().unwrap_or_default();
    assert!(refused.contains("Operation not permitted"), "{refused}");

    // Pins are root's, mode 0600: by path also needs CAP_DAC_OVERRIDE (as the unit says).
    let (code, _, err) = run_as(&caps, &["map", "dump", "pinned", &map_pin]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    let with_dac = ["CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE"];
    for args in [
        vec!["map", "dump", "pinned", &map_pin],
        vec!["prog", "show", "pinned", prog_pin],
        vec!["metrics", "print", "--map", &map_pin],
    ] {
        let (code, _, err) = run_as(&with_dac, &args);
        assert_eq!(code, 0, "{args:?} with {with_dac:?}: {err}");
    }
    // The DaemonSet's container is uid 0 with CAP_SYS_ADMIN alone: the pins' owner.
    let (code, out, err) = output(as_uid(0, &caps).args(["metrics", "print", "--map", &map_pin]));
    assert_eq!(
        code, 0,
        "metrics print --map PIN as uid 0 with {caps:?}: {err}"
    );
    assert!(out.contains("rbt_map_value_rbt_maddrs{"), "{out}");
}
