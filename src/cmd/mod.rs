// One module per object; `run` sends a parsed command line to its verb.

pub mod attach;
pub mod btf;
pub mod cgroup;
pub mod docs;
pub mod feature;
pub mod link;
pub mod map;
pub mod map_attach;
pub mod metrics;
pub mod net;
pub mod object_verbs;
pub mod perf;
pub mod prog;
pub mod struct_ops;
pub mod top;
pub mod usdt;

use anyhow::Result;

use crate::cli::{Cli, Object};
use crate::output::Output;

pub fn run(cli: Cli, out: &mut Output) -> Result<()> {
    let g = &cli.globals;
    if g.use_loader && loads(&cli.object) {
        return Err(crate::error::usage(
            "rbt does not support --use-loader (light skeleton loader); load without it",
        ));
    }
    match cli.object {
        Object::Prog { verb } => prog::run(verb, g, out),
        Object::Link { verb } => link::run(verb, g, out),
        Object::Perf { verb } => perf::run(verb, g, out),
        Object::Map { verb } => map::run(verb, g, out),
        Object::Net { verb } => net::run(verb, g, out),
        Object::Metrics { verb } => metrics::run(verb, out),
        Object::Cgroup { verb } => cgroup::run(verb, g, out),
        Object::StructOps { verb } => struct_ops::run(verb, g, out),
        Object::Feature { verb } => feature::run(verb, out),
        Object::Version { words } => feature::version(&words, out),
        Object::Btf { verb } => btf::run(verb, g, out),
        Object::Completions { words } => docs::completions(&words, out),
        Object::Man { words } => docs::man(&words, out),
    }
}

/// Whether the command loads BPF objects (where bpftool's -L/--use-loader would apply).
fn loads(object: &Object) -> bool {
    use crate::cli::{ProgVerb, StructOpsVerb};
    matches!(
        object,
        Object::Prog {
            verb: Some(ProgVerb::Load(_) | ProgVerb::Loadall(_))
        } | Object::StructOps {
            verb: Some(StructOpsVerb::Register { .. })
        }
    )
}
