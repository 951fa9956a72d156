// The control-flow graph of a program's instructions, written as Graphviz DOT: one cluster
// per function, one record node per basic block, ENTRY and EXIT nodes, and edges for
// fall-through (bold) and taken jumps (as bpftool's `prog dump xlated ... visual`).

use std::collections::BTreeSet;
use std::fmt::Write;

use super::{jump_target, Insn, BPF_EXIT, BPF_JA, BPF_JMP};

/// One function to draw: its name and the instruction range [start, end).
pub struct Func<'a> {
    pub name: &'a str,
    pub start: usize,
    pub end: usize,
}

/// A basic block: instruction range [start, end) inside one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub start: usize,
    pub end: usize,
}

/// Split [start, end) into basic blocks: a block starts at the function's start, at every
/// jump target and after every jump or exit.
pub fn blocks(insns: &[Insn], start: usize, end: usize) -> Vec<Block> {
    let mut leaders = BTreeSet::from([start]);
    let mut i = start;
    while i < end {
        let insn = &insns[i];
        let width = if insn.is_ld_imm64() { 2 } else { 1 };
        if insn.is_jmp_class() && insn.op() != super::BPF_CALL {
            if let Some(t) = jump_target(i, insn).filter(|t| (start..end).contains(t)) {
                leaders.insert(t);
            }
            if i + width < end {
                leaders.insert(i + width);
            }
        }
        i += width;
    }
    let starts: Vec<usize> = leaders.into_iter().collect();
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| Block {
            start: s,
            end: starts.get(k + 1).copied().unwrap_or(end),
        })
        .collect()
}

/// The last real instruction of a block (the first half of a 64-bit load counts).
fn last_insn(insns: &[Insn], b: &Block) -> usize {
    let mut i = b.start;
    let mut last = b.start;
    while i < b.end {
        last = i;
        i += if insns[i].is_ld_imm64() { 2 } else { 1 };
    }
    last
}

/// Escape text for a DOT record label.
fn escape(text: &str, out: &mut String) {
    for ch in text.chars() {
        if matches!(ch, '"' | '{' | '}' | '|' | '<' | '>' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
}

/// The whole graph. `lines[i]` is the text shown for instruction i (the caller's
/// disassembly with its index and source lines).
pub fn dot(insns: &[Insn], funcs: &[Func<'_>], lines: &[String]) -> String {
    let mut out = String::from("digraph \"DOT graph for eBPF program\" {\n");
    for (f, func) in funcs.iter().enumerate() {
        let bbs = blocks(insns, func.start, func.end.min(insns.len()));
        let node = |n: usize| format!("fn_{f}_bb_{n}");
        let exit_node = node(bbs.len() + 1);
        let _ = writeln!(out, "subgraph \"cluster_{f}\" {{");
        out.push_str("\tstyle=\"dashed\";\n\tcolor=\"black\";\n");
        let mut label = String::new();
        escape(func.name, &mut label);
        let _ = writeln!(out, "\tlabel=\"func_{f} ({label})\";");
        let _ = writeln!(
            out,
            "\t{} [shape=Mdiamond,style=filled,label=\"ENTRY\"];\n",
            node(0)
        );
        for (k, b) in bbs.iter().enumerate() {
            let _ = write!(
                out,
                "\t{} [shape=record,style=filled,label=\"{{",
                node(k + 1)
            );
            let mut first = true;
            for line in lines.iter().take(b.end).skip(b.start) {
                if line.is_empty() {
                    continue;
                }
                if !first {
                    out.push_str(" | ");
                }
                first = false;
                for l in line.lines() {
                    escape(l, &mut out);
                    out.push_str("\\l\\\n");
                }
            }
            out.push_str("}\"];\n\n");
        }
        let _ = writeln!(
            out,
            "\t{exit_node} [shape=Mdiamond,style=filled,label=\"EXIT\"];\n"
        );
        let bold = "[style=\"solid,bold\", color=black, weight=10, constraint=true]";
        let taken = "[style=\"solid,bold\", color=green, weight=10, constraint=true]";
        if !bbs.is_empty() {
            let _ = writeln!(out, "\t{}:s -> {}:n {bold};", node(0), node(1));
        }
        for (k, b) in bbs.iter().enumerate() {
            let last = last_insn(insns, b);
            let insn = &insns[last];
            let is_exit = insn.class() == BPF_JMP && insn.op() == BPF_EXIT;
            let is_goto = insn.class() == BPF_JMP && insn.op() == BPF_JA;
            let jumps = insn.is_jmp_class() && insn.op() != super::BPF_CALL && !is_exit;
            if is_exit {
                let _ = writeln!(out, "\t{}:s -> {exit_node}:n {bold};", node(k + 1));
                continue;
            }
            if jumps {
                if let Some(t) = jump_target(last, insn) {
                    if let Some(tk) = bbs.iter().position(|bb| bb.start == t) {
                        let _ = writeln!(out, "\t{}:s -> {}:n {taken};", node(k + 1), node(tk + 1));
                    }
                }
            }
            if !is_goto {
                let next = if k + 1 < bbs.len() {
                    node(k + 2)
                } else {
                    exit_node.clone()
                };
                let _ = writeln!(out, "\t{}:s -> {next}:n {bold};", node(k + 1));
            }
        }
        let _ = writeln!(
            out,
            "\t{}:s -> {exit_node}:n [style=\"invis\", constraint=true];",
            node(0)
        );
        out.push_str("}\n");
    }
    out.push_str("}\n");
    out
}
