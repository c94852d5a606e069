// The matching automaton as Graphviz DOT (for `mvrc graph`): dispatch nodes, each rule's left and
// right side as chains. Pure text; the command decides where it goes and whether to render SVG.
import type { Automaton } from './automaton.ts';
import type { IrAlt, IrRightItem, IrRule } from './ir.ts';

const q = (s: string): string => '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';

function altText(alts: IrAlt[]): string {
  const names = [...new Set(alts.map((a) => a.syscall.name))];
  return names.length === 1 ? names[0]! : `{${names.join(', ')}}`;
}

function rightText(r: IrRule, it: IrRightItem): string {
  const base = it.kind === 'call' ? altText(it.alts) : it.kind === 'label' ? `${it.label} (left ${it.item + 1})` : `${it.label}(...) replay`;
  return base + (it.guard ? ' [guard]' : '') + (it.callback ? ' [callback]' : '') + (r.rhs === 'seq' && it.star ? ' *' : '');
}

/** The automaton as DOT: dispatch nodes (leader syscall, follower syscall for `nothing` rules,
 *  begin), each rule's left side as a chain and its right side as a chain (starred items loop). */
export function automatonToDot(a: Automaton, title: string): string {
  const out: string[] = [];
  out.push(`digraph mvr {`, `  label=${q(title)};`, '  rankdir=LR;', '  node [shape=box, fontname="monospace", fontsize=10];', '  edge [fontname="monospace", fontsize=9];');
  out.push('  idle [shape=circle, label="idle"];');
  out.push('  default [shape=box, style=dashed, label="default: same syscall,\\nequal inputs -> MATCH"];');
  const syscallName = (nr: number) => a.syscall(nr)?.name ?? `#${nr}`;
  for (const nr of [...a.leader.keys()].sort((x, y) => x - y)) {
    const ids = a.leader.get(nr)!;
    const idx = a.literal.get(nr);
    out.push(`  L${nr} [shape=ellipse, label=${q(`leader ${syscallName(nr)}` + (idx ? `\n(indexed by arg ${idx.arg})` : ''))}];`);
    out.push(`  idle -> L${nr};`);
    ids.forEach((id, i) => out.push(`  L${nr} -> R${id} [label=${q(String(i + 1))}];`));
    out.push(`  L${nr} -> default [style=dashed, label="then"];`);
  }
  for (const nr of [...a.nothing.keys()].sort((x, y) => x - y)) {
    out.push(`  F${nr} [shape=ellipse, label=${q(`follower ${syscallName(nr)}\n(no rule, no default)`)}];`, `  idle -> F${nr};`);
    a.nothing.get(nr)!.forEach((id, i) => out.push(`  F${nr} -> R${id} [label=${q(String(i + 1))}];`));
  }
  if (a.begin >= 0) out.push(`  start [shape=doublecircle, label="start"];`, `  start -> R${a.begin};`);
  for (const r of a.rules) {
    out.push(`  R${r.id} [shape=box, style=bold, label=${q(`rule ${r.id}${r.name ? ' @' + r.name : ''}  ${r.file}:${r.line}\n${r.text.length > 60 ? r.text.slice(0, 57) + '...' : r.text}`)}];`);
    let prev = `R${r.id}`;
    r.left.forEach((it, i) => {
      const n = `R${r.id}_l${i}`;
      out.push(`  ${n} [label=${q(`L${i + 1}: ${altText(it.alts)}${it.label ? ' as ' + it.label : ''}${it.guard ? ' [guard]' : ''}`)}];`);
      out.push(`  ${prev} -> ${n};`);
      prev = n;
    });
    if (r.rhs === 'nothing') {
      out.push(`  R${r.id}_n [shape=plaintext, label="nothing: SKIP"];`, `  ${prev} -> R${r.id}_n;`);
    } else if (r.rhs === 'diverge') {
      out.push(`  R${r.id}_d [shape=octagon, label=${q(`diverge ${r.reason}`)}];`, `  ${prev} -> R${r.id}_d;`);
    }
    r.right.forEach((it, p) => {
      const n = `R${r.id}_r${p}`;
      out.push(`  ${n} [shape=box, style=rounded, label=${q(`F${p + 1}: ${rightText(r, it)}`)}];`);
      out.push(`  ${prev} -> ${n}${prev.includes('_r') ? '' : ' [style=dotted]'};`);
      if (it.star) out.push(`  ${n} -> ${n} [label="*"];`);
      prev = n;
    });
    if (r.rhs === 'seq') out.push(`  ${prev} -> idle [style=dotted, label="done"];`);
  }
  out.push('}');
  return out.join('\n') + '\n';
}
