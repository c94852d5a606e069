// Per-event cost of a generated rule module's step function on a synthetic stream, with 10,
// 1,000 and 10,000 rules (goals: < 100 ns/event at 1,000 rules; 10,000 rules within 2x of 10).
// Run: npx tsx bench/step-bench.ts   (not a timed unit test; prints figures and ratios)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAutomaton } from '../compiler/lower/automaton.ts';
import { loadProgram } from '../compiler/check/program.ts';
import { emitC } from '../codegen-c/emit.ts';
import { buildHarness } from '../codegen-c/harness/build.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SIZES = [10, 1000, 10000];
const HIT_EVERY = 10; // one leader event in ten is taken by a rule, the rest by the default match

function rulesText(n: number): string {
  // Rule k: a write to fd 100+k reaches the follower as two writes (the jemalloc split).
  const lines: string[] = [];
  for (let k = 0; k < n; k++) lines.push(`write(${100 + k},_,_) => write(${100 + k},_,_), write(${100 + k},_,_)`);
  return lines.join('\n') + '\n';
}

const root = mkdtempSync(path.join(tmpdir(), 'mvrc-bench-'));
const results: { n: number; nsEvent: number; nsStep: number; compileMs: number }[] = [];
for (const n of SIZES) {
  const dir = path.join(root, `r${n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'bench.mvr'), rulesText(n));
  const t0 = Date.now();
  const program = loadProgram(['bench.mvr'], { cwd: dir });
  const errors = program.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`bench rules do not check: ${errors[0]!.message}`);
  const { files } = emitC(program, buildAutomaton(program), { moduleName: `bench${n}` });
  const exe = buildHarness(path.join(dir, 'build'), files, { main: path.join(HERE, 'step-bench.c') });
  const compileMs = Date.now() - t0;
  const r = spawnSync(exe, [String(n), String(HIT_EVERY)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench failed: ${r.stderr}`);
  const [, , nsEvent, nsStep] = r.stdout.trim().split(/\s+/).map(Number);
  results.push({ n, nsEvent: nsEvent!, nsStep: nsStep!, compileMs });
}
const base = results[0]!;
console.log(`step cost, synthetic write stream (1 event in ${HIT_EVERY} split by a rule), best of 5 runs of 1,000,000 events`);
console.log('rules      ns/event   ns/step   vs 10 rules   compile+build');
for (const r of results) {
  console.log(
    `${String(r.n).padStart(6)}   ${r.nsEvent.toFixed(1).padStart(8)}  ${r.nsStep.toFixed(1).padStart(8)}   ${(r.nsEvent / base.nsEvent).toFixed(2).padStart(8)}x   ${String(r.compileMs).padStart(8)} ms`,
  );
}
const r1k = results.find((r) => r.n === 1000)!;
const r10k = results.find((r) => r.n === 10000)!;
console.log(`goal: < 100 ns/event at 1,000 rules: ${r1k.nsEvent < 100 ? 'met' : 'NOT met'} (${r1k.nsEvent.toFixed(1)} ns)`);
console.log(`goal: 10,000 rules within 2x of 10: ${r10k.nsEvent / base.nsEvent <= 2 ? 'met' : 'NOT met'} (${(r10k.nsEvent / base.nsEvent).toFixed(2)}x)`);
