// `completions` and `man`: shell completion scripts and man pages generated from the clap
// definitions, so help, man pages and completions come from one source.

use anyhow::{Context, Result};

use crate::error::usage;
use crate::grammar::{self, words::ShellName};
use crate::output::Output;

/// bash, zsh and fish get the script that asks rbt for candidates at each TAB (so ids,
/// pins and interfaces are live); other shells get clap_complete's static script.
pub fn completions(words: &[String], out: &mut Output) -> Result<()> {
    let shell = grammar::parse("completions", "", words)?
        .choice::<ShellName>("SHELL")?
        .ok_or_else(|| usage("expected SHELL"))?
        .shell();
    let script = match crate::complete::registration(shell) {
        Some(script) => script,
        None => {
            let mut cmd = crate::cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "rbt", &mut script);
            script
        }
    };
    out.raw(&script)?;
    Ok(())
}

/// One page per command: rbt.1, rbt-prog.1, rbt-prog-load.1, ...
pub fn man(words: &[String], out: &mut Output) -> Result<()> {
    let dir = grammar::parse("man", "", words)?
        .path("DIR")
        .ok_or_else(|| usage("expected DIR"))?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, page) in man_pages() {
        let path = dir.join(&name);
        std::io::Write::write_all(&mut crate::input::create(&path, "man page")?, &page)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    out.done(None)?;
    Ok(())
}

/// Every man page as (file name, roff text), for every command that is not hidden.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    // A man page's title line takes the version on one line.
    let version = crate::bpf::version_line().replace('\n', ", ");
    let mut cmd = crate::cli::command()
        .version(version.clone())
        .disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    collect(&cmd, &format!("rbt {version}"), None, &mut pages);
    pages
}

fn collect(
    cmd: &clap::Command,
    source: &str,
    parent: Option<&str>,
    pages: &mut Vec<(String, Vec<u8>)>,
) {
    let man = clap_mangen::Man::new(cmd.clone()).source(source);
    let name = man.get_filename();
    pages.push((name.clone(), render(&man, cmd, parent)));
    let stem = name.trim_end_matches(".1").to_owned();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, source, Some(&stem), pages);
    }
}

/// clap_mangen's sections, with the after-help text (notes and examples) kept line by line
/// in an EXAMPLES section, and a SEE ALSO section linking parent and child pages.
fn render(man: &clap_mangen::Man, cmd: &clap::Command, parent: Option<&str>) -> Vec<u8> {
    let mut page = Vec::new();
    let _ = man.render_title(&mut page);
    let _ = man.render_name_section(&mut page);
    render_synopsis(cmd, &mut page);
    let _ = man.render_description_section(&mut page);
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        let _ = man.render_options_section(&mut page);
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        let _ = man.render_subcommands_section(&mut page);
    }
    if let Some(text) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        let text = text.to_string();
        let title = if text.contains("Example") {
            "EXAMPLES"
        } else {
            "NOTES"
        };
        page.extend_from_slice(format!(".SH {title}\n.nf\n").as_bytes());
        for line in text.lines() {
            page.extend_from_slice(roff_line(line).as_bytes());
            page.push(b'\n');
        }
        page.extend_from_slice(b".fi\n");
    }
    let mut see_also: Vec<String> = parent.map(|p| format!("{p}(1)")).into_iter().collect();
    let stem = man.get_filename().trim_end_matches(".1").to_owned();
    see_also.extend(
        cmd.get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| format!("{stem}-{}(1)", s.get_name())),
    );
    see_also.push("bpftool(8)".to_owned());
    page.extend_from_slice(
        format!(".SH \"SEE ALSO\"\n{}\n", roff_line(&see_also.join(", "))).as_bytes(),
    );
    let _ = man.render_version_section(&mut page);
    page
}

/// The usage lines of the help (the grammar's, `rbt net attach ATTACH_TYPE [PROG] dev IF
/// [dev IF]...`), one per line, instead of clap_mangen's list of dash options.
fn render_synopsis(cmd: &clap::Command, page: &mut Vec<u8>) {
    let usage = cmd.clone().render_usage().to_string();
    let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage);
    page.extend_from_slice(b".SH SYNOPSIS\n.nf\n");
    for line in usage.lines() {
        page.extend_from_slice(roff_line(line.trim()).as_bytes());
        page.push(b'\n');
    }
    page.extend_from_slice(b".fi\n");
}

/// One line of text for roff: backslashes and minus signs escaped, and a leading `.` or `'`
/// kept from being read as a request.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_a_page_with_its_examples() {
        let pages = man_pages();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for want in ["rbt.1", "rbt-prog.1", "rbt-prog-load.1", "rbt-prog-show.1"] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let load = &pages[names
            .iter()
            .position(|n| *n == "rbt-prog-load.1")
            .unwrap_or(0)]
        .1;
        let text = String::from_utf8_lossy(load);
        assert!(text.contains(".SH EXAMPLES\n.nf\n"), "{text}");
        assert!(
            text.contains(".SH SYNOPSIS\n.nf\nrbt prog load [OPTIONS] OBJ [PATH] [type TYPE]"),
            "{text}"
        );
        assert!(
            text.contains("rbt prog load examples/xdp_drop.bpf.o"),
            "{text}"
        );
        assert!(text.contains("rbt\\-prog(1)"), "{text}");
    }

    #[test]
    fn roff_lines_are_escaped() {
        assert_eq!(roff_line(".x -j \\n"), "\\&.x \\-j \\en");
    }
}
