//! Compiles the BPF programs rbt embeds (src/bpf/profiler.bpf.c, for `prog profile`) with clang.

use std::path::PathBuf;
use std::process::Command;

const SOURCES: &[&str] = &["src/bpf/profiler.bpf.c"];

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_owned());
    println!("cargo:rerun-if-env-changed=CLANG");
    // <asm/types.h>, which <linux/bpf.h> includes, lives under the multiarch directory.
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".to_owned());
    let multiarch = format!("-I/usr/include/{arch}-linux-gnu");
    for src in SOURCES {
        println!("cargo:rerun-if-changed={src}");
        let name = std::path::Path::new(src)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".c"))
            .expect("a .bpf.c source");
        let obj = out_dir.join(format!("{name}.o"));
        let status = Command::new(&clang)
            .args([
                "-O2", "-g", "-target", "bpf", "-mcpu=v3", "-Wall", "-Werror",
            ])
            .arg(&multiarch)
            .arg("-c")
            .arg(src)
            .arg("-o")
            .arg(&obj)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!("{clang} failed on {src} ({s})"),
            Err(e) => panic!(
                "cannot run {clang} for {src}: {e} (install clang and libbpf-dev: make deps)"
            ),
        }
    }
}
