// The baseline of bench/verify-bench.mjs: verify as it was before streaming — both traces read
// whole (readTraceFile) and verified in memory (verifyTraces). Prints {ms, findings} as JSON.
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { loadProgram } from '../compiler/check/program.ts';
import { readTraceFile } from '../compiler/traces/trace.ts';
import { verifyTraces } from '../compiler/traces/verify.ts';

const [rules, leaderPath, followerPath] = process.argv.slice(2);
const t0 = performance.now();
const program = loadProgram([rules!], { cwd: process.cwd() });
const bag = new DiagnosticBag();
const leader = await readTraceFile(leaderPath!, bag);
const follower = await readTraceFile(followerPath!, bag);
const r = verifyTraces(program, leader!, follower!);
console.log(JSON.stringify({ ms: Math.round(performance.now() - t0), findings: r.findings.length }));
