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
mod insn;
mod output;
mod rollback;

use output::Output;

fn main() {
    complete::run_if_requested();
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
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
