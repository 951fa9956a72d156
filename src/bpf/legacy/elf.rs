// The ELF side of the legacy-maps rewrite: reading a BPF object's sections and symbols,
// and writing the object again with some sections replaced, renamed or added (ELF64
// little-endian relocatable objects, as clang and bpf-linker write them).

use anyhow::{bail, Context, Result};
use object::elf;
use object::read::elf::{FileHeader, SectionHeader};
use object::LittleEndian as LE;

pub const SYM_SIZE: usize = 24;
const SHDR_SIZE: usize = 64;
const EHDR_SIZE: usize = 64;

/// One section, as it will be written.
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub sh_type: u32,
    pub flags: u64,
    pub link: u32,
    pub info: u32,
    pub align: u64,
    pub entsize: u64,
    /// The contents (empty for SHT_NOBITS and SHT_NULL).
    pub data: Vec<u8>,
    /// The size of a SHT_NOBITS section.
    pub nobits_size: u64,
}

/// A relocatable object taken apart: its ELF header and its sections, in index order.
pub struct Elf {
    header: Vec<u8>,
    pub sections: Vec<Section>,
    pub shstrndx: usize,
}

/// One symbol of the symbol table, decoded.
#[derive(Debug, Clone)]
pub struct Symbol {
    pub index: usize,
    pub name: String,
    pub name_off: u32,
    pub info: u8,
    pub shndx: u16,
    pub value: u64,
}

impl Symbol {
    pub fn kind(&self) -> u8 {
        self.info & 0xf
    }
    pub fn is_local(&self) -> bool {
        self.info >> 4 == elf::STB_LOCAL
    }
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from(le32(b, at)) | (u64::from(le32(b, at + 4)) << 32)
}

fn c_str(table: &[u8], off: u32) -> String {
    let rest = table.get(off as usize..).unwrap_or(&[]);
    let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end]).into_owned()
}

/// Whether `data` is an ELF object with a section named `maps`.
pub fn has_maps_section(data: &[u8]) -> bool {
    use object::{Object, ObjectSection};
    object::File::parse(data)
        .map(|f| f.sections().any(|s| s.name() == Ok("maps")))
        .unwrap_or(false)
}

impl Elf {
    pub fn parse(data: &[u8]) -> Result<Elf> {
        if data.get(4) != Some(&2) || data.get(5) != Some(&1) {
            bail!("only 64-bit little-endian BPF objects (bpfel) can have their legacy maps converted");
        }
        let hdr = elf::FileHeader64::<LE>::parse(data).context("not a valid ELF file")?;
        let endian = hdr.endian().context("not a valid ELF file")?;
        if hdr.e_type.get(endian) != elf::ET_REL {
            bail!("not a relocatable ELF object");
        }
        let table = hdr
            .sections(endian, data)
            .context("reading the section headers")?;
        let mut sections = Vec::with_capacity(table.len());
        for (i, sh) in table.iter().enumerate() {
            let name = table
                .section_name(endian, sh)
                .with_context(|| format!("section {i}: bad name"))?;
            let sh_type = sh.sh_type(endian);
            let bytes = if sh_type == elf::SHT_NOBITS || sh_type == elf::SHT_NULL {
                &[][..]
            } else {
                sh.data(endian, data)
                    .with_context(|| format!("section {i}: contents out of bounds"))?
            };
            sections.push(Section {
                name: String::from_utf8_lossy(name).into_owned(),
                sh_type,
                flags: sh.sh_flags(endian),
                link: sh.sh_link(endian),
                info: sh.sh_info(endian),
                align: sh.sh_addralign(endian),
                entsize: sh.sh_entsize(endian),
                data: bytes.to_vec(),
                nobits_size: if sh_type == elf::SHT_NOBITS {
                    sh.sh_size(endian)
                } else {
                    0
                },
            });
        }
        let shstrndx = hdr
            .shstrndx(endian, data)
            .context("reading the section name table index")? as usize;
        Ok(Elf {
            header: data[..EHDR_SIZE].to_vec(),
            sections,
            shstrndx,
        })
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.sections.iter().position(|s| s.name == name)
    }

    /// The symbol table's section index.
    pub fn symtab(&self) -> Result<usize> {
        self.sections
            .iter()
            .position(|s| s.sh_type == elf::SHT_SYMTAB)
            .context("the object has no symbol table")
    }

    pub fn symbols(&self) -> Result<Vec<Symbol>> {
        let idx = self.symtab()?;
        let tab = &self.sections[idx];
        let strings = self
            .sections
            .get(tab.link as usize)
            .map(|s| s.data.as_slice())
            .unwrap_or(&[]);
        Ok(tab
            .data
            .chunks_exact(SYM_SIZE)
            .enumerate()
            .map(|(index, s)| Symbol {
                index,
                name: c_str(strings, le32(s, 0)),
                name_off: le32(s, 0),
                info: s[4],
                shndx: u16::from_le_bytes([s[6], s[7]]),
                value: le64(s, 8),
            })
            .collect())
    }

    /// Point symbol `index` at `shndx`/`value`/`size`, as an object (STT_OBJECT).
    pub fn move_symbol(&mut self, index: usize, shndx: u16, value: u64, size: u64) -> Result<()> {
        let idx = self.symtab()?;
        let s = self.sections[idx]
            .data
            .get_mut(index * SYM_SIZE..(index + 1) * SYM_SIZE)
            .with_context(|| format!("no symbol {index}"))?;
        s[4] = (s[4] & 0xf0) | elf::STT_OBJECT;
        s[6..8].copy_from_slice(&shndx.to_le_bytes());
        s[8..16].copy_from_slice(&value.to_le_bytes());
        s[16..24].copy_from_slice(&size.to_le_bytes());
        Ok(())
    }

    /// Add a global object symbol at the end of the table (after every local one, as ELF
    /// wants); returns its index.
    pub fn add_global_symbol(
        &mut self,
        name_off: u32,
        shndx: u16,
        value: u64,
        size: u64,
    ) -> Result<usize> {
        let idx = self.symtab()?;
        let data = &mut self.sections[idx].data;
        let index = data.len() / SYM_SIZE;
        data.extend_from_slice(&name_off.to_le_bytes());
        data.push((elf::STB_GLOBAL << 4) | elf::STT_OBJECT);
        data.push(elf::STV_DEFAULT);
        data.extend_from_slice(&shndx.to_le_bytes());
        data.extend_from_slice(&value.to_le_bytes());
        data.extend_from_slice(&size.to_le_bytes());
        Ok(index)
    }

    /// Every (relocation section index, symbol index) pair of the object's REL sections.
    pub fn relocated_symbols(&self) -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        for (i, s) in self.sections.iter().enumerate() {
            if s.sh_type == elf::SHT_REL {
                for r in s.data.chunks_exact(16) {
                    out.push((i, (le64(r, 8) >> 32) as u32));
                }
            }
        }
        out
    }

    /// Give section `idx` a new name (added to the section name table).
    pub fn rename(&mut self, idx: usize, name: &str) {
        self.sections[idx].name = name.to_owned();
    }

    pub fn push(&mut self, section: Section) -> usize {
        self.sections.push(section);
        self.sections.len() - 1
    }

    /// The object as bytes: header, section contents, section headers.
    pub fn write(&self) -> Result<Vec<u8>> {
        if self.sections.len() >= usize::from(elf::SHN_LORESERVE) {
            bail!("too many sections ({})", self.sections.len());
        }
        // Section names: the old table's strings stay where they are; new names are added.
        let mut names = self.sections[self.shstrndx].data.clone();
        let mut name_offs = Vec::with_capacity(self.sections.len());
        for s in &self.sections {
            name_offs.push(find_or_add(&mut names, &s.name));
        }
        let mut out = self.header.clone();
        let mut offsets = Vec::with_capacity(self.sections.len());
        for (i, s) in self.sections.iter().enumerate() {
            let data = if i == self.shstrndx { &names } else { &s.data };
            let align = s.align.max(1) as usize;
            while !out.len().is_multiple_of(align) {
                out.push(0);
            }
            offsets.push(out.len() as u64);
            out.extend_from_slice(data);
        }
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let shoff = out.len() as u64;
        for (i, s) in self.sections.iter().enumerate() {
            let size = match (i == self.shstrndx, s.sh_type) {
                (true, _) => names.len() as u64,
                (_, elf::SHT_NOBITS) => s.nobits_size,
                _ => s.data.len() as u64,
            };
            let offset = if s.sh_type == elf::SHT_NULL {
                0
            } else {
                offsets[i]
            };
            out.extend_from_slice(&name_offs[i].to_le_bytes());
            out.extend_from_slice(&s.sh_type.to_le_bytes());
            out.extend_from_slice(&s.flags.to_le_bytes());
            out.extend_from_slice(&0u64.to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&s.link.to_le_bytes());
            out.extend_from_slice(&s.info.to_le_bytes());
            out.extend_from_slice(&s.align.to_le_bytes());
            out.extend_from_slice(&s.entsize.to_le_bytes());
        }
        out[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        out[0x3a..0x3c].copy_from_slice(&(SHDR_SIZE as u16).to_le_bytes());
        out[0x3c..0x3e].copy_from_slice(&(self.sections.len() as u16).to_le_bytes());
        out[0x3e..0x40].copy_from_slice(&(self.shstrndx as u16).to_le_bytes());
        Ok(out)
    }
}

/// The offset of `name` in a string table, added at the end when it is not there yet
/// (the empty name is offset 0).
fn find_or_add(table: &mut Vec<u8>, name: &str) -> u32 {
    if name.is_empty() {
        return 0;
    }
    let mut needle = name.as_bytes().to_vec();
    needle.push(0);
    // A match may start inside a longer name: ".text" is the tail of ".rel.text".
    if let Some(pos) = table.windows(needle.len()).position(|w| w == needle) {
        return pos as u32;
    }
    let off = table.len() as u32;
    table.extend_from_slice(&needle);
    off
}

/// A REL entry: the 64-bit map relocation (R_BPF_64_64) of `symbol` at `offset`.
pub fn rel64(offset: u64, symbol: usize) -> [u8; 16] {
    let mut r = [0u8; 16];
    r[..8].copy_from_slice(&offset.to_le_bytes());
    r[8..].copy_from_slice(&(((symbol as u64) << 32) | 1).to_le_bytes());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_whole_or_added() {
        let mut t = b"\0.rel.text\0maps\0".to_vec();
        assert_eq!(find_or_add(&mut t, ".rel.text"), 1);
        assert_eq!(find_or_add(&mut t, "maps"), 11);
        assert_eq!(
            find_or_add(&mut t, ".text"),
            5,
            "a suffix of a name is shared"
        );
        let before = t.len() as u32;
        assert_eq!(find_or_add(&mut t, ".maps"), before);
        assert_eq!(find_or_add(&mut t, ""), 0);
    }

    #[test]
    fn rel_entries_name_symbol_and_type() {
        let r = rel64(0x20, 5);
        assert_eq!(le64(&r, 0), 0x20);
        assert_eq!(le64(&r, 8), (5 << 32) | 1);
    }

    #[test]
    fn garbage_and_big_endian_are_refused() {
        assert!(Elf::parse(b"\x7fELF\x02\x02").is_err());
        assert!(Elf::parse(b"\x7fELF\x02\x01 too short").is_err());
    }
}
