// Legacy map definitions in a `maps` section: which layout the section holds (found from
// its size and symbol count), and each map's fields, checked before anything is built.

use anyhow::{bail, Result};

/// The layouts of a legacy `maps` entry, by size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `struct bpf_map_def`: type, key_size, value_size, max_entries, map_flags.
    MapDef,
    /// Aya's `bpf_map_def`: the above plus id and pinning.
    Aya,
    /// iproute2's `struct bpf_elf_map`: plus id, pinning, inner_id, inner_idx.
    ElfMap,
}

impl Layout {
    pub fn size(self) -> usize {
        match self {
            Layout::MapDef => 20,
            Layout::Aya => 28,
            Layout::ElfMap => 36,
        }
    }
    fn by_size(size: usize) -> Option<Layout> {
        [Layout::MapDef, Layout::Aya, Layout::ElfMap]
            .into_iter()
            .find(|l| l.size() == size)
    }
    pub fn describe(self) -> &'static str {
        match self {
            Layout::MapDef => "struct bpf_map_def (20 bytes)",
            Layout::Aya => "Aya's bpf_map_def (28 bytes)",
            Layout::ElfMap => "iproute2's struct bpf_elf_map (36 bytes)",
        }
    }
}

/// iproute2's pinning values (Aya's 1 is libbpf's "by name", pinned at the bpffs root).
pub const PIN_NONE: u32 = 0;
pub const PIN_OBJECT_NS: u32 = 1;
pub const PIN_GLOBAL_NS: u32 = 2;

/// Map types whose max_entries is 0 by definition (storage maps), or filled in by the
/// loader (perf event arrays: one entry per CPU).
const ZERO_ENTRIES_OK: [u32; 7] = [4, 19, 21, 24, 28, 29, 32];
/// BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS.
pub const MAP_IN_MAP: [u32; 2] = [12, 13];

/// One map symbol of the section: its name and offset.
#[derive(Debug, Clone)]
pub struct MapSymbol {
    pub name: String,
    pub offset: u64,
}

/// One legacy map definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyMap {
    pub name: String,
    /// Offset of its definition in the `maps` section.
    pub offset: u64,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    pub id: u32,
    pub pinning: u32,
    pub inner_id: u32,
    pub inner_idx: u32,
}

fn word(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .map_or(0, |w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

/// The layout of a section of `size` bytes holding `count` map symbols, or an error that
/// names the sizes seen.
pub fn layout(size: usize, count: usize) -> Result<Layout> {
    let known = "bpf_map_def 20, Aya's bpf_map_def 28, bpf_elf_map 36";
    if count == 0 {
        bail!("the `maps` section ({size} bytes) holds no map symbol");
    }
    if !size.is_multiple_of(count) {
        bail!(
            "the `maps` section is {size} bytes for {count} map symbols, not a whole size per map (known layouts: {known} bytes)"
        );
    }
    Layout::by_size(size / count).ok_or_else(|| {
        anyhow::anyhow!(
            "the `maps` section is {size} bytes for {count} map symbols: {} bytes each matches no legacy layout (known: {known} bytes)",
            size / count
        )
    })
}

/// Read and check every map of the section. `known_type` says whether the kernel's map
/// type numbering has a type.
pub fn parse(
    section: &[u8],
    symbols: &[MapSymbol],
    known_type: impl Fn(u32) -> bool,
) -> Result<(Layout, Vec<LegacyMap>)> {
    let layout = layout(section.len(), symbols.len())?;
    let size = layout.size() as u64;
    let mut maps: Vec<LegacyMap> = Vec::with_capacity(symbols.len());
    for sym in symbols {
        if sym.offset % size != 0 || sym.offset + size > section.len() as u64 {
            bail!(
                "map {}: its symbol (offset {}) lies outside the `maps` section's {} entries of {} bytes",
                sym.name,
                sym.offset,
                section.len() as u64 / size,
                size
            );
        }
        if let Some(other) = maps.iter().find(|m| m.offset == sym.offset) {
            bail!(
                "maps {} and {}: both symbols name the same definition (offset {})",
                other.name,
                sym.name,
                sym.offset
            );
        }
        let at = sym.offset as usize;
        let f = |i: usize| word(section, at + 4 * i);
        let extra = |i: usize| if layout == Layout::MapDef { 0 } else { f(i) };
        let elf = |i: usize| if layout == Layout::ElfMap { f(i) } else { 0 };
        let map = LegacyMap {
            name: sym.name.clone(),
            offset: sym.offset,
            map_type: f(0),
            key_size: f(1),
            value_size: f(2),
            max_entries: f(3),
            flags: f(4),
            id: extra(5),
            pinning: extra(6),
            inner_id: elf(7),
            inner_idx: elf(8),
        };
        check(&map, layout, &known_type)?;
        maps.push(map);
    }
    maps.sort_by_key(|m| m.offset);
    check_inner(&maps)?;
    Ok((layout, maps))
}

fn check(map: &LegacyMap, layout: Layout, known_type: &impl Fn(u32) -> bool) -> Result<()> {
    let name = &map.name;
    if map.map_type == 0 || !known_type(map.map_type) {
        bail!(
            "map {name}: unknown map type {} (not a type this libbpf or kernel numbering knows)",
            map.map_type
        );
    }
    if map.max_entries == 0 && !ZERO_ENTRIES_OK.contains(&map.map_type) {
        bail!("map {name}: max_entries is 0; a map of this type needs at least one entry");
    }
    let pin_max = match layout {
        Layout::MapDef => PIN_NONE,
        Layout::Aya => PIN_OBJECT_NS,
        Layout::ElfMap => PIN_GLOBAL_NS,
    };
    if map.pinning > pin_max {
        bail!("map {name}: unknown pinning value {}", map.pinning);
    }
    Ok(())
}

/// iproute2's map-in-map: an outer map's inner_id names the map (by its id) that is the
/// template of its inner maps.
fn check_inner(maps: &[LegacyMap]) -> Result<()> {
    for outer in maps.iter().filter(|m| m.inner_id != 0) {
        if !MAP_IN_MAP.contains(&outer.map_type) {
            bail!(
                "map {}: inner_id {} is set but the map is not an array or hash of maps",
                outer.name,
                outer.inner_id
            );
        }
        match maps.iter().find(|m| m.id == outer.inner_id) {
            None => bail!(
                "map {}: inner_id {} names no map of the section (no map has id {})",
                outer.name,
                outer.inner_id,
                outer.inner_id
            ),
            Some(inner) if inner.name == outer.name => {
                bail!("map {}: is its own inner map", outer.name)
            }
            Some(_) => {}
        }
    }
    if let Some(m) = maps
        .iter()
        .find(|m| MAP_IN_MAP.contains(&m.map_type) && m.inner_id == 0)
    {
        bail!(
            "map {}: a map of maps needs an inner map (iproute2's inner_id), and a `maps` section has no other way to give one",
            m.name
        );
    }
    Ok(())
}

/// The inner map template of an outer map, if it is one.
pub fn inner_of<'a>(maps: &'a [LegacyMap], outer: &LegacyMap) -> Option<&'a LegacyMap> {
    if outer.inner_id == 0 {
        return None;
    }
    maps.iter().find(|m| m.id == outer.inner_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
    fn sym(name: &str, offset: u64) -> MapSymbol {
        MapSymbol {
            name: name.into(),
            offset,
        }
    }
    fn known(t: u32) -> bool {
        t < 40
    }

    #[test]
    fn layouts_are_found_from_size_and_count() {
        assert_eq!(layout(40, 2).unwrap(), Layout::MapDef);
        assert_eq!(layout(28, 1).unwrap(), Layout::Aya);
        assert_eq!(layout(72, 2).unwrap(), Layout::ElfMap);
        let e = layout(48, 2).unwrap_err().to_string();
        assert!(e.contains("24 bytes each") && e.contains("48 bytes"), "{e}");
        let e = layout(41, 2).unwrap_err().to_string();
        assert!(e.contains("41 bytes for 2"), "{e}");
        assert!(layout(20, 0).is_err());
    }

    #[test]
    fn fields_of_each_layout() {
        let mut s = def(&[1, 4, 8, 16, 1]);
        s.extend(def(&[2, 4, 4, 1, 0]));
        let (l, maps) = parse(&s, &[sym("b", 20), sym("a", 0)], known).unwrap();
        assert_eq!(l, Layout::MapDef);
        assert_eq!((maps[0].name.as_str(), maps[0].max_entries), ("a", 16));
        assert_eq!((maps[1].map_type, maps[1].pinning), (2, 0));
        let s = def(&[1, 4, 8, 16, 0, 3, 1]);
        let (l, maps) = parse(&s, &[sym("aya", 0)], known).unwrap();
        assert_eq!((l, maps[0].id, maps[0].pinning), (Layout::Aya, 3, 1));
        let mut s = def(&[2, 4, 4, 1, 0, 7, 2, 0, 3]);
        s.extend(def(&[12, 4, 4, 4, 0, 0, 2, 7, 0]));
        let (l, maps) = parse(&s, &[sym("inner", 0), sym("outer", 36)], known).unwrap();
        assert_eq!(l, Layout::ElfMap);
        assert_eq!(maps[0].inner_idx, 3);
        assert_eq!(
            inner_of(&maps, &maps[1]).map(|m| m.name.as_str()),
            Some("inner")
        );
    }

    #[test]
    fn bad_definitions_name_the_map() {
        let s = def(&[1, 4, 8, 16, 0]);
        let e = parse(&s, &[sym("far", 20)], known).unwrap_err().to_string();
        assert!(e.contains("far") && e.contains("outside"), "{e}");
        let e = parse(&s, &[sym("odd", 4)], known).unwrap_err().to_string();
        assert!(e.contains("odd"), "{e}");
        let s = def(&[1, 4, 8, 0, 0]);
        let e = parse(&s, &[sym("empty", 0)], known)
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty") && e.contains("max_entries is 0"), "{e}");
        let s = def(&[99, 4, 8, 1, 0]);
        let e = parse(&s, &[sym("alien", 0)], known)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("alien") && e.contains("unknown map type 99"),
            "{e}"
        );
        let s = def(&[12, 4, 4, 1, 0, 0, 0, 5, 0]);
        let e = parse(&s, &[sym("outer", 0)], known)
            .unwrap_err()
            .to_string();
        assert!(e.contains("outer") && e.contains("no map has id 5"), "{e}");
        let s = def(&[12, 4, 4, 1, 0]);
        let e = parse(&s, &[sym("o", 0)], known).unwrap_err().to_string();
        assert!(e.contains("needs an inner map"), "{e}");
        let s = def(&[19, 8, 8, 0, 0]);
        assert!(parse(&s, &[sym("storage", 0)], known).is_ok());
    }
}
