// The three shapes of a `feature probe` report (bpftool's JSON keys, a table of rows, and
// bpftool's `macros` #define lines), and the `version` record.

use anyhow::Result;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{Options, Report};
use crate::output::{Output, Tabular};

pub fn emit(report: &Report, opts: &Options, out: &mut Output) -> Result<()> {
    if out.is_json() {
        out.json(&to_json(report))?;
    } else if let Some(prefix) = &opts.macros {
        out.raw(macros(report, prefix).as_bytes())?;
    } else {
        out.list(&rows(report))?;
    }
    Ok(())
}

fn bools(items: &[(&str, bool)], key: impl Fn(&str) -> String) -> Value {
    Value::Object(
        items
            .iter()
            .map(|(name, yes)| (key(name), Value::Bool(*yes)))
            .collect(),
    )
}

/// bpftool's `-j feature probe` document, then rbt's sections.
pub fn to_json(r: &Report) -> Value {
    let mut doc = Map::new();
    if let Some((sysctls, config)) = &r.system {
        let mut sys = Map::new();
        for (key, value) in sysctls {
            sys.insert((*key).to_owned(), json!(value));
        }
        for (name, value) in config {
            sys.insert((*name).to_owned(), json!(value));
        }
        doc.insert("system_config".into(), Value::Object(sys));
    }
    doc.insert(
        "syscall_config".into(),
        json!({ "have_bpf_syscall": r.syscall }),
    );
    if !r.syscall {
        return Value::Object(doc);
    }
    doc.insert(
        "program_types".into(),
        bools(&r.prog_types, |n| format!("have_{n}_prog_type")),
    );
    doc.insert(
        "map_types".into(),
        bools(&r.map_types, |n| format!("have_{n}_map_type")),
    );
    let helpers: Map<String, Value> = r
        .helpers
        .iter()
        .map(|(ptype, list)| {
            let names: Vec<&str> = list.iter().filter(|(_, y)| *y).map(|(n, _)| *n).collect();
            (format!("{ptype}_available_helpers"), json!(names))
        })
        .collect();
    doc.insert("helpers".into(), Value::Object(helpers));
    let misc: Map<String, Value> = r
        .misc
        .iter()
        .map(|(key, _, yes)| ((*key).to_owned(), Value::Bool(*yes)))
        .collect();
    doc.insert("misc".into(), Value::Object(misc));
    if let Some(live) = &r.live {
        doc.insert(
            "link_types".into(),
            bools(&live.link_types, |n| format!("have_{n}_link_type")),
        );
        doc.insert(
            "attach_types".into(),
            bools(&live.attach_types, |n| format!("have_{n}_attach_type")),
        );
        let checks: Map<String, Value> = live
            .checks
            .iter()
            .map(|(name, c)| {
                let v = json!({ "available": c.available, "detail": c.detail });
                ((*name).to_owned(), v)
            })
            .collect();
        doc.insert("live_probes".into(), Value::Object(checks));
    }
    Value::Object(doc)
}

/// One line of the table view.
#[derive(Debug, Serialize)]
pub struct FeatureRow {
    pub section: &'static str,
    pub feature: String,
    pub value: String,
}

impl Tabular for FeatureRow {
    fn header() -> &'static [&'static str] {
        &["SECTION", "FEATURE", "VALUE"]
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.section.to_owned(),
            self.feature.clone(),
            self.value.clone(),
        ]
    }
}

fn yes_no(yes: bool) -> String {
    if yes { "yes" } else { "no" }.to_owned()
}

fn rows(r: &Report) -> Vec<FeatureRow> {
    let mut rows = Vec::new();
    let mut push = |section, feature: &str, value: String| {
        rows.push(FeatureRow {
            section,
            feature: feature.to_owned(),
            value,
        })
    };
    if let Some((sysctls, config)) = &r.system {
        for (key, value) in sysctls {
            let v = if *value < 0 {
                "unreadable".to_owned()
            } else {
                value.to_string()
            };
            push("system", key, v);
        }
        for (name, value) in config {
            push("config", name, value.clone().unwrap_or("not set".into()));
        }
    }
    push("syscall", "bpf() syscall", yes_no(r.syscall));
    for (name, yes) in &r.prog_types {
        push("prog_type", name, yes_no(*yes));
    }
    for (name, yes) in &r.map_types {
        push("map_type", name, yes_no(*yes));
    }
    for (ptype, list) in &r.helpers {
        let names: Vec<&str> = list.iter().filter(|(_, y)| *y).map(|(n, _)| *n).collect();
        let value = if names.is_empty() {
            "none".to_owned()
        } else {
            format!("{}: {}", names.len(), names.join(" "))
        };
        push("helpers", ptype, value);
    }
    for (key, _, yes) in &r.misc {
        push("misc", key.trim_start_matches("have_"), yes_no(*yes));
    }
    if let Some(live) = &r.live {
        for (name, yes) in &live.link_types {
            push("link_type", name, yes_no(*yes));
        }
        for (name, yes) in &live.attach_types {
            push("attach_type", name, yes_no(*yes));
        }
        for (name, c) in &live.checks {
            push(
                "live",
                name,
                format!("{} ({})", yes_no(c.available), c.detail),
            );
        }
    }
    rows
}

/// bpftool's `feature probe macros [prefix P]` text, line for line.
pub fn macros(r: &Report, p: &str) -> String {
    let mut t = String::new();
    let flag = |t: &mut String, yes: bool, name: &str| {
        let no = if yes { "" } else { "NO_" };
        t.push_str(&format!("#define {p}{no}HAVE_{}\n", name.to_uppercase()));
    };
    if let Some((_, config)) = &r.system {
        t.push_str("/*** Misc kernel config items ***/\n");
        for (name, value) in config {
            let dumped = super::system::CONFIG_OPTIONS
                .iter()
                .any(|(n, m)| n == name && *m);
            match (dumped, value) {
                (false, _) => {}
                (true, Some(v)) => t.push_str(&format!("#define {p}{name} {v}\n")),
                (true, None) => t.push_str(&format!("/* {p}{name} is not set */\n")),
            }
        }
        t.push('\n');
    }
    t.push_str("/*** System call availability ***/\n");
    flag(&mut t, r.syscall, "BPF_SYSCALL");
    t.push('\n');
    if !r.syscall {
        return t;
    }
    t.push_str("/*** eBPF program types ***/\n");
    for (name, yes) in &r.prog_types {
        flag(&mut t, *yes, &format!("{name}_prog_type"));
    }
    t.push_str("\n/*** eBPF map types ***/\n");
    for (name, yes) in &r.map_types {
        flag(&mut t, *yes, &format!("{name}_map_type"));
    }
    t.push_str("\n/*** eBPF helper functions ***/\n");
    for line in [
        "/*".to_owned(),
        format!(" * Use {p}HAVE_PROG_TYPE_HELPER(prog_type_name, helper_name)"),
        " * to determine if <helper_name> is available for <prog_type_name>,".to_owned(),
        " * e.g.".to_owned(),
        format!(" *\t#if {p}HAVE_PROG_TYPE_HELPER(xdp, bpf_redirect)"),
        " *\t\t// do stuff with this helper".to_owned(),
        " *\t#elif".to_owned(),
        " *\t\t// use a workaround".to_owned(),
        " *\t#endif".to_owned(),
        " */".to_owned(),
        format!("#define {p}HAVE_PROG_TYPE_HELPER(prog_type, helper)\t\\"),
        format!("\t{p}BPF__PROG_TYPE_ ## prog_type ## __HELPER_ ## helper"),
    ] {
        t.push_str(&line);
        t.push('\n');
    }
    for (ptype, list) in &r.helpers {
        for (helper, yes) in list {
            let v = u8::from(*yes);
            t.push_str(&format!(
                "#define {p}BPF__PROG_TYPE_{ptype}__HELPER_{helper} {v}\n"
            ));
        }
    }
    t.push_str("\n/*** eBPF misc features ***/\n");
    for (_, define, yes) in &r.misc {
        flag(&mut t, *yes, define);
    }
    t.push('\n');
    t
}

/// `rbt version`: bpftool's `version` fields for rbt.
#[derive(Debug, Serialize)]
pub struct VersionRecord {
    pub version: String,
    pub libbpf_version: String,
    pub features: Map<String, Value>,
}

pub fn version(words: &[String], out: &mut Output) -> Result<()> {
    crate::grammar::parse("version", "", words)?;
    let (major, minor) = crate::bpf::libbpf_version();
    let mut features = Map::new();
    for (name, on) in [
        ("libbfd", false),
        ("llvm", false),
        ("libbpf_strict", true),
        ("skeletons", false),
    ] {
        features.insert(name.into(), Value::Bool(on));
    }
    let rec = VersionRecord {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        libbpf_version: format!("{major}.{minor}"),
        features,
    };
    if out.is_json() {
        out.json(&rec)?;
    } else {
        let on: Vec<&str> = rec
            .features
            .iter()
            .filter(|(_, v)| v.as_bool() == Some(true))
            .map(|(k, _)| k.as_str())
            .collect();
        let text = format!(
            "rbt v{}\nusing libbpf v{}\nfeatures: {}",
            rec.version,
            rec.libbpf_version,
            on.join(", ")
        );
        out.done(Some(&text))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macros_read_like_bpftool() {
        let r = Report {
            syscall: true,
            prog_types: vec![("xdp", true), ("lsm", false)],
            map_types: vec![("hash", true)],
            helpers: vec![("xdp", vec![("bpf_redirect", true), ("bpf_sys_bpf", false)])],
            misc: vec![("have_bounded_loops", "BOUNDED_LOOPS", true)],
            ..Report::default()
        };
        let text = macros(&r, "P_");
        assert!(text.contains("#define P_HAVE_XDP_PROG_TYPE\n#define P_NO_HAVE_LSM_PROG_TYPE\n"));
        assert!(text.contains("#define P_BPF__PROG_TYPE_xdp__HELPER_bpf_sys_bpf 0\n"));
        assert!(text.ends_with("#define P_HAVE_BOUNDED_LOOPS\n\n"));
        let doc = to_json(&r);
        assert_eq!(
            doc["helpers"]["xdp_available_helpers"],
            json!(["bpf_redirect"])
        );
        assert_eq!(doc["program_types"]["have_lsm_prog_type"], json!(false));
    }
}
