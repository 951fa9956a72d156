// Objects whose maps are in a legacy `maps` section (bpf_map_def, Aya's form, iproute2's
// bpf_elf_map), which libbpf 1.x refuses: rewritten in memory into an object libbpf
// accepts, with a BTF-defined map in `.maps` for each legacy map.

pub mod defs;
mod elf;
mod maps_btf;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use defs::{Layout, LegacyMap, MapSymbol, PIN_GLOBAL_NS};
use elf::{Elf, Section};

pub use elf::has_maps_section;

/// Where iproute2 pins (and looks for) its PIN_GLOBAL_NS maps.
pub const TC_GLOBALS: &str = "/sys/fs/bpf/tc/globals";
/// The name the emptied `maps` section gets when the object already has a `.maps`.
const MOVED: &str = ".rbt.legacy_maps";

/// A legacy map that is pinned by name, where libbpf pins it or finds it pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPin {
    pub map: String,
    pub path: PathBuf,
}

/// The rewritten object and what the conversion found.
pub struct Converted {
    pub object: Vec<u8>,
    pub layout: Layout,
    pub maps: Vec<LegacyMap>,
    pub pins: Vec<NamedPin>,
}

/// Where a map pinned by name lives: iproute2's PIN_GLOBAL_NS under tc/globals, Aya's
/// pinning at the bpffs root (Aya's own default). iproute2's PIN_OBJECT_NS maps are not
/// shared, so rbt pins them only with the object's other maps (`pinmaps`).
fn pin_path(layout: Layout, m: &LegacyMap) -> Option<PathBuf> {
    match layout {
        Layout::Aya if m.pinning == 1 => Some(Path::new(super::bpffs::DEFAULT_ROOT).join(&m.name)),
        Layout::ElfMap if m.pinning == PIN_GLOBAL_NS => Some(Path::new(TC_GLOBALS).join(&m.name)),
        _ => None,
    }
}

/// Rewrite an object whose maps are in a `maps` section.
pub fn convert(data: &[u8]) -> Result<Converted> {
    let mut elf = Elf::parse(data)?;
    let maps_idx = elf
        .index_of("maps")
        .context("the object has no `maps` section")?;
    let symbols = elf.symbols()?;
    let in_maps: Vec<&elf::Symbol> = symbols
        .iter()
        .filter(|s| usize::from(s.shndx) == maps_idx)
        .filter(|s| s.kind() != object::elf::STT_SECTION && s.kind() != object::elf::STT_FILE)
        .collect();
    refuse_unsupported(&elf, &symbols, maps_idx)?;
    let map_symbols: Vec<MapSymbol> = in_maps
        .iter()
        .map(|s| MapSymbol {
            name: s.name.clone(),
            offset: s.value,
        })
        .collect();
    let known = |t: u32| super::map::type_name(t) != t.to_string();
    let (layout, maps) = defs::parse(&elf.sections[maps_idx].data, &map_symbols, known)?;

    let dot_maps = elf.index_of(".maps");
    let target = dot_maps.unwrap_or(maps_idx);
    let base = match dot_maps {
        Some(i) => (elf.sections[i].data.len() as u64).next_multiple_of(8),
        None => 0,
    };
    let btf_idx = elf.index_of(".BTF");
    let existing_btf = btf_idx.map(|i| elf.sections[i].data.clone());
    let by_name = |m: &LegacyMap| pin_path(layout, m).is_some();
    let legacy_size = elf.sections[maps_idx].data.len() as u64;
    let synth = maps_btf::synthesise(existing_btf.as_deref(), &maps, &by_name, base, legacy_size)?;
    let end = synth
        .placed
        .iter()
        .map(|p| p.offset + p.size)
        .max()
        .unwrap_or(base);

    // The definitions' bytes: libbpf reads the BTF, the section only has to be that big.
    let end = usize::try_from(end).context("`.maps` too large")?;
    if target == maps_idx {
        elf.rename(maps_idx, ".maps");
        elf.sections[maps_idx].data = vec![0; end];
        elf.sections[maps_idx].align = 8;
    } else {
        elf.sections[target].data.resize(end, 0);
        elf.sections[maps_idx].data.clear();
        elf.rename(maps_idx, MOVED);
    }
    let target_ndx = u16::try_from(target).context("section index too large")?;
    let mut index_of_map = Vec::new();
    for p in &synth.placed {
        let sym = in_maps
            .iter()
            .find(|s| s.name == p.name)
            .with_context(|| format!("map {}: its symbol went missing", p.name))?;
        elf.move_symbol(sym.index, target_ndx, p.offset, p.size)?;
        let index = if sym.is_local() {
            // libbpf matches a map's BTF variable to a global symbol of the same name.
            elf.add_global_symbol(sym.name_off, target_ndx, p.offset, p.size)?
        } else {
            sym.index
        };
        index_of_map.push((p.name.clone(), index));
    }
    match btf_idx {
        Some(i) => elf.sections[i].data = synth.btf,
        None => {
            elf.push(Section {
                name: ".BTF".into(),
                sh_type: object::elf::SHT_PROGBITS,
                flags: 0,
                link: 0,
                info: 0,
                align: 4,
                entsize: 0,
                data: synth.btf,
                nobits_size: 0,
            });
        }
    }
    add_slots(&mut elf, target, &synth.slots, &index_of_map)?;
    let pins = maps
        .iter()
        .filter_map(|m| {
            pin_path(layout, m).map(|path| NamedPin {
                map: m.name.clone(),
                path,
            })
        })
        .collect();
    Ok(Converted {
        object: elf.write()?,
        layout,
        maps,
        pins,
    })
}

/// What the rewrite cannot carry over: relocations against the `maps` section itself
/// (rather than a map's symbol), and relocations inside it.
fn refuse_unsupported(elf: &Elf, symbols: &[elf::Symbol], maps_idx: usize) -> Result<()> {
    if let Some(rel) = elf
        .sections
        .iter()
        .find(|s| s.sh_type == object::elf::SHT_REL && s.info as usize == maps_idx)
    {
        bail!(
            "the `maps` section has relocations ({}), which legacy map definitions never need",
            rel.name
        );
    }
    for (rel, sym) in elf.relocated_symbols() {
        let Some(s) = symbols.get(sym as usize) else {
            bail!(
                "{}: relocation against symbol {sym}, which does not exist",
                elf.sections[rel].name
            );
        };
        if usize::from(s.shndx) == maps_idx && s.kind() == object::elf::STT_SECTION {
            bail!(
                "{}: a relocation refers to the `maps` section rather than to a map's symbol (a `static` map definition?); declare the maps global",
                elf.sections[rel].name
            );
        }
    }
    Ok(())
}

/// `.rel.maps` entries that put each inner map into its outer map's slot.
fn add_slots(
    elf: &mut Elf,
    target: usize,
    slots: &[(u64, String)],
    index_of_map: &[(String, usize)],
) -> Result<()> {
    if slots.is_empty() {
        return Ok(());
    }
    let mut entries = Vec::new();
    for (offset, inner) in slots {
        let sym = index_of_map
            .iter()
            .find(|(n, _)| n == inner)
            .map(|(_, i)| *i)
            .with_context(|| format!("map {inner}: no symbol"))?;
        entries.extend_from_slice(&elf::rel64(*offset, sym));
    }
    let symtab = elf.symtab()?;
    let existing = elf
        .sections
        .iter()
        .position(|s| s.sh_type == object::elf::SHT_REL && s.info as usize == target);
    match existing {
        Some(i) => elf.sections[i].data.extend_from_slice(&entries),
        None => {
            elf.push(Section {
                name: ".rel.maps".into(),
                sh_type: object::elf::SHT_REL,
                flags: u64::from(object::elf::SHF_INFO_LINK),
                link: symtab as u32,
                info: target as u32,
                align: 8,
                entsize: 16,
                data: entries,
                nobits_size: 0,
            });
        }
    }
    Ok(())
}
