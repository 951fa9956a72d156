// `btf dump ... format c`: BTF types as a compilable C header (vmlinux.h), rbt's own dumper.
// Types come in id order; a type's dependencies are emitted just before it (a struct held by
// value is defined first, one reached through a pointer is forward-declared), in the order
// libbpf's btf_dump uses (an ordering pass, then an emitting pass), so the header matches
// bpftool's. Struct layout is kept exact: explicit padding (`long: 64;`) and
// `__attribute__((packed))` where natural alignment would move a member. Duplicate names
// get libbpf's `___2` suffixes. The BTF was validated when it was read (no cycles without a
// pointer), and every walk here is also depth-limited.

use std::collections::HashMap;

/// How often each name has been used (foldhash: the default SipHash was 5% of a vmlinux dump).
type NameCounts = HashMap<Name, usize, foldhash::fast::RandomState>;
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};

use super::{Btf, Composite, Enum, Name, Type, MAX_DEPTH};

const HEAD: &str = "#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

";

const TAIL: &str = "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
";

/// Pointer size of the targets rbt dumps for (BPF and 64-bit hosts).
const PTR_BITS: u32 = 64;

/// The largest gap the dumper fills with padding members (1 MiB); more is corrupt BTF.
const MAX_PAD_BITS: u32 = 8 << 20;

/// The header for `roots` (every type when empty), as bpftool's `format c` writes it.
pub fn header(btf: &Btf, roots: &[u32]) -> Result<String> {
    let mut d = CDump::new(btf);
    d.out.push_str(HEAD);
    if roots.is_empty() {
        for id in 1..btf.len() as u32 {
            d.top(id)?;
        }
    } else {
        for &id in roots {
            btf.get(id)?;
            d.top(id)?;
        }
    }
    d.out.push_str(TAIL);
    Ok(d.out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    New,
    Ordering,
    Ordered,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Emitting,
    Done,
}

struct CDump<'a> {
    btf: &'a Btf,
    out: String,
    order_state: Vec<Order>,
    queue: Vec<u32>,
    state: Vec<State>,
    fwd_done: Vec<bool>,
    referenced: Vec<bool>,
    align: Vec<u32>,
    names: Vec<Option<Name>>,
    tag_names: NameCounts,
    ident_names: NameCounts,
}

/// `lvl` tabs (borrowed from a constant for any real nesting depth).
fn tabs(lvl: usize) -> std::borrow::Cow<'static, str> {
    const TABS: &str = "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t";
    match TABS.get(..lvl) {
        Some(t) => t.into(),
        None => "\t".repeat(lvl).into(),
    }
}

/// Count one more use of `name` in `seen`; its C spelling (`name___2` from the second use).
fn counted(seen: &mut NameCounts, name: &str) -> Name {
    let count = match seen.get_mut(name) {
        Some(c) => {
            *c += 1;
            *c
        }
        None => {
            seen.insert(Name::new(name), 1);
            1
        }
    };
    if count > 1 {
        compact_str::format_compact!("{name}___{count}")
    } else {
        Name::new(name)
    }
}

fn join(base: &str, inner: &str) -> String {
    let mut s = String::with_capacity(base.len() + inner.len() + 1);
    s.push_str(base);
    if !inner.is_empty() {
        s.push(' ');
        s.push_str(inner);
    }
    s
}

/// `prefix` followed by `inner`, in one allocation.
fn prepend(prefix: &str, inner: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + inner.len());
    s.push_str(prefix);
    s.push_str(inner);
    s
}

/// A declarator that an array or a function applies to: `*p` must become `(*p)`.
fn wrap(inner: String) -> String {
    if inner.starts_with('*') {
        format!("({inner})")
    } else {
        inner
    }
}

fn roundup(x: u32, to: u32) -> u32 {
    x.div_ceil(to) * to
}

impl<'a> CDump<'a> {
    fn new(btf: &'a Btf) -> Self {
        let n = btf.len();
        let mut referenced = vec![false; n];
        let mut buf = Vec::new();
        for id in 1..n as u32 {
            if let Ok(t) = btf.get(id) {
                super::check::refs(t, &mut buf);
                for &r in &buf {
                    if let Some(x) = referenced.get_mut(r as usize) {
                        *x = true;
                    }
                }
            }
        }
        CDump {
            btf,
            out: String::with_capacity(1 << 22),
            order_state: vec![Order::New; n],
            queue: Vec::new(),
            state: vec![State::New; n],
            fwd_done: vec![false; n],
            referenced,
            align: vec![0; n],
            names: vec![None; n],
            tag_names: NameCounts::default(),
            ident_names: NameCounts::default(),
        }
    }

    fn ty(&self, id: u32) -> Result<&'a Type> {
        self.btf.get(id)
    }

    /// One type given at the top level (libbpf's btf_dump__dump_type): order it and what it
    /// needs, then emit that queue.
    fn top(&mut self, id: u32) -> Result<()> {
        self.queue.clear();
        self.order(id, false, 0)?;
        let queue = std::mem::take(&mut self.queue);
        for &q in &queue {
            self.emit(q, 0, 0)?;
        }
        self.queue = queue;
        Ok(())
    }

    /// Put the types `id` needs defined in dependency order on the queue; returns whether
    /// `id` is a strong dependency (must be defined, not just declared, before a use).
    fn order(&mut self, id: u32, through_ptr: bool, depth: usize) -> Result<bool> {
        if depth > MAX_DEPTH {
            bail!("BTF type {id}: type chain deeper than {MAX_DEPTH}");
        }
        let d = depth + 1;
        let i = id as usize;
        if self.order_state[i] == Order::Ordered {
            return Ok(true);
        }
        let t = self.ty(id)?;
        if self.order_state[i] == Order::Ordering {
            if let Type::Struct(c) | Type::Union(c) = t {
                if through_ptr && !c.name.is_empty() {
                    return Ok(false);
                }
            }
            bail!("BTF type {id} contains itself");
        }
        Ok(match t {
            Type::Void => false,
            Type::Int(_) | Type::Float { .. } => {
                self.order_state[i] = Order::Ordered;
                false
            }
            Type::Ptr { target } => {
                let strong = self.order(*target, true, d)?;
                self.order_state[i] = Order::Ordered;
                strong
            }
            Type::Array { elem, .. } => self.order(*elem, false, d)?,
            Type::Struct(c) | Type::Union(c) => {
                if through_ptr && !c.name.is_empty() {
                    return Ok(false);
                }
                self.order_state[i] = Order::Ordering;
                for m in &c.members {
                    self.order(m.ty, false, d)?;
                }
                if !c.name.is_empty() {
                    self.queue.push(id);
                }
                self.order_state[i] = Order::Ordered;
                true
            }
            Type::Enum(e) => {
                if !e.name.is_empty() || !self.referenced[i] {
                    self.queue.push(id);
                }
                self.order_state[i] = Order::Ordered;
                true
            }
            Type::Fwd { .. } => {
                self.queue.push(id);
                self.order_state[i] = Order::Ordered;
                true
            }
            Type::Typedef { target, .. } => {
                let strong = self.order(*target, through_ptr, d)?;
                if through_ptr && !strong {
                    return Ok(false);
                }
                self.queue.push(id);
                self.order_state[i] = Order::Ordered;
                true
            }
            Type::Volatile { target }
            | Type::Const { target }
            | Type::Restrict { target }
            | Type::TypeTag { target, .. } => self.order(*target, through_ptr, d)?,
            Type::FuncProto { ret, params } => {
                let mut strong = self.order(*ret, through_ptr, d)?;
                for p in params {
                    strong |= self.order(p.ty, through_ptr, d)?;
                }
                strong
            }
            Type::Func { .. } | Type::Var { .. } | Type::Datasec { .. } | Type::DeclTag { .. } => {
                self.order_state[i] = Order::Ordered;
                false
            }
        })
    }

    /// Emit `id` (libbpf's btf_dump_emit_type): at the top level (`cont` 0) its definition,
    /// else the forward declarations and typedefs a use of it inside `cont` needs.
    fn emit(&mut self, id: u32, cont: u32, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            bail!("BTF type {id}: type chain deeper than {MAX_DEPTH}");
        }
        let d = depth + 1;
        let i = id as usize;
        let top_level = cont == 0;
        if self.state[i] == State::Done {
            return Ok(());
        }
        let t = self.ty(id)?;
        if self.state[i] == State::Emitting {
            if self.fwd_done[i] {
                return Ok(());
            }
            match t {
                Type::Struct(c) | Type::Union(c) => {
                    if id == cont || c.name.is_empty() {
                        return Ok(());
                    }
                    self.fwd(id)?;
                }
                Type::Typedef { target, .. } => {
                    self.typedef_line(id, *target, d)?;
                }
                _ => {}
            }
            return Ok(());
        }
        match t {
            Type::Int(_) => self.state[i] = State::Done,
            Type::Enum(_) => {
                if top_level {
                    let body = self.enum_body(id, 0)?;
                    let _ = write!(self.out, "{body};\n\n");
                }
                self.state[i] = State::Done;
            }
            Type::Ptr { target }
            | Type::Volatile { target }
            | Type::Const { target }
            | Type::Restrict { target }
            | Type::TypeTag { target, .. } => self.emit(*target, cont, d)?,
            Type::Array { elem, .. } => self.emit(*elem, cont, d)?,
            Type::Fwd { .. } => {
                self.fwd(id)?;
                self.state[i] = State::Done;
            }
            Type::Typedef { target, .. } => {
                self.state[i] = State::Emitting;
                self.emit(*target, id, d)?;
                if !self.fwd_done[i] {
                    self.typedef_line(id, *target, d)?;
                }
                self.state[i] = State::Done;
            }
            Type::Struct(c) | Type::Union(c) => {
                self.state[i] = State::Emitting;
                if top_level || c.name.is_empty() {
                    let new_cont = if c.name.is_empty() { cont } else { id };
                    for m in &c.members {
                        self.emit(m.ty, new_cont, d)?;
                    }
                } else if !self.fwd_done[i] && id != cont {
                    self.fwd(id)?;
                }
                if top_level {
                    let body = self.composite(id, 0)?;
                    let _ = write!(self.out, "{body};\n\n");
                    self.state[i] = State::Done;
                } else {
                    self.state[i] = State::New;
                }
            }
            Type::FuncProto { ret, params } => {
                self.emit(*ret, cont, d)?;
                for p in params {
                    self.emit(p.ty, cont, d)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `struct foo;` (or `union foo;`), once.
    fn fwd(&mut self, id: u32) -> Result<()> {
        self.fwd_done[id as usize] = true;
        let line = format!("{};\n\n", self.tag_ref(id)?);
        self.out.push_str(&line);
        Ok(())
    }

    /// `typedef <decl>;`, once (`fwd_done` marks it written); the compiler's own
    /// `__builtin_va_list` is never declared.
    fn typedef_line(&mut self, id: u32, target: u32, depth: usize) -> Result<()> {
        self.fwd_done[id as usize] = true;
        if self.btf.name_of(id) == "__builtin_va_list" {
            return Ok(());
        }
        let name = self.ident_ref(id)?;
        let decl = self.decl(target, name.into(), 0, depth + 1)?;
        let _ = write!(self.out, "typedef {decl};\n\n");
        Ok(())
    }

    // ---- names ----

    fn resolve_name(&mut self, id: u32, ident: bool) -> Result<Name> {
        if let Some(n) = &self.names[id as usize] {
            return Ok(n.clone());
        }
        let base = self.btf.name_of(id);
        let map = if ident {
            &mut self.ident_names
        } else {
            &mut self.tag_names
        };
        let name = counted(map, base);
        self.names[id as usize] = Some(name.clone());
        Ok(name)
    }

    fn ident_ref(&mut self, id: u32) -> Result<Name> {
        self.resolve_name(id, true)
    }

    /// `struct foo`, `union bar`, `enum baz` for a named type.
    fn tag_ref(&mut self, id: u32) -> Result<String> {
        let kw = match self.ty(id)? {
            Type::Union(_) | Type::Fwd { union: true, .. } => "union",
            Type::Enum(_) => "enum",
            _ => "struct",
        };
        Ok(format!("{kw} {}", self.resolve_name(id, false)?))
    }

    fn enumerator(&mut self, name: &str) -> Name {
        counted(&mut self.ident_names, name)
    }

    // ---- declarations ----

    /// The C declaration of `inner` (a name, or a declarator built so far) with type `id`.
    fn decl(&mut self, id: u32, inner: String, lvl: usize, depth: usize) -> Result<String> {
        if depth > MAX_DEPTH {
            bail!("BTF type {id}: type chain deeper than {MAX_DEPTH}");
        }
        let d = depth + 1;
        Ok(match self.ty(id)? {
            Type::Void => join("void", &inner),
            Type::Int(i) => join(&i.name, &inner),
            Type::Float { name, .. } => join(name, &inner),
            Type::Typedef { .. } => {
                let name = self.ident_ref(id)?;
                join(&name, &inner)
            }
            Type::Ptr { target } => {
                // libbpf's spelling: `* const p` for a qualified pointer.
                let q = ["const ", "volatile ", "restrict "];
                let star = if q
                    .iter()
                    .any(|q| inner.starts_with(q) || inner == q.trim_end())
                {
                    prepend("* ", &inner)
                } else {
                    prepend("*", &inner)
                };
                self.decl(*target, star, lvl, d)?
            }
            Type::Const { target } | Type::Volatile { target } | Type::Restrict { target } => {
                let q = match self.ty(id)? {
                    Type::Const { .. } => "const",
                    Type::Volatile { .. } => "volatile",
                    _ => "restrict",
                };
                if matches!(self.btf.skip_mods(*target), Ok((_, Type::Ptr { .. }))) {
                    self.decl(*target, join(q, &inner), lvl, d)?
                } else {
                    let decl = self.decl(*target, inner, lvl, d)?;
                    // A qualified array of qualified elements says it once.
                    if decl
                        .strip_prefix(q)
                        .is_some_and(|rest| rest.starts_with(' '))
                    {
                        decl
                    } else {
                        join(q, &decl)
                    }
                }
            }
            Type::TypeTag { target, .. } => self.decl(*target, inner, lvl, d)?,
            Type::Array { elem, len, .. } => {
                self.decl(*elem, format!("{}[{len}]", wrap(inner)), lvl, d)?
            }
            Type::FuncProto { ret, params } => {
                let mut ps = Vec::with_capacity(params.len());
                for (k, p) in params.iter().enumerate() {
                    if p.ty == 0 && k + 1 == params.len() {
                        ps.push("...".to_owned());
                    } else {
                        ps.push(self.decl(p.ty, p.name.to_string(), lvl, d)?);
                    }
                }
                let ps = if ps.is_empty() {
                    "void".to_owned()
                } else {
                    ps.join(", ")
                };
                let pointer = inner.starts_with('*');
                let declarator = format!("{}({ps})", wrap(inner));
                if !pointer || self.returns_function(*ret) {
                    self.decl(*ret, declarator, lvl, d)?
                } else {
                    // libbpf's spelling: the return type, a space, the declarator.
                    format!("{} {declarator}", self.decl(*ret, String::new(), lvl, d)?)
                }
            }
            Type::Struct(c) | Type::Union(c) if c.name.is_empty() => {
                join(&self.composite(id, lvl)?, &inner)
            }
            Type::Enum(e) if e.name.is_empty() => join(&self.enum_body(id, lvl)?, &inner),
            Type::Struct(_) | Type::Union(_) | Type::Enum(_) | Type::Fwd { .. } => {
                join(&self.tag_ref(id)?, &inner)
            }
            t => bail!(
                "BTF type {id} ({}) cannot be used as a C type",
                super::raw_dump::kind_name(t)
            ),
        })
    }

    /// Whether a return type is a pointer to a function (which C nests in the declarator).
    fn returns_function(&self, ret: u32) -> bool {
        let Ok((_, Type::Ptr { target })) = self.btf.skip_mods(ret) else {
            return false;
        };
        matches!(self.btf.skip_mods(*target), Ok((_, Type::FuncProto { .. })))
    }

    /// `enum name {\n\tA = 0,\n}` (no trailing `;`), at indent `lvl`.
    fn enum_body(&mut self, id: u32, lvl: usize) -> Result<String> {
        let Type::Enum(e) = self.ty(id)? else {
            bail!("BTF type {id} is not an enum");
        };
        let head = if e.name.is_empty() {
            "enum".to_owned()
        } else {
            self.tag_ref(id)?
        };
        if e.values.is_empty() {
            return Ok(head);
        }
        let mut s = String::with_capacity(head.len() + 2 + 32 * e.values.len());
        s.push_str(&head);
        s.push_str(" {");
        for (name, v) in &e.values {
            let name = self.enumerator(name);
            let _ = write!(s, "\n{}{name} = {},", tabs(lvl + 1), enum_value(e, *v));
        }
        let _ = write!(s, "\n{}}}", tabs(lvl));
        Ok(s)
    }

    /// `struct name {\n ... \n}` with exact layout (no trailing `;`), at indent `lvl`.
    fn composite(&mut self, id: u32, lvl: usize) -> Result<String> {
        let t = self.ty(id)?;
        let (c, is_struct): (&Composite, bool) = match t {
            Type::Struct(c) => (c, true),
            Type::Union(c) => (c, false),
            _ => bail!("BTF type {id} is not a struct or union"),
        };
        let head = if c.name.is_empty() {
            if is_struct { "struct" } else { "union" }.to_owned()
        } else {
            self.tag_ref(id)?
        };
        let packed = is_struct && self.is_packed(c)?;
        let align = self.align_of(id, 0)?;
        let mut s = String::with_capacity(head.len() + 2 + 40 * c.members.len());
        s.push_str(&head);
        s.push_str(" {");
        let mut off: u32 = 0;
        let mut prev_bitfield = false;
        for m in &c.members {
            let m_align = if packed { 1 } else { self.align_of(m.ty, 0)? };
            let in_bitfield = prev_bitfield && m.bitfield != 0;
            if is_struct {
                bit_padding(&mut s, off, m.bit_offset, m_align, in_bitfield, lvl + 1)?;
            }
            let decl = self.decl(m.ty, m.name.to_string(), lvl + 1, 0)?;
            let _ = write!(s, "\n{}{decl}", tabs(lvl + 1));
            if m.bitfield != 0 {
                let _ = write!(s, ": {}", m.bitfield);
                off = m.bit_offset + m.bitfield;
                prev_bitfield = true;
            } else {
                let size = self.btf.size_of(m.ty).unwrap_or(0) as u32;
                off = m.bit_offset.saturating_add(size.saturating_mul(8));
                prev_bitfield = false;
            }
            s.push(';');
        }
        if is_struct {
            bit_padding(&mut s, off, c.size.saturating_mul(8), align, false, lvl + 1)
                .with_context(|| format!("BTF type {id}"))?;
        }
        if !c.members.is_empty() || c.size != 0 {
            let _ = write!(s, "\n{}}}", tabs(lvl));
        } else {
            s.push('}');
        }
        if packed {
            s.push_str(" __attribute__((packed))");
        }
        Ok(s)
    }

    /// libbpf's rule: a struct is packed when a non-bitfield member is not naturally aligned
    /// or its size is not a multiple of its alignment.
    fn is_packed(&mut self, c: &Composite) -> Result<bool> {
        let mut max_align = 1;
        for m in &c.members {
            let align = self.align_of(m.ty, 0)?;
            if align != 0 && m.bitfield == 0 && !m.bit_offset.is_multiple_of(8 * align) {
                return Ok(true);
            }
            max_align = max_align.max(align);
        }
        Ok(!c.size.is_multiple_of(max_align))
    }

    /// The natural alignment of a type in bytes (libbpf's btf__align_of).
    fn align_of(&mut self, id: u32, depth: usize) -> Result<u32> {
        if depth > MAX_DEPTH {
            bail!("BTF type {id}: type chain deeper than {MAX_DEPTH}");
        }
        if let Some(&a) = self.align.get(id as usize) {
            if a != 0 {
                return Ok(a);
            }
        }
        let a = match self.ty(id)? {
            Type::Int(i) => i.size.clamp(1, PTR_BITS / 8),
            Type::Enum(Enum { size, .. }) | Type::Float { size, .. } => {
                (*size).clamp(1, PTR_BITS / 8)
            }
            Type::Ptr { .. } => PTR_BITS / 8,
            Type::Typedef { target, .. }
            | Type::Const { target }
            | Type::Volatile { target }
            | Type::Restrict { target }
            | Type::TypeTag { target, .. } => self.align_of(*target, depth + 1)?,
            Type::Array { elem, .. } => self.align_of(*elem, depth + 1)?,
            Type::Struct(c) | Type::Union(c) => {
                let mut max_align = 1;
                let mut packed = false;
                for m in &c.members {
                    let a = self.align_of(m.ty, depth + 1)?;
                    max_align = max_align.max(a);
                    if m.bitfield == 0 && !m.bit_offset.is_multiple_of(8 * a) {
                        packed = true;
                    }
                }
                if packed || !c.size.is_multiple_of(max_align) {
                    1
                } else {
                    max_align
                }
            }
            _ => 1,
        };
        if let Some(slot) = self.align.get_mut(id as usize) {
            *slot = a;
        }
        Ok(a)
    }
}

fn enum_value(e: &Enum, v: i64) -> String {
    match (e.is64, e.signed) {
        (false, true) => (v as i32).to_string(),
        (false, false) => (v as u32).to_string(),
        (true, true) => format!("{v}LL"),
        (true, false) => format!("{}ULL", v as u64),
    }
}

/// Explicit padding from bit `cur` to bit `next` (libbpf's btf_dump_emit_bit_padding): the
/// largest of long/int/short/char that aligns, `type: 0;` markers where the compiler would
/// not align by itself, then `type: N;` fillers.
fn bit_padding(
    s: &mut String,
    cur: u32,
    next: u32,
    next_align: u32,
    in_bitfield: bool,
    lvl: usize,
) -> Result<()> {
    const PADS: [(&str, u32); 4] = [("long", PTR_BITS), ("int", 32), ("short", 16), ("char", 8)];
    if cur >= next {
        return Ok(());
    }
    if next - cur > MAX_PAD_BITS {
        bail!(
            "a padding gap of {} bytes in a struct (corrupt BTF?)",
            (next - cur) / 8
        );
    }
    let mut cur = cur;
    let (mut pad_type, mut pad_bits, mut new_off) = ("char", 8, cur);
    for (name, bits) in PADS {
        pad_type = name;
        pad_bits = bits;
        new_off = roundup(cur, bits);
        if new_off <= next {
            break;
        }
    }
    if new_off > cur && new_off <= next {
        if in_bitfield
            || (new_off == next && roundup(cur, next_align * 8) != new_off)
            || (new_off != next && next - new_off <= new_off - cur)
        {
            let n = if in_bitfield { new_off - cur } else { 0 };
            let _ = write!(s, "\n{}{pad_type}: {n};", tabs(lvl));
        }
        cur = new_off;
    }
    while cur != next {
        let bits = (next - cur).min(pad_bits);
        if bits == pad_bits {
            let _ = write!(s, "\n{}{pad_type}: {pad_bits};", tabs(lvl));
            cur += bits;
            continue;
        }
        for (name, pbits) in PADS.iter().rev() {
            if *pbits < bits {
                continue;
            }
            let _ = write!(s, "\n{}{name}: {bits};", tabs(lvl));
            cur += bits;
            break;
        }
    }
    Ok(())
}
