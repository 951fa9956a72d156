// Validation of a parsed BTF: every type id a type refers to exists, and no type contains
// itself (a struct holding itself by value, a typedef or pointer loop). After it, any walk
// that follows references terminates, so the readers and dumpers need no cycle checks.

use anyhow::{bail, Result};

use super::{Btf, Type};

/// The ids a type refers to (into `out`).
pub(super) fn refs(t: &Type, out: &mut Vec<u32>) {
    out.clear();
    append_refs(t, out);
}

/// Append the ids a type refers to to `out`.
fn append_refs(t: &Type, out: &mut Vec<u32>) {
    match t {
        Type::Ptr { target }
        | Type::Typedef { target, .. }
        | Type::Volatile { target }
        | Type::Const { target }
        | Type::Restrict { target }
        | Type::Var { target, .. }
        | Type::DeclTag { target, .. }
        | Type::TypeTag { target, .. } => out.push(*target),
        Type::Array { elem, index, .. } => out.extend([*elem, *index]),
        Type::Struct(c) | Type::Union(c) => out.extend(c.members.iter().map(|m| m.ty)),
        Type::Func { proto, .. } => out.push(*proto),
        Type::FuncProto { ret, params } => {
            out.push(*ret);
            out.extend(params.iter().map(|p| p.ty));
        }
        Type::Datasec { vars, .. } => out.extend(vars.iter().map(|v| v.var)),
        Type::Void | Type::Int(_) | Type::Enum(_) | Type::Fwd { .. } | Type::Float { .. } => {}
    }
}

pub(super) fn validate(btf: &Btf) -> Result<()> {
    let n = btf.types.len();
    let mut buf = Vec::new();
    for (id, t) in btf.types.iter().enumerate().skip(btf.start_id as usize) {
        refs(t, &mut buf);
        if let Some(bad) = buf.iter().find(|&&r| r as usize >= n) {
            bail!("BTF type {id} refers to type {bad}, which does not exist ({n} types)");
        }
        if let Type::Int(i) = t {
            if i.size > 16 || i.bit_offset + i.bits > i.size * 8 {
                bail!(
                    "BTF type {id}: integer of {} bytes with {} bits",
                    i.size,
                    i.bits
                );
            }
        }
    }
    // A legitimate cycle (struct list_head { struct list_head *next; }) goes through both a
    // pointer and a struct or union. A cycle with no pointer is a type containing itself; a
    // cycle with no struct/union is a loop of pointers, typedefs or modifiers.
    find_cycle(btf, |t| matches!(t, Type::Ptr { .. }), "contains itself")?;
    find_cycle(
        btf,
        |t| matches!(t, Type::Struct(_) | Type::Union(_)),
        "refers to itself through a loop of pointers, typedefs or modifiers",
    )?;
    Ok(())
}

/// Look for a cycle in the reference graph where the out-edges of types `cut` selects are
/// removed; iterative depth-first search, so a long chain cannot overflow the stack. The
/// children of every open type sit in one flat `edges` stack (no allocation per type).
fn find_cycle(btf: &Btf, cut: impl Fn(&Type) -> bool, what: &str) -> Result<()> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let n = btf.types.len();
    let mut state = vec![NEW; n];
    let mut edges: Vec<u32> = Vec::new();
    // (type id, start of its children in `edges`, index of its next child). The top frame's
    // children always end `edges`: the frames above it truncated theirs when they closed.
    let mut stack: Vec<(u32, usize, usize)> = Vec::new();
    let open = |id: u32, edges: &mut Vec<u32>| -> (u32, usize, usize) {
        let start = edges.len();
        let t = &btf.types[id as usize];
        if !cut(t) {
            append_refs(t, edges);
        }
        (id, start, start)
    };
    for root in btf.start_id as usize..n {
        if state[root] != NEW {
            continue;
        }
        state[root] = OPEN;
        stack.push(open(root as u32, &mut edges));
        while let Some((id, start, next)) = stack.last_mut() {
            if let Some(&child) = edges.get(*next) {
                *next += 1;
                if child == 0 {
                    continue;
                }
                match state[child as usize] {
                    NEW => {
                        state[child as usize] = OPEN;
                        let frame = open(child, &mut edges);
                        stack.push(frame);
                    }
                    OPEN => bail!("BTF type {child} {what} (through type {id})"),
                    _ => {}
                }
            } else {
                state[*id as usize] = DONE;
                edges.truncate(*start);
                stack.pop();
            }
        }
    }
    Ok(())
}
