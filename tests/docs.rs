// Completions, man pages and installation: the committed files match the clap definitions,
// the scripts load in bash, zsh and fish, the dynamic completer offers live ids and pins the
// way each shell asks for them, man renders every page, and install/uninstall are exact.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{quiet_success, run, PinDir};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rbt_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("rbt")
}

/// PATH with the built rbt first, as an installed rbt would be found by the scripts.
fn path_with_rbt() -> String {
    let dir = rbt_path().parent().expect("binary dir").to_path_buf();
    let old = std::env::var("PATH").unwrap_or_default();
    format!("{}:{old}", dir.display())
}

fn shell(program: &str) -> Command {
    assert!(
        common::which(program).is_some(),
        "{program} is not installed: run `make deps` (it is in DEBIAN_PKGS)"
    );
    let mut cmd = Command::new(program);
    cmd.current_dir(repo()).env("PATH", path_with_rbt());
    cmd
}

fn files_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn committed_completions_and_man_pages_are_up_to_date() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let man = tmp.path().join("man");
    let (code, _, stderr) = run(&["man", &man.display().to_string()]);
    assert_eq!(code, 0, "rbt man: {stderr}");
    let committed = repo().join("man");
    let (want, have) = (files_in(&man), files_in(&committed));
    assert!(
        want.contains("rbt.1") && want.contains("rbt-prog.1") && want.contains("rbt-prog-load.1"),
        "rbt man wrote {want:?}"
    );
    assert_eq!(
        want, have,
        "man/ lists other pages than `rbt man` writes: run `make docs`"
    );
    for page in &want {
        let new = std::fs::read(man.join(page)).expect("new page");
        let old = std::fs::read(committed.join(page)).expect("committed page");
        assert!(new == old, "man/{page} is out of date: run `make docs`");
    }
    for (shell, file) in [("bash", "rbt.bash"), ("zsh", "_rbt"), ("fish", "rbt.fish")] {
        let (code, script, stderr) = run(&["completions", shell]);
        assert_eq!(code, 0, "rbt completions {shell}: {stderr}");
        assert!(script.contains("RBT_COMPLETE"), "{shell}: {script}");
        let committed =
            std::fs::read_to_string(repo().join("completions").join(file)).unwrap_or_default();
        assert!(
            script == committed,
            "completions/{file} is out of date: run `make docs`"
        );
    }
    assert_eq!(
        files_in(&repo().join("completions")),
        ["_rbt", "rbt.bash", "rbt.fish"].map(String::from).into(),
        "completions/ holds stray files: run `make docs`"
    );
}

#[test]
fn bad_docs_arguments_fail_cleanly() {
    let (code, _, stderr) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("tcsh"), "{stderr}");
    let (code, _, stderr) = run(&["man", "/proc/version/man"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.starts_with("Error: creating /proc/version/man"),
        "{stderr}"
    );
    // A completion request for a line that makes no sense offers nothing and succeeds.
    let out = rbt_cmd_complete("bash", &["rbt", "zzz", "id", ""], 3);
    assert!(out.status.success());
}

#[test]
fn version_names_the_libbpf_it_carries() {
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0], format!("rbt {}", env!("CARGO_PKG_VERSION")));
    let libbpf = lines[1]
        .strip_prefix("using libbpf v")
        .unwrap_or_else(|| panic!("{stdout}"));
    let (major, minor) = libbpf.split_once('.').unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(major, "1", "{stdout}");
    assert!(minor.parse::<u32>().is_ok_and(|m| m >= 7), "{stdout}");
}

#[test]
fn libbpf_is_linked_statically() {
    let out = Command::new("ldd").arg(rbt_path()).output().expect("ldd");
    let libs = quiet_success(out, "ldd rbt");
    assert!(
        !libs.contains("libbpf"),
        "rbt needs a shared libbpf:\n{libs}"
    );
    assert!(
        libs.contains("libelf.so"),
        "expected libelf to be dynamic:\n{libs}"
    );
    assert!(
        libs.contains("libz.so"),
        "expected zlib to be dynamic:\n{libs}"
    );
}

#[test]
fn scripts_load_in_bash_zsh_and_fish() {
    let out = shell("bash")
        .args([
            "--norc",
            "-c",
            "source completions/rbt.bash && complete -p rbt",
        ])
        .output()
        .expect("bash");
    let registered = quiet_success(out, "bash sourcing completions/rbt.bash");
    assert!(
        registered.contains("-F _clap_complete_rbt rbt"),
        "{registered}"
    );

    let out = shell("zsh")
        .args([
            "-f",
            "-c",
            "autoload -Uz compinit && compinit -u -D && source completions/_rbt && print -r -- $_comps[rbt]",
        ])
        .output()
        .expect("zsh");
    let registered = quiet_success(out, "zsh sourcing completions/_rbt");
    assert_eq!(registered.trim(), "_clap_dynamic_completer_rbt");

    let out = shell("fish")
        .args([
            "--no-config",
            "-c",
            "source completions/rbt.fish; and complete --command rbt",
        ])
        .output()
        .expect("fish");
    let registered = quiet_success(out, "fish sourcing completions/rbt.fish");
    assert!(registered.contains("RBT_COMPLETE=fish rbt"), "{registered}");
}

/// Ask rbt for candidates directly, with the environment the bash script sets.
fn rbt_cmd_complete(shell: &str, words: &[&str], index: usize) -> Output {
    Command::new(rbt_path())
        .env("RBT_COMPLETE", shell)
        .env("_CLAP_COMPLETE_INDEX", index.to_string())
        .env("_CLAP_IFS", "\n")
        .arg("--")
        .args(words)
        .output()
        .expect("rbt completion")
}

/// bash: call the registered function the way bash's programmable completion does (COMP_*
/// variables, then `func COMMAND WORD PREVIOUS`) and return COMPREPLY.
fn bash_complete(line: &str) -> Vec<String> {
    let mut words: Vec<&str> = line.split(' ').collect();
    let current = words.last().copied().unwrap_or_default();
    let previous = words.len().checked_sub(2).map(|i| words[i]).unwrap_or("");
    let cword = words.len() - 1;
    let quoted: Vec<String> = words.drain(..).map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source completions/rbt.bash\n\
         COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT={point}; COMP_TYPE=9\n\
         _clap_complete_rbt rbt '{current}' '{previous}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = quoted.join(" "),
        point = line.len(),
    );
    let out = shell("bash")
        .args(["--norc", "-c", &script])
        .output()
        .expect("bash");
    quiet_success(out, "bash completion")
        .lines()
        .map(String::from)
        .collect()
}

/// zsh: run the real completion function with `words`/`CURRENT` set as zsh sets them and
/// `_describe` replaced by a stub that prints the `value:help` items it would show.
fn zsh_complete(line: &str) -> Vec<String> {
    let words: Vec<String> = line.split(' ').map(|w| format!("'{w}'")).collect();
    let script = format!(
        "compdef() {{ : }}\n\
         _describe() {{ print -rl -- ${{(P)3}} }}\n\
         source completions/_rbt\n\
         words=({words}); CURRENT={current}\n\
         _clap_dynamic_completer_rbt",
        words = words.join(" "),
        current = words.len(),
    );
    let out = shell("zsh")
        .args(["-f", "-c", &script])
        .output()
        .expect("zsh");
    quiet_success(out, "zsh completion")
        .lines()
        .map(String::from)
        .collect()
}

/// fish: fish's own completion machinery (`complete --do-complete`), `value<TAB>help` lines.
fn fish_complete(line: &str) -> Vec<String> {
    let script = format!("source completions/rbt.fish; complete --do-complete '{line}'");
    let out = shell("fish")
        .args(["--no-config", "-c", &script])
        .output()
        .expect("fish");
    quiet_success(out, "fish completion")
        .lines()
        .map(String::from)
        .collect()
}

/// A map created with bpftool and pinned in the test's own directory.
fn create_map(dir: &PinDir) -> (u64, String, String) {
    let name = format!("rbtcomp{}", std::process::id() % 10_000_000);
    let pin = dir.join("m");
    let out = Command::new("bpftool")
        .args([
            "map", "create", &pin, "type", "hash", "key", "4", "value", "8",
        ])
        .args(["entries", "4", "name", &name])
        .output()
        .expect("bpftool");
    quiet_success(out, "bpftool map create");
    let id = common::bpftool_json(&["-j", "map", "show", "pinned", &pin])["id"]
        .as_u64()
        .expect("map id");
    (id, name, pin)
}

#[test]
fn live_map_ids_and_pins_complete_in_every_shell() {
    require_kernel!("completion of live map ids");
    let dir = PinDir::new();
    let (id, name, pin) = create_map(&dir);
    let id = id.to_string();
    // `prog load OBJ map name X MAP`: the MAP handle after `map ...` is a map's.
    let ids_line = "rbt prog load x.o map name cnt id ";
    let pins_line = format!("rbt p lo x.o map name cnt pinned {}/", dir.path.display());

    let bash = bash_complete(ids_line);
    assert!(bash.contains(&id), "bash offered {bash:?}, not map id {id}");
    assert!(
        bash.iter().all(|c| c.parse::<u32>().is_ok()),
        "bash: only ids: {bash:?}"
    );
    let bash = bash_complete(&pins_line);
    assert_eq!(bash, std::slice::from_ref(&pin), "bash pinned paths");

    let zsh = zsh_complete(ids_line);
    let want = format!("{id}:{name} (hash)");
    assert!(zsh.contains(&want), "zsh offered {zsh:?}, not {want}");
    let zsh = zsh_complete(&pins_line);
    assert_eq!(zsh, [format!("{pin}:map id {id}")], "zsh pinned paths");

    let fish = fish_complete(ids_line);
    let want = format!("{id}\t{name} (hash)");
    assert!(fish.contains(&want), "fish offered {fish:?}, not {want:?}");
    let fish = fish_complete(&pins_line);
    assert_eq!(fish, [format!("{pin}\tmap id {id}")], "fish pinned paths");

    // Names, and a pinned path typed from its directory's prefix.
    let names = fish_complete("rbt prog load x.o map idx 0 name rbtcomp");
    assert!(
        names
            .iter()
            .any(|c| c.starts_with(&format!("{name}\tid {id}"))),
        "{names:?}"
    );
    let dir_prefix = dir.path.display().to_string();
    let partial = &dir_prefix[..dir_prefix.len() - 1];
    let dirs = bash_complete(&format!("rbt prog load x.o map idx 0 pinned {partial}"));
    assert!(dirs.contains(&format!("{dir_prefix}/")), "{dirs:?}");
    eprintln!("bash: {ids_line}<TAB> -> {:?}", bash_complete(ids_line));
    eprintln!("zsh:  {ids_line}<TAB> -> {:?}", zsh_complete(ids_line));
}

#[test]
fn keywords_and_type_names_complete() {
    assert_eq!(
        bash_complete("rbt prog show "),
        ["id", "pinned", "name", "tag"]
    );
    assert_eq!(bash_complete("rbt pro"), ["prog"]);
    let verbs = bash_complete("rbt p ");
    for verb in ["show", "pin", "load", "loadall"] {
        assert!(verbs.contains(&verb.to_string()), "{verbs:?}");
    }
    assert!(!verbs.contains(&"list".to_string()), "{verbs:?}");
    assert_eq!(bash_complete("rbt prog li"), ["list"]);
    assert_eq!(
        bash_complete("rbt prog load x.o /sys/fs/bpf/x type xd"),
        ["xdp"]
    );
    assert_eq!(
        bash_complete("rbt prog load x.o "),
        ["type", "map", "pinmaps", "autoattach"]
    );
    let flags = bash_complete("rbt prog show --j");
    assert_eq!(flags, ["--json"]);
    let ifaces = fish_complete("rbt prog load x.o dev l");
    assert!(ifaces.contains(&"lo".to_string()), "{ifaces:?}");
}

#[test]
fn every_man_page_renders() {
    assert!(
        common::which("man").is_some(),
        "man is not installed: run `make deps`"
    );
    let pages = files_in(&repo().join("man"));
    assert!(pages.contains("rbt-prog.1"), "{pages:?}");
    for page in &pages {
        let out = Command::new("man")
            .arg("-l")
            .arg(repo().join("man").join(page))
            .env("MANWIDTH", "100")
            .env("MAN_KEEP_FORMATTING", "")
            .output()
            .expect("man");
        let text = quiet_success(out, &format!("man -l man/{page}"));
        let stem = page.trim_end_matches(".1");
        assert!(
            text.contains("NAME") && text.contains(stem),
            "man/{page}:\n{text}"
        );
        assert!(text.contains("SEE ALSO"), "man/{page}:\n{text}");
    }
    let out = Command::new("man")
        .arg("-l")
        .arg(repo().join("man/rbt-prog-load.1"))
        .output()
        .expect("man");
    let text = quiet_success(out, "man -l man/rbt-prog-load.1");
    assert!(text.contains("EXAMPLES"), "{text}");
    assert!(
        text.contains("rbt prog load examples/xdp_drop.bpf.o"),
        "{text}"
    );
}

fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn make(args: &[&str], destdir: &Path) -> String {
    let out = Command::new("make")
        .current_dir(repo())
        // `-o build`: install the binary these tests built instead of a release build.
        .args(["-s", "-o", "build"])
        .args(args)
        .arg(format!("DESTDIR={}", destdir.display()))
        .arg("PREFIX=/usr/local")
        .arg(format!("RBT={}", rbt_path().display()))
        .output()
        .expect("make");
    quiet_success(out, &format!("make {args:?}"))
}

#[test]
fn install_and_uninstall_are_exact() {
    assert!(common::which("make").is_some(), "make is not installed");
    let tmp = tempfile::tempdir().expect("tempdir");
    make(&["install"], tmp.path());
    let prefix = tmp.path().join("usr/local");
    let installed = all_files(tmp.path());
    let pages = files_in(&repo().join("man"));
    let mut want: Vec<PathBuf> = pages
        .iter()
        .map(|p| prefix.join("share/man/man1").join(p))
        .collect();
    want.push(prefix.join("bin/rbt"));
    want.push(prefix.join("share/bash-completion/completions/rbt"));
    want.push(prefix.join("share/zsh/site-functions/_rbt"));
    want.push(prefix.join("share/fish/vendor_completions.d/rbt.fish"));
    want.sort();
    assert_eq!(installed, want);
    let out = Command::new(prefix.join("bin/rbt"))
        .arg("--version")
        .output()
        .expect("installed rbt");
    assert!(quiet_success(out, "installed rbt --version").starts_with("rbt "));
    let out = Command::new("man")
        .arg("--manpath")
        .arg(prefix.join("share/man"))
        .args(["-w", "rbt-prog-load"])
        .output()
        .expect("man -w");
    let found = quiet_success(out, "man -w rbt-prog-load");
    assert_eq!(
        found.trim(),
        prefix
            .join("share/man/man1/rbt-prog-load.1")
            .display()
            .to_string()
    );
    installed_scripts_are_found_by_each_shell(&prefix);
    make(&["uninstall"], tmp.path());
    assert_eq!(
        all_files(tmp.path()),
        Vec::<PathBuf>::new(),
        "uninstall left files"
    );
}

#[test]
fn completing_never_mounts_bpffs() {
    require_kernel!("completion without bpffs");
    // In a private mount namespace without a bpffs at /sys/fs/bpf (every stacked mount there
    // is removed until no bpffs is left), complete pins and ids, then check that no bpffs
    // was mounted there.
    let rbt = rbt_path().display().to_string();
    let script = format!(
        "while grep -q ' /sys/fs/bpf bpf ' /proc/self/mounts; do umount /sys/fs/bpf || exit 3; done\n\
         for line in 'rbt prog show pinned /sys/fs/bpf/' 'rbt prog load x.o map name c id ' \
                     'rbt prog pin id 1 '; do\n\
           set -- $line ''\n\
           RBT_COMPLETE=fish {rbt} -- \"$@\" >/dev/null || exit 4\n\
         done\n\
         grep -c ' /sys/fs/bpf bpf ' /proc/self/mounts"
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "bpffs was mounted by a completion ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Each shell finds the installed script by its own lookup (bash-completion's loader, zsh's
/// $fpath, fish's vendor directory) and completes with it at the first TAB.
fn installed_scripts_are_found_by_each_shell(prefix: &Path) {
    let share = prefix.join("share");
    let path = format!("{}:{}", prefix.join("bin").display(), path_with_rbt());
    let loader = "/usr/share/bash-completion/bash_completion";
    assert!(
        Path::new(loader).exists(),
        "bash-completion is not installed: run `make deps`"
    );
    let script = format!(
        "source {loader}\n\
         XDG_DATA_DIRS={} __load_completion rbt || exit 3\n\
         COMP_WORDS=(rbt pro); COMP_CWORD=1; COMP_LINE='rbt pro'; COMP_POINT=7\n\
         _clap_complete_rbt rbt pro rbt\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        share.display()
    );
    let out = shell("bash")
        .env("PATH", &path)
        .args(["--norc", "-c", &script])
        .output()
        .expect("bash");
    assert_eq!(
        quiet_success(out, "bash loading the installed script").trim(),
        "prog"
    );

    // zsh autoloads _rbt from $fpath and runs it at the first TAB: it must complete then.
    let script = format!(
        "fpath=({} $fpath); autoload -Uz compinit; compinit -u -D\n\
         print -r -- $_comps[rbt]\n\
         _describe() {{ print -rl -- ${{(P)3}} }}\n\
         words=(rbt pro); CURRENT=2\n\
         $_comps[rbt]",
        share.join("zsh/site-functions").display()
    );
    let out = shell("zsh")
        .env("PATH", &path)
        .args(["-f", "-c", &script])
        .output()
        .expect("zsh");
    let lines: Vec<String> = quiet_success(out, "zsh autoloading _rbt")
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines, ["_rbt", "prog:Inspect, load and pin BPF programs"]);

    let script = format!(
        "set fish_complete_path {} $fish_complete_path; complete --do-complete 'rbt pro'",
        share.join("fish/vendor_completions.d").display()
    );
    let out = shell("fish")
        .env("PATH", &path)
        .args(["--no-config", "-c", &script])
        .output()
        .expect("fish");
    let found = quiet_success(out, "fish loading the installed script");
    assert!(found.starts_with("prog\t"), "{found}");
}

#[test]
fn usage_errors_are_one_line_exit_2_and_json_with_j() {
    for (args, needle) in [
        (
            vec!["prog", "show", "id", "1", "id", "2"],
            "expected the end of the line, found `id`",
        ),
        (
            vec!["net", "attach", "xdp", "id", "7", "xyz"],
            "found `xyz`",
        ),
        (vec!["net", "attach", "xdp", "id", "7"], "expected `dev IF`"),
        (
            vec![
                "map", "update", "id", "1", "key", "1", "value", "2", "any", "exist",
            ],
            "one UPDATE_FLAGS only",
        ),
        (
            vec!["prog", "show", "--bogus"],
            "unexpected argument '--bogus'",
        ),
        (
            vec!["prog", "zzz"],
            "unrecognized subcommand 'zzz'; see `rbt prog --help`",
        ),
    ] {
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one Error: line: {stderr}");
        assert!(
            lines[0].starts_with("Error: ") && lines[0].contains(needle),
            "{args:?}: {stderr}"
        );
        let mut json_args = vec!["-j"];
        json_args.extend(&args);
        let (code, stdout, _) = run(&json_args);
        assert_eq!(code, 2, "{json_args:?}");
        let v: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{json_args:?}: not JSON ({e}): {stdout}"));
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains(needle)),
            "{json_args:?}: {stdout}"
        );
    }
}
