// mvrc graph FILE [-o OUT.dot]: the matching automaton as Graphviz DOT. Without -o the DOT text
// goes to stdout; with -o it is written to OUT.dot, and OUT.svg beside it when `dot` is on PATH.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildAutomaton, type Automaton } from '../automaton.ts';
import type { IrAlt, IrRightItem, IrRule } from '../ir.ts';
import { loadProgram } from '../program.ts';
import { diagnosticFormat, displayPath, emitDiagnostics, exitStatusFor, parseOptions, useColor } from './options.ts';
import { EXIT_OK, EXIT_USAGE, UsageError, type CliIO } from './types.ts';

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

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseOptions(args, { output: { type: 'string', short: 'o' }, format: { type: 'string' }, color: { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'graph takes one rule file' : 'no rule file given');
  const format = diagnosticFormat(values.format);
  const color = useColor(io, values.color);
  const file = displayPath(io.cwd, path.resolve(io.cwd, positionals[0]!));
  const program = loadProgram([file], { cwd: io.cwd });
  const status = exitStatusFor(program.diagnostics);
  emitDiagnostics(io, program.diagnostics, program.sources, format, color);
  if (status !== EXIT_OK) return status;
  const dot = automatonToDot(buildAutomaton(program), file);
  if (!values.output) {
    io.stdout(dot);
    return EXIT_OK;
  }
  const out = path.resolve(io.cwd, values.output);
  try {
    writeFileSync(out, dot);
  } catch (e) {
    io.stderr(`mvrc graph: error: cannot write '${values.output}': ${(e as Error).message}\n`);
    return EXIT_USAGE;
  }
  const svg = out.replace(/\.dot$/, '') + '.svg';
  const r = spawnSync('dot', ['-Tsvg', out, '-o', svg], { encoding: 'utf8', env: io.env });
  if (!r.error && r.status === 0) io.stderr(`wrote ${displayPath(io.cwd, out)} and ${displayPath(io.cwd, svg)}\n`);
  else io.stderr(`wrote ${displayPath(io.cwd, out)}${r.error ? " (no SVG: Graphviz 'dot' is not on PATH)" : ''}\n`);
  return EXIT_OK;
}
