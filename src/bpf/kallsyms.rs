// Kernel symbols from /proc/kallsyms, by exact address: how `prog dump` names helper and
// kfunc calls and the JITed functions of a program (as bpftool's kernel_syms_search).

use std::collections::HashMap;

use anyhow::{Context, Result};

/// Every symbol's address and name, plus `__bpf_call_base`, which call immediates in the
/// translated instructions are relative to.
#[derive(Debug, Default)]
pub struct Kallsyms {
    by_addr: HashMap<u64, String>,
    pub call_base: u64,
}

impl Kallsyms {
    /// Read /proc/kallsyms (addresses are zero without root: then nothing is named).
    pub fn load() -> Result<Kallsyms> {
        let text = std::fs::read_to_string("/proc/kallsyms").context("reading /proc/kallsyms")?;
        Ok(Kallsyms::parse(&text))
    }

    pub fn parse(text: &str) -> Kallsyms {
        let mut syms = Kallsyms::default();
        for line in text.lines() {
            let mut parts = line.split_ascii_whitespace();
            let (Some(addr), Some(_kind), Some(name)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            if addr == 0 {
                continue;
            }
            if name == "__bpf_call_base" {
                syms.call_base = addr;
            }
            // The first name at an address wins, as bpftool's sorted search finds it.
            syms.by_addr.entry(addr).or_insert_with(|| name.to_owned());
        }
        syms
    }

    pub fn name(&self, addr: u64) -> Option<&str> {
        self.by_addr.get(&addr).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_and_call_base() {
        let k = Kallsyms::parse(
            "ffffffff81000000 T _stext\nffffffff81200000 T __bpf_call_base\n\
             ffffffff81200010 T bpf_map_lookup_elem\nffffffffc0001000 t bpf_prog_abc_f\t[bpf]\n\
             0000000000000000 T hidden\n",
        );
        assert_eq!(k.call_base, 0xffffffff81200000);
        assert_eq!(k.name(0xffffffff81200010), Some("bpf_map_lookup_elem"));
        assert_eq!(k.name(0xffffffffc0001000), Some("bpf_prog_abc_f"));
        assert_eq!(k.name(0), None);
    }
}
