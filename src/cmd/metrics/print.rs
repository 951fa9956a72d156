// `metrics print`: one scrape written to stdout.

use std::io::{self, Write};

use anyhow::Result;

use crate::cli::MetricsPrintArgs;
use crate::error::usage;
use crate::grammar;
use crate::output::Output;

/// Bytes of the exposition handed to Output as they come.
struct ToOutput<'a>(&'a mut Output);

impl Write for ToOutput<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.raw(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub fn print(args: &MetricsPrintArgs, out: &mut Output) -> Result<()> {
    grammar::parse("metrics", "print", &args.words)?;
    if out.is_json() {
        return Err(usage(
            "`metrics print` writes Prometheus' text format, which has no JSON form \
(for JSON: `rbt -j prog show`, `rbt -j map dump MAP`)",
        ));
    }
    let targets = super::targets(&args.maps, args.max_series)?;
    super::scrape::check(&targets)?;
    let mut warnings = Vec::new();
    super::scrape::scrape(&targets, ToOutput(out), &mut |m| {
        warnings.push(m.to_owned())
    })?;
    for w in warnings {
        out.warn(&w);
    }
    Ok(())
}
