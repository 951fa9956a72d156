// Verbs on a map as a whole: `map create` (create and pin a new map) and `map freeze`.

use std::os::fd::{AsFd, AsRawFd};

use anyhow::{Context, Result};

use super::words;
use crate::bpf::{self, bpffs, map as kmap, Kind};
use crate::cli::Globals;
use crate::handle;
use crate::output::Output;

pub fn freeze(words: &[String], out: &mut Output) -> Result<()> {
    let h = words::map_handle("freeze", words)?;
    let map = handle::resolve_one(Kind::Map, &h)?;
    kmap::freeze(map.fd.as_fd()).with_context(|| format!("map {h}"))?;
    out.done(None)?;
    Ok(())
}

pub fn create(args: &[String], g: &Globals, out: &mut Output) -> Result<()> {
    let words::CreateWords {
        file,
        mut spec,
        inner,
    } = words::create(args)?;
    bpffs::ensure_mounted(g.nomount)?;
    bpffs::check_pin_path(&file)?;
    let inner_fd = match &inner {
        Some(h) => Some(handle::resolve_one(Kind::Map, h)?.fd),
        None => None,
    };
    spec.inner_map_fd = inner_fd.as_ref().map(|f| f.as_raw_fd());
    let fd = kmap::create(&spec)?;
    // If pinning fails, dropping `fd` frees the map: nothing is left behind.
    bpf::obj_pin(fd.as_fd(), &file)?;
    out.done(None)?;
    Ok(())
}
