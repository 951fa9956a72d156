// rbt: parse the command line, run the verb, turn errors into exit codes.

mod bpf;
mod btf;
mod cli;
mod cmd;
mod complete;
mod error;
mod grammar;
mod handle;
mod hex;
mod input;
mod insn;
mod output;
mod rollback;

use output::Output;

fn main() {
    complete::run_if_requested();
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(e) => std::process::exit(report_clap_error(&e)),
    };
    bpf::log::install(cli.globals.debug);
    let mut out = Output::new(&cli.globals);
    let result = cmd::run(cli, &mut out).and_then(|()| Ok(out.flush()?));
    let code = match result {
        Ok(()) => 0,
        Err(e) => out.report_error(&e),
    };
    std::process::exit(code);
}

/// Help and version go out as clap writes them; a bad dash option or an unknown verb is a
/// usage error like the grammar's: one `Error:` line (with the usage line in it), exit 2,
/// and `{"error": ...}` on stdout with -j, as every other error.
fn report_clap_error(e: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if !e.use_stderr() || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return if e.use_stderr() { 2 } else { 0 };
    }
    let text = e.render().to_string();
    let what = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ");
    let usage = text.lines().find_map(|l| l.strip_prefix("Usage: "));
    let message = match usage {
        // The usage of an object lists all its verbs: point to its help instead.
        Some(usage) if e.kind() == ErrorKind::InvalidSubcommand => {
            let object: Vec<&str> = usage
                .split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<']))
                .take(2)
                .collect();
            format!("{what}; see `{} --help`", object.join(" "))
        }
        Some(usage) => format!("{what} (usage: {})", usage.trim()),
        None => what.to_owned(),
    };
    let (json, pretty) = cli::json_flags(std::env::args());
    let globals = cli::Globals {
        json,
        pretty,
        ..Default::default()
    };
    Output::new(&globals).report_error(&error::usage(message))
}
