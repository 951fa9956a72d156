// Writing BTF: a new blob, or an object's blob extended with more types (the map
// definitions rbt synthesises for legacy `maps` sections).

use anyhow::{bail, Result};

use super::BTF_MAGIC;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;

/// BTF_VAR_GLOBAL_ALLOCATED: what libbpf wants of a map's VAR.
pub const VAR_GLOBAL: u32 = 1;

/// A BTF blob under construction: type records (record i is type id i + 1) and strings.
pub struct Writer {
    records: Vec<Vec<u8>>,
    strings: Vec<u8>,
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            records: Vec::new(),
            strings: vec![0],
        }
    }
}

impl Writer {
    /// Continue an existing blob: its types keep their ids, new ones come after them.
    pub fn extend(raw: &[u8]) -> Result<Writer> {
        let (records, strings) = super::read::records(raw)?;
        if strings.first() != Some(&0) {
            bail!("BTF string section does not start with an empty string");
        }
        Ok(Writer { records, strings })
    }

    /// The id the next type gets.
    pub fn next_id(&self) -> u32 {
        self.records.len() as u32 + 1
    }

    fn name(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        off
    }

    fn record(
        &mut self,
        name: &str,
        kind: u32,
        vlen: u32,
        size_or_type: u32,
        rest: &[u32],
    ) -> Vec<u8> {
        let mut rec = Vec::with_capacity(12 + rest.len() * 4);
        let name = self.name(name);
        for w in [name, (kind << 24) | vlen, size_or_type]
            .iter()
            .chain(rest.iter())
        {
            rec.extend_from_slice(&w.to_le_bytes());
        }
        rec
    }

    fn push(&mut self, rec: Vec<u8>) -> u32 {
        self.records.push(rec);
        self.records.len() as u32
    }

    /// A signed or unsigned integer of `size` bytes.
    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let enc = if signed { 1u32 << 24 } else { 0 };
        let rec = self.record(name, KIND_INT, 0, size, &[enc | (size * 8)]);
        self.push(rec)
    }

    pub fn ptr(&mut self, target: u32) -> u32 {
        let rec = self.record("", KIND_PTR, 0, target, &[]);
        self.push(rec)
    }

    pub fn array(&mut self, elem: u32, index: u32, len: u32) -> u32 {
        let rec = self.record("", KIND_ARRAY, 0, 0, &[elem, index, len]);
        self.push(rec)
    }

    /// A struct of `size` bytes; members are (name, type, byte offset).
    pub fn structure(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        let mut rest = Vec::with_capacity(members.len() * 3);
        for (n, t, off) in members {
            rest.extend([self.name(n), *t, off * 8]);
        }
        let rec = self.record(name, KIND_STRUCT, members.len() as u32, size, &rest);
        self.push(rec)
    }

    pub fn var(&mut self, name: &str, target: u32, linkage: u32) -> u32 {
        let rec = self.record(name, KIND_VAR, 0, target, &[linkage]);
        self.push(rec)
    }

    /// A DATASEC; vars are (VAR id, offset, size). With `replace`, it takes that type id's
    /// place (a section's DATASEC given more variables) instead of a new id.
    pub fn datasec(
        &mut self,
        name: &str,
        size: u32,
        vars: &[(u32, u32, u32)],
        replace: Option<u32>,
    ) -> Result<u32> {
        let rest: Vec<u32> = vars.iter().flat_map(|v| [v.0, v.1, v.2]).collect();
        let rec = self.record(name, KIND_DATASEC, vars.len() as u32, size, &rest);
        match replace {
            Some(id) => {
                let Some(slot) = (id as usize)
                    .checked_sub(1)
                    .and_then(|i| self.records.get_mut(i))
                else {
                    bail!("BTF type id {id} does not exist");
                };
                *slot = rec;
                Ok(id)
            }
            None => Ok(self.push(rec)),
        }
    }

    /// The raw blob: header, type section, string section.
    pub fn finish(&self) -> Vec<u8> {
        let types_len: usize = self.records.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(24 + types_len + self.strings.len());
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for v in [
            24u32,
            0,
            types_len as u32,
            types_len as u32,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for rec in &self.records {
            out.extend_from_slice(rec);
        }
        out.extend_from_slice(&self.strings);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Btf, Type};
    use super::*;

    #[test]
    fn new_blob_reads_back() {
        let mut w = Writer::default();
        let int = w.int("int", 4, true);
        let arr = w.array(int, int, 7);
        let p = w.ptr(arr);
        let st = w.structure("", 8, &[("type", p, 0)]);
        let v = w.var("m", st, VAR_GLOBAL);
        let ds = w.datasec(".maps", 8, &[(v, 0, 8)], None).unwrap();
        let btf = Btf::from_raw(&w.finish()).unwrap();
        assert_eq!(btf.name_of(int), "int");
        assert!(matches!(btf.get(arr).unwrap(), Type::Array { len: 7, .. }));
        let vars = btf.datasec_vars(ds);
        assert_eq!(vars.len(), 1);
        assert_eq!(vars[0].name, "m");
        assert_eq!(vars[0].ty, st);
        assert_eq!(btf.size_of(st).unwrap(), 8);
    }

    #[test]
    fn extended_blob_keeps_ids_and_replaces_a_datasec() {
        let mut w = Writer::default();
        let int = w.int("int", 4, true);
        let v1 = w.var("a", int, VAR_GLOBAL);
        let ds = w.datasec(".maps", 4, &[(v1, 0, 4)], None).unwrap();
        let raw = w.finish();
        let mut w = Writer::extend(&raw).unwrap();
        assert_eq!(w.next_id(), ds + 1);
        let v2 = w.var("b", int, VAR_GLOBAL);
        w.datasec(".maps", 8, &[(v1, 0, 4), (v2, 4, 4)], Some(ds))
            .unwrap();
        let btf = Btf::from_raw(&w.finish()).unwrap();
        assert_eq!(btf.name_of(int), "int");
        let names: Vec<String> = btf
            .datasec_vars(ds)
            .into_iter()
            .map(|v| v.name.to_string())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert!(w.datasec(".maps", 0, &[], Some(999)).is_err());
    }

    #[test]
    fn extending_garbage_fails() {
        assert!(Writer::extend(b"not btf at all, not at all").is_err());
    }
}
