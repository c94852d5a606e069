// The matching automaton as Graphviz DOT (for `mvrc graph`): dispatch nodes, each rule's left and
// right side as chains. Pure text; the command decides where it goes and whether to render SVG.
import type { Automaton } from './automaton.ts';
import type { IrAlt, IrRightItem, IrRule } from './ir.ts';

/** What the shapes and edges mean, drawn beside the automaton. */
function legend(): string[] {
  const items: [string, string][] = [
    ['shape=ellipse', 'dispatch: the next leader event\'s syscall\n(or the follower\'s, for nothing => rules)'],
    ['shape=box, style=bold', 'rule (file:line)'],
    ['shape=box', 'L1, L2 ...: left items, leader events'],
    ['shape=box, style=rounded', 'F1, F2 ...: right items, follower calls'],
    ['shape=box, style=dashed', 'the default match'],
    ['shape=octagon', 'diverge (expected divergence)'],
    ['shape=plaintext', 'nothing: the leader events are skipped'],
  ];
  const out = ['  subgraph cluster_legend {', '    label="legend"; style=dashed; fontname="monospace"; fontsize=10;'];
  items.forEach(([attrs, text], i) => out.push(`    legend${i} [${attrs}, label=${q(text)}];`));
  out.push(`    legend_e [shape=plaintext, label=${q('edges: 1, 2, 3 ... the order rules are tried;\ndotted: left side -> right side; * loop: starred item;\n"done": the rule completes')}];`);
  // Invisible edges keep the legend in one column.
  for (let i = 0; i < items.length; i++) out.push(`    legend${i} -> ${i + 1 < items.length ? `legend${i + 1}` : 'legend_e'} [style=invis];`);
  out.push('  }');
  return out;
}

const q = (s: string): string => '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';

function altText(alts: IrAlt[]): string {
  const names = [...new Set(alts.map((a) => a.syscall.name))];
  return names.length === 1 ? names[0]! : `{${names.join(', ')}}`;
}

function rightText(r: IrRule, it: IrRightItem): string {
  const base = it.kind === 'call' ? altText(it.alts) : it.kind === 'label' ? `${it.label} (left ${it.item + 1})` : `${it.label}(...) replay`;
  return base + (it.guard ? ' [guard]' : '') + (it.callback ? ' [callback]' : '') + (r.rhs === 'seq' && it.star ? ' *' : '');
}

/**
 * The automaton as DOT: dispatch nodes (leader syscall, follower syscall for `nothing` rules,
 * begin), each rule's left side as a chain and its right side as a chain (starred items loop),
 * and a legend. The numbered edges from a dispatch node are the order the matcher tries the rules
 * in (docs/semantics.md, "The step"): mapping and `diverge` rules in file order, then the default
 * match, then leader-only rules (`X => nothing`), which apply only where the default does not;
 * `nothing => ...` rules come last, from the follower's syscall.
 */
export function automatonToDot(a: Automaton, title: string): string {
  const out: string[] = [];
  out.push(`digraph mvr {`, `  label=${q(title)};`, '  rankdir=LR;', '  node [shape=box, fontname="monospace", fontsize=10];', '  edge [fontname="monospace", fontsize=9];');
  out.push(...legend());
  out.push('  idle [shape=circle, label="idle"];');
  out.push('  default [shape=box, style=dashed, label="default: same syscall,\\nequal inputs -> MATCH"];');
  const syscallName = (nr: number) => a.syscall(nr)?.name ?? `#${nr}`;
  for (const nr of [...a.leader.keys()].sort((x, y) => x - y)) {
    const ids = a.leader.get(nr)!;
    const idx = a.literal.get(nr);
    out.push(`  L${nr} [shape=ellipse, label=${q(`leader ${syscallName(nr)}` + (idx ? `\n(indexed by arg ${idx.arg})` : ''))}];`);
    out.push(`  idle -> L${nr};`);
    let n = 0;
    for (const id of ids) if (a.rules[id]!.rhs !== 'nothing') out.push(`  L${nr} -> R${id} [label=${q(String(++n))}];`);
    out.push(`  L${nr} -> default [style=dashed, label=${q(`${++n} default`)}];`);
    for (const id of ids) if (a.rules[id]!.rhs === 'nothing') out.push(`  L${nr} -> R${id} [label=${q(`${++n} no default`)}];`);
  }
  for (const nr of [...a.nothing.keys()].sort((x, y) => x - y)) {
    out.push(`  F${nr} [shape=ellipse, label=${q(`follower ${syscallName(nr)}\n(no leader rule, no default)`)}];`, `  idle -> F${nr};`);
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
