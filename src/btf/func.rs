// Functions in BTF: FUNC_PROTO parameters, string lookups (line_info source lines), and a
// function's C signature spelled the way bpftool prints it above a function's code.

use super::{Btf, Type};

/// How deep a type may nest before the signature gives up (a loop in bad BTF).
const MAX_DEPTH: usize = 32;

impl Btf {
    /// The NUL-terminated string at `off` in the string section.
    pub fn string_at(&self, off: u32) -> Option<&str> {
        let rest = self.strings.get(off as usize..)?;
        let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).ok()
    }

    /// bpftool's spelling of a FUNC: `int xdp_prog(struct xdp_md * ctx)`; None when the
    /// type is not a function or cannot be spelled.
    pub fn func_signature(&self, func_id: u32) -> Option<String> {
        let mut out = String::new();
        self.spell(func_id, &mut out, 0)?;
        Some(out)
    }

    /// bpftool's spelling of a FUNC_PROTO (a function pointer's type): `u32 (struct sock *)`.
    pub fn proto_signature(&self, proto_id: u32) -> Option<String> {
        let mut out = String::new();
        self.spell_func(proto_id, None, &mut out, 0)?;
        Some(out)
    }

    fn spell(&self, id: u32, out: &mut String, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        if id == 0 {
            out.push_str("void ");
            return Some(());
        }
        let d = depth + 1;
        match self.get(id).ok()? {
            Type::Void => out.push_str("void "),
            Type::Int(i) => push_word(out, &i.name),
            Type::Typedef { name, .. } | Type::Float { name, .. } => push_word(out, name),
            Type::Struct(c) => push_word(out, &format!("struct {}", c.name)),
            Type::Union(c) => push_word(out, &format!("union {}", c.name)),
            Type::Enum(e) => push_word(out, &format!("enum {}", e.name)),
            Type::Fwd { name, union } => push_word(
                out,
                &format!("{} {name}", if *union { "union" } else { "struct" }),
            ),
            Type::Array { elem, len, .. } => {
                self.spell(*elem, out, d)?;
                out.push_str(&format!("[{len}]"));
            }
            Type::Ptr { target } => {
                self.spell(*target, out, d)?;
                out.push_str("* ");
            }
            Type::Volatile { target } => {
                out.push_str("volatile ");
                self.spell(*target, out, d)?;
            }
            Type::Const { target } => {
                out.push_str("const ");
                self.spell(*target, out, d)?;
            }
            Type::Restrict { target } => {
                out.push_str("restrict ");
                self.spell(*target, out, d)?;
            }
            Type::TypeTag { target, .. } | Type::DeclTag { target, .. } => {
                self.spell(*target, out, d)?
            }
            Type::FuncProto { .. } => self.spell_func(id, None, out, d)?,
            Type::Func { name, proto, .. } => self.spell_func(*proto, Some(name), out, d)?,
            Type::Var { name, .. } => push_word(out, name),
            Type::Datasec { .. } => return None,
        }
        Some(())
    }

    fn spell_func(
        &self,
        proto: u32,
        name: Option<&str>,
        out: &mut String,
        depth: usize,
    ) -> Option<()> {
        let Ok(Type::FuncProto { ret, params }) = self.get(proto) else {
            return None;
        };
        self.spell(*ret, out, depth)?;
        out.push_str(name.unwrap_or(""));
        out.push('(');
        for (i, super::Param { name: pname, ty }) in params.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if *ty == 0 {
                out.push_str("...");
                continue;
            }
            self.spell(*ty, out, depth)?;
            if !pname.is_empty() {
                out.push_str(pname);
            } else if out.ends_with(' ') {
                out.pop();
            }
        }
        out.push(')');
        Some(())
    }
}

fn push_word(out: &mut String, word: &str) {
    out.push_str(word);
    out.push(' ');
}

#[cfg(test)]
mod tests {
    use crate::btf::testing::Builder;

    #[test]
    fn strings_are_found_by_offset() {
        let mut b = Builder::new();
        b.int("unsigned int", 4, 0);
        let btf = b.build();
        assert_eq!(btf.string_at(1), Some("unsigned int"));
        assert_eq!(btf.string_at(10_000), None);
    }
}
