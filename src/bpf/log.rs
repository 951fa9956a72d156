// libbpf's messages: kept in memory so a failed load can show the verifier log, and
// echoed to stderr as they come with `-d`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use libbpf_rs::PrintLevel;

static DEBUG: AtomicBool = AtomicBool::new(false);
static CAPTURED: Mutex<String> = Mutex::new(String::new());

fn on_message(level: PrintLevel, msg: String) {
    if DEBUG.load(Ordering::Relaxed) {
        let _ = std::io::stderr().write_all(msg.as_bytes());
    }
    // The verifier log of a failed load comes at Warn level, that of a successful load
    // asked for with a log level at Debug; the rest of Debug is only chatter.
    if level != PrintLevel::Debug || msg.contains("-- BEGIN PROG LOAD LOG --") {
        if let Ok(mut buf) = CAPTURED.lock() {
            buf.push_str(&msg);
        }
    }
}

/// Route libbpf's messages through rbt: captured always, printed with `debug`.
pub fn install(debug: bool) {
    DEBUG.store(debug, Ordering::Relaxed);
    libbpf_rs::set_print(Some((PrintLevel::Debug, on_message)));
}

/// Take what libbpf said since the last call.
pub fn take() -> String {
    CAPTURED
        .lock()
        .map(|mut b| std::mem::take(&mut *b))
        .unwrap_or_default()
}

/// The verifier log inside libbpf's `-- BEGIN PROG LOAD LOG --` / `-- END` markers.
pub fn verifier_log(messages: &str) -> Option<String> {
    let start = messages.find("-- BEGIN PROG LOAD LOG --")?;
    let body = &messages[start..];
    let body = body.split_once('\n')?.1;
    let end = body.find("-- END PROG LOAD LOG --").unwrap_or(body.len());
    let log: String = body[..end]
        .lines()
        .map(|l| l.strip_prefix("libbpf: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    Some(log.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_log_is_cut_out() {
        let m = "libbpf: prog 'x': BPF program load failed: Permission denied\n\
                 libbpf: prog 'x': -- BEGIN PROG LOAD LOG --\n\
                 0: R1=ctx() R10=fp0\n; return *(int *)0;\n\
                 R1 invalid mem access 'scalar'\n\
                 processed 2 insns\n\
                 -- END PROG LOAD LOG --\n\
                 libbpf: prog 'x': failed to load: -13\n";
        let log = verifier_log(m).unwrap_or_default();
        assert!(log.starts_with("0: R1=ctx()"));
        assert!(log.ends_with("processed 2 insns"));
    }
}
