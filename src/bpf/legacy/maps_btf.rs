// BTF map definitions for legacy maps: one `.maps` variable per map, in the shape libbpf
// reads (`int (*type)[T]`, `key`/`value` types or sizes, `values[]` for maps of maps),
// added to the object's BTF (or to new BTF) and to its `.maps` DATASEC.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};

use super::defs::{inner_of, LegacyMap};
use crate::btf::write::{Writer, VAR_GLOBAL};
use crate::btf::{Btf, Type};

/// libbpf's LIBBPF_PIN_BY_NAME.
const PIN_BY_NAME: u32 = 1;
/// The most slots a map-in-map definition may fill at load time through `values[]`.
const MAX_SLOT: u32 = 1 << 16;

/// Where a legacy map's definition went in `.maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub name: String,
    pub offset: u64,
    pub size: u64,
}

/// The new BTF, the placement of each map, and the `.rel.maps` entries that put an inner
/// map into its outer map's slot: (offset in `.maps`, inner map's name).
pub struct Synth {
    pub btf: Vec<u8>,
    pub placed: Vec<Placed>,
    pub slots: Vec<(u64, String)>,
}

struct Defs<'a> {
    w: Writer,
    int: u32,
    /// `int (*)[N]` by N.
    numbers: HashMap<u32, u32>,
    /// Key and value types from iproute2's `____btf_map_NAME` annotation.
    annotated: &'a dyn Fn(&str) -> Option<(u32, u32)>,
}

impl Defs<'_> {
    fn number(&mut self, n: u32) -> u32 {
        if let Some(id) = self.numbers.get(&n) {
            return *id;
        }
        let arr = self.w.array(self.int, self.int, n);
        let id = self.w.ptr(arr);
        self.numbers.insert(n, id);
        id
    }

    /// The members of a map's definition struct, 8 bytes each.
    fn members(&mut self, m: &LegacyMap, by_name: bool) -> Vec<(&'static str, u32)> {
        let mut out = vec![("type", self.number(m.map_type))];
        match (self.annotated)(&m.name) {
            Some((key, value)) => {
                let k = self.w.ptr(key);
                let v = self.w.ptr(value);
                out.push(("key", k));
                out.push(("value", v));
            }
            None => {
                out.push(("key_size", self.number(m.key_size)));
                out.push(("value_size", self.number(m.value_size)));
            }
        }
        out.push(("max_entries", self.number(m.max_entries)));
        if m.flags != 0 {
            out.push(("map_flags", self.number(m.flags)));
        }
        if by_name {
            out.push(("pinning", self.number(PIN_BY_NAME)));
        }
        out
    }

    fn structure(&mut self, members: &[(&str, u32)], values: Option<u32>) -> (u32, u64) {
        let mut list: Vec<(&str, u32, u32)> = members
            .iter()
            .enumerate()
            .map(|(i, (n, t))| (*n, *t, i as u32 * 8))
            .collect();
        let size = list.len() as u32 * 8;
        if let Some(v) = values {
            list.push(("values", v, size));
        }
        (self.w.structure("", size, &list), size as u64)
    }
}

/// The key and value types iproute2's BPF_ANNOTATE_KV_PAIR left for a map, when their
/// sizes agree with the definition.
fn annotation(btf: &Btf, m: &LegacyMap) -> Option<(u32, u32)> {
    let id = btf.find_by_name(&format!("____btf_map_{}", m.name))?;
    let Ok(Type::Struct(c)) = btf.get(id) else {
        return None;
    };
    let find = |n: &str| c.members.iter().find(|x| x.name == n).map(|x| x.ty);
    let (key, value) = (find("key")?, find("value")?);
    let fits = |t: u32, size: u32| btf.size_of(t).ok() == Some(size as usize);
    (fits(key, m.key_size) && fits(value, m.value_size)).then_some((key, value))
}

/// clang's DATASEC of the legacy `maps` section (with -g) names a section that the rewrite
/// renames: give it its size and each variable its offset, so libbpf takes it as settled
/// instead of looking for the section, and the kernel accepts it.
fn settle_legacy_datasec(
    w: &mut Writer,
    btf: &Btf,
    maps: &[LegacyMap],
    legacy_size: u64,
) -> Result<()> {
    let Some(id) = btf.find_by_name("maps") else {
        return Ok(());
    };
    let Ok(Type::Datasec { vars, .. }) = btf.get(id) else {
        return Ok(());
    };
    let entry = legacy_size / (maps.len().max(1) as u64);
    let mut settled: Vec<(u32, u32, u32)> = Vec::new();
    for v in vars {
        let offset = maps
            .iter()
            .find(|m| m.name == v.name)
            .map(|m| m.offset)
            .with_context(|| format!("BTF variable {} of `maps` is no map symbol", v.name))?;
        let offset = u32::try_from(offset).context("`maps` section too large")?;
        settled.push((v.var, offset, entry as u32));
    }
    settled.sort_by_key(|v| v.1);
    let size = u32::try_from(legacy_size).context("`maps` section too large")?;
    w.datasec("maps", size.max(1), &settled, Some(id))?;
    Ok(())
}

/// Build the BTF. `existing` is the object's `.BTF`; `base` is where the legacy maps start
/// in `.maps` (after what the section already holds); `by_name` says which maps libbpf pins
/// by name; `legacy_size` is the size of the legacy `maps` section.
pub fn synthesise(
    existing: Option<&[u8]>,
    maps: &[LegacyMap],
    by_name: &dyn Fn(&LegacyMap) -> bool,
    base: u64,
    legacy_size: u64,
) -> Result<Synth> {
    let parsed = existing
        .map(Btf::from_raw)
        .transpose()
        .context("reading the object's BTF")?;
    let mut w = match existing {
        Some(raw) => Writer::extend(raw)?,
        None => Writer::default(),
    };
    // The object's own `.maps` DATASEC, if it has BTF-defined maps too.
    let mut old_vars = Vec::new();
    let mut old_sec: Option<(u32, u32)> = None;
    if let Some(btf) = &parsed {
        if let Some(id) = btf.find_by_name(".maps") {
            if let Ok(Type::Datasec { size, vars, .. }) = btf.get(id) {
                for m in maps {
                    if vars.iter().any(|v| v.name == m.name) {
                        bail!(
                            "map {0} is defined twice: in the legacy `maps` section and in `.maps` (BTF-defined map {0}); rename one",
                            m.name
                        );
                    }
                }
                old_vars = vars.iter().map(|v| (v.var, v.offset, v.size)).collect();
                old_sec = Some((id, *size));
            }
        }
    }
    if let Some(btf) = &parsed {
        settle_legacy_datasec(&mut w, btf, maps, legacy_size)?;
    }
    let int = w.int("int", 4, true);
    let annotated = |name: &str| {
        let btf = parsed.as_ref()?;
        let m = maps.iter().find(|m| m.name == name)?;
        annotation(btf, m)
    };
    let mut defs = Defs {
        w,
        int,
        numbers: HashMap::new(),
        annotated: &annotated,
    };
    let mut placed = Vec::new();
    let mut slots = Vec::new();
    let mut vars = old_vars;
    let mut at = base;
    for m in maps {
        let members = defs.members(m, by_name(m));
        let (values, slot) = match inner_of(maps, m) {
            Some(inner) => {
                let inner_members = defs.members(inner, false);
                let inner_members: Vec<_> = inner_members
                    .into_iter()
                    .filter(|(n, _)| *n != "pinning")
                    .collect();
                let (inner_def, _) = defs.structure(&inner_members, None);
                let p = defs.w.ptr(inner_def);
                let arr = defs.w.array(p, defs.int, 0);
                let slot = (inner.inner_idx != u32::MAX).then_some(inner.inner_idx);
                if let Some(s) = slot {
                    if s >= m.max_entries.min(MAX_SLOT) {
                        bail!(
                            "map {}: its inner map {} goes to slot {s} (inner_idx), past the {} entries of {}",
                            m.name,
                            inner.name,
                            m.max_entries,
                            m.name
                        );
                    }
                }
                (Some(arr), slot.map(|s| (s, inner.name.clone())))
            }
            None => (None, None),
        };
        let (def, def_size) = defs.structure(&members, values);
        let size = match &slot {
            Some((s, inner)) => {
                slots.push((at + def_size + 8 * *s as u64, inner.clone()));
                def_size + 8 * (*s as u64 + 1)
            }
            None => def_size,
        };
        let var = defs.w.var(&m.name, def, VAR_GLOBAL);
        let offset = u32::try_from(at).context("`.maps` section too large")?;
        vars.push((var, offset, size as u32));
        placed.push(Placed {
            name: m.name.clone(),
            offset: at,
            size,
        });
        at += size;
    }
    let mut w = defs.w;
    match old_sec {
        // clang leaves a DATASEC's size 0 and libbpf takes offsets from the ELF symbols.
        Some((id, 0)) => w.datasec(".maps", 0, &vars, Some(id))?,
        Some((id, _)) => w.datasec(".maps", at as u32, &vars, Some(id))?,
        None => w.datasec(".maps", at as u32, &vars, None)?,
    };
    Ok(Synth {
        btf: w.finish(),
        placed,
        slots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(name: &str, t: u32, id: u32, inner_id: u32, inner_idx: u32) -> LegacyMap {
        LegacyMap {
            name: name.into(),
            offset: 0,
            map_type: t,
            key_size: 4,
            value_size: 8,
            max_entries: 4,
            flags: 0,
            id,
            pinning: 0,
            inner_id,
            inner_idx,
        }
    }

    #[test]
    fn new_btf_describes_each_map() {
        let maps = [map("counts", 2, 0, 0, 0), map("hits", 1, 0, 0, 0)];
        let s = synthesise(None, &maps, &|m| m.name == "hits", 0, 0).unwrap();
        let btf = Btf::from_raw(&s.btf).unwrap();
        let ds = btf.find_by_name(".maps").unwrap();
        let vars = btf.datasec_vars(ds);
        let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["counts", "hits"]);
        assert_eq!(s.placed[0].size, 32);
        assert_eq!(s.placed[1].offset, 32);
        assert_eq!(s.placed[1].size, 40, "hits has a pinning member");
        let Type::Struct(def) = btf.get(vars[1].ty).unwrap() else {
            panic!("not a struct")
        };
        let member_names: Vec<&str> = def.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            member_names,
            ["type", "key_size", "value_size", "max_entries", "pinning"]
        );
        let Type::Ptr { target } = btf.get(def.members[0].ty).unwrap() else {
            panic!("type is not a pointer")
        };
        assert!(matches!(
            btf.get(*target).unwrap(),
            Type::Array { len: 1, .. }
        ));
        assert!(s.slots.is_empty());
    }

    #[test]
    fn map_in_map_gets_values_and_a_slot() {
        let maps = [map("inner", 2, 7, 0, 2), map("outer", 12, 0, 7, 0)];
        let s = synthesise(None, &maps, &|_| false, 8, 0).unwrap();
        assert_eq!(s.placed[0].offset, 8);
        let outer = &s.placed[1];
        assert_eq!(outer.size, 32 + 8 * 3);
        assert_eq!(s.slots, [(outer.offset + 32 + 16, "inner".to_string())]);
        let bad = [map("inner", 2, 7, 0, 9), map("outer", 12, 0, 7, 0)];
        let e = synthesise(None, &bad, &|_| false, 0, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("slot 9"), "{e}");
    }

    #[test]
    fn existing_maps_datasec_is_extended_and_collisions_named() {
        let mut w = Writer::default();
        let int = w.int("int", 4, true);
        let v = w.var("btfmap", int, VAR_GLOBAL);
        w.datasec(".maps", 0, &[(v, 0, 4)], None).unwrap();
        let raw = w.finish();
        let s = synthesise(Some(&raw), &[map("legacy", 1, 0, 0, 0)], &|_| false, 8, 0).unwrap();
        let btf = Btf::from_raw(&s.btf).unwrap();
        let ds = btf.find_by_name(".maps").unwrap();
        let names: Vec<String> = btf
            .datasec_vars(ds)
            .into_iter()
            .map(|v| v.name.to_string())
            .collect();
        assert_eq!(names, ["btfmap", "legacy"]);
        let e = synthesise(Some(&raw), &[map("btfmap", 1, 0, 0, 0)], &|_| false, 8, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("btfmap") && e.contains("`maps`") && e.contains("`.maps`"),
            "{e}"
        );
    }

    #[test]
    fn kv_annotation_types_the_map() {
        let mut w = Writer::default();
        let u32_t = w.int("__u32", 4, false);
        let u64_t = w.int("__u64", 8, false);
        w.structure(
            "____btf_map_counts",
            12,
            &[("key", u32_t, 0), ("value", u64_t, 4)],
        );
        let raw = w.finish();
        let s = synthesise(Some(&raw), &[map("counts", 2, 0, 0, 0)], &|_| false, 0, 0).unwrap();
        let btf = Btf::from_raw(&s.btf).unwrap();
        let ds = btf.find_by_name(".maps").unwrap();
        let Type::Struct(def) = btf.get(btf.datasec_vars(ds)[0].ty).unwrap() else {
            panic!("not a struct")
        };
        assert_eq!(def.members[1].name, "key");
        assert_eq!(
            btf.get(def.members[1].ty).unwrap(),
            &Type::Ptr { target: u32_t }
        );
    }
}
