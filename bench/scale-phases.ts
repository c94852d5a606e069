// Where `mvrc build` spends its time on one rule file, phase by phase, in one process (so Node
// start-up is left out): parsing, checking (with the cross-rule conflict detection), the
// automaton, the C text, and the C compiler. Run by scale-bench.mjs; alone: npx tsx bench/scale-phases.ts FILE
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseSource } from '../grammar/index.ts';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { loadProgram } from '../compiler/check/program.ts';
import { buildAutomaton } from '../compiler/lower/automaton.ts';
import { emitC } from '../codegen-c/emit.ts';
import { buildModule, runtimeIncludeDir } from '../codegen-c/cc.ts';

const file = process.argv[2];
if (!file) {
  console.error('usage: scale-phases.ts FILE.mvr');
  process.exit(2);
}
const text = readFileSync(file, 'utf8');
const rows: [string, number][] = [];
const timed = <T>(name: string, f: () => T): T => {
  const t0 = performance.now();
  const r = f();
  rows.push([name, performance.now() - t0]);
  return r;
};
// The parser is built once per process; build it before timing the parse.
parseSource({ path: 'warm.mvr', text: 'open(_,_,_) => nothing\n' }, new DiagnosticBag());
timed('parse', () => parseSource({ path: file, text }, new DiagnosticBag()));
const program = timed('parse + check (loadProgram)', () => loadProgram([path.basename(file)], { cwd: path.dirname(file) }));
const automaton = timed('automaton (lower + dispatch)', () => buildAutomaton(program));
const { files, manifest } = timed('C text (emitC)', () => emitC(program, automaton, {}));
const dir = mkdtempSync(path.join(tmpdir(), 'mvrc-phases-'));
try {
  for (const [n, t] of files) writeFileSync(path.join(dir, n), t);
  for (const h of ['mvr_rules.h', ...manifest.runtimeHeaders]) copyFileSync(path.join(runtimeIncludeDir(), h), path.join(dir, h));
  const cc = timed('cc (compile + link)', () => buildModule(dir, { sources: program.sources, entry: file, cwd: path.dirname(file) }));
  if (!cc.ok) console.log(`cc failed: ${cc.stderr.slice(0, 500)}`);
  const total = rows.slice(1).reduce((s, [, ms]) => s + ms, 0);
  for (const [name, ms] of rows) console.log(`  ${name.padEnd(30)} ${(ms / 1000).toFixed(2).padStart(7)} s${name === 'parse' ? '' : `  ${((100 * ms) / total).toFixed(0).padStart(3)}%`}`);
  console.log(`  ${'C text size'.padEnd(30)} ${((files.get('rules.c') ?? '').length / 1e6).toFixed(1).padStart(7)} MB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
