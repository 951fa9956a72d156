// The fuzz targets' entry points, over rbt's own source tree mounted by path (rbt has no
// library target; mounting the binary's module tree here leaves rbt's build untouched).

#![allow(dead_code, unused_imports, unused_macros)]

#[path = "../../src/bpf/mod.rs"]
pub mod bpf;
#[path = "../../src/btf/mod.rs"]
pub mod btf;
#[path = "../../src/cli/mod.rs"]
pub mod cli;
#[path = "../../src/cmd/mod.rs"]
pub mod cmd;
#[path = "../../src/complete/mod.rs"]
pub mod complete;
#[path = "../../src/error.rs"]
pub mod error;
#[path = "../../src/grammar/mod.rs"]
pub mod grammar;
#[path = "../../src/handle.rs"]
pub mod handle;
#[path = "../../src/hex.rs"]
pub mod hex;
#[path = "../../src/input.rs"]
pub mod input;
#[path = "../../src/insn/mod.rs"]
pub mod insn;
#[path = "../../src/output.rs"]
pub mod output;
#[path = "../../src/rollback.rs"]
pub mod rollback;

pub mod targets;
