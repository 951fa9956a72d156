// A tiny BTF blob builder for unit tests (base and split blobs, every kind rbt reads).
use super::*;

pub struct Builder {
    types: Vec<u8>,
    strings: Vec<u8>,
    pub next_id: u32,
    /// String offsets start here (the base's string section size for a split blob).
    str_base: u32,
}

impl Builder {
    pub fn new() -> Self {
        Builder {
            types: Vec::new(),
            strings: vec![0],
            next_id: 1,
            str_base: 0,
        }
    }
    /// A split blob on top of `base`: ids and string offsets continue the base's.
    pub fn split(base: &Btf) -> Self {
        Builder {
            types: Vec::new(),
            strings: Vec::new(),
            next_id: base.len() as u32,
            str_base: base.strings.len() as u32,
        }
    }
    fn s(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        let off = self.str_base + self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        off
    }
    fn w(&mut self, v: u32) {
        self.types.extend_from_slice(&v.to_le_bytes());
    }
    fn head(&mut self, name: &str, kind: u32, vlen: u32, kflag: bool, st: u32) -> u32 {
        let n = self.s(name);
        self.w(n);
        self.w((kind << 24) | vlen | if kflag { 1 << 31 } else { 0 });
        self.w(st);
        let id = self.next_id;
        self.next_id += 1;
        id
    }
    /// enc: 1 signed, 2 char, 4 bool
    pub fn int(&mut self, name: &str, size: u32, enc: u32) -> u32 {
        let id = self.head(name, 1, 0, false, size);
        self.w((enc << 24) | (size * 8));
        id
    }
    pub fn ptr(&mut self, target: u32) -> u32 {
        self.head("", 2, 0, false, target)
    }
    pub fn array(&mut self, elem: u32, index: u32, len: u32) -> u32 {
        let id = self.head("", 3, 0, false, 0);
        self.w(elem);
        self.w(index);
        self.w(len);
        id
    }
    /// members: (name, type, bit offset, bitfield size)
    pub fn composite(
        &mut self,
        union: bool,
        name: &str,
        size: u32,
        members: &[(&str, u32, u32, u32)],
    ) -> u32 {
        let kflag = members.iter().any(|m| m.3 != 0);
        let id = self.head(
            name,
            if union { 5 } else { 4 },
            members.len() as u32,
            kflag,
            size,
        );
        for (n, t, off, bits) in members {
            let n = self.s(n);
            self.w(n);
            self.w(*t);
            self.w(if kflag { (bits << 24) | off } else { *off });
        }
        id
    }
    pub fn enum32(&mut self, name: &str, size: u32, signed: bool, vals: &[(&str, i32)]) -> u32 {
        let id = self.head(name, 6, vals.len() as u32, signed, size);
        for (n, v) in vals {
            let n = self.s(n);
            self.w(n);
            self.w(*v as u32);
        }
        id
    }
    pub fn enum64(&mut self, name: &str, size: u32, signed: bool, vals: &[(&str, u64)]) -> u32 {
        let id = self.head(name, 19, vals.len() as u32, signed, size);
        for (n, v) in vals {
            let n = self.s(n);
            self.w(n);
            self.w(*v as u32);
            self.w((*v >> 32) as u32);
        }
        id
    }
    pub fn typedef(&mut self, name: &str, target: u32) -> u32 {
        self.head(name, 8, 0, false, target)
    }
    pub fn volatile(&mut self, target: u32) -> u32 {
        self.head("", 9, 0, false, target)
    }
    pub fn konst(&mut self, target: u32) -> u32 {
        self.head("", 10, 0, false, target)
    }
    pub fn float(&mut self, name: &str, size: u32) -> u32 {
        self.head(name, 16, 0, false, size)
    }
    pub fn var(&mut self, name: &str, target: u32) -> u32 {
        let id = self.head(name, 14, 0, false, target);
        self.w(1);
        id
    }
    /// vars: (var id, offset, size)
    pub fn datasec(&mut self, name: &str, size: u32, vars: &[(u32, u32, u32)]) -> u32 {
        let id = self.head(name, 15, vars.len() as u32, false, size);
        for (v, o, s) in vars {
            self.w(*v);
            self.w(*o);
            self.w(*s);
        }
        id
    }
    pub fn restrict(&mut self, target: u32) -> u32 {
        self.head("", 11, 0, false, target)
    }
    pub fn fwd(&mut self, name: &str, union: bool) -> u32 {
        self.head(name, 7, 0, union, 0)
    }
    pub fn type_tag(&mut self, name: &str, target: u32) -> u32 {
        self.head(name, 18, 0, false, target)
    }
    pub fn decl_tag(&mut self, name: &str, target: u32, component_idx: i32) -> u32 {
        let id = self.head(name, 17, 0, false, target);
        self.w(component_idx as u32);
        id
    }
    pub fn func(&mut self, name: &str, proto: u32, linkage: u32) -> u32 {
        self.head(name, 12, linkage, false, proto)
    }
    /// params: (name, type); a last ("", 0) is `...`.
    pub fn func_proto(&mut self, ret: u32, params: &[(&str, u32)]) -> u32 {
        let id = self.head("", 13, params.len() as u32, false, ret);
        for (n, t) in params {
            let n = self.s(n);
            self.w(n);
            self.w(*t);
        }
        id
    }
    /// A type with any header words, for corrupt blobs.
    pub fn raw_type(&mut self, words: &[u32]) -> u32 {
        for w in words {
            self.w(*w);
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }
    pub fn raw(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.push(1);
        out.push(0);
        for v in [
            24u32,
            0,
            self.types.len() as u32,
            self.types.len() as u32,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
    pub fn build(&self) -> Btf {
        match Btf::from_raw(&self.raw()) {
            Ok(b) => b,
            Err(e) => panic!("test BTF: {e:#}"),
        }
    }
}
