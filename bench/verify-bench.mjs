#!/usr/bin/env node
// mvrc verify on large traces: time and peak memory (RSS) of the native verify (dist/mvrc.cjs: the
// compiled rules driven over the streamed traces) against the reference interpreter in the same run
// (`--interpreter`), and with --in-memory the verify of before streaming (bench/verify-inmemory.ts:
// both traces read whole), on a generated pair (bench/gen-trace-pair.mjs) of N events a side —
// identical, then diverging near the start. Goals: 1M events a side in <= 5 s on an idle machine,
// RSS <= 256 MB whatever N. CPU times include the native verifier's (a child of the CLI).
//   npm run build && node bench/verify-bench.mjs [--events N] [--in-memory]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const events = (() => {
  const i = args.indexOf('--events');
  return i >= 0 ? Number(args[i + 1]) : 1_000_000;
})();
const baseline = args.includes('--in-memory');
const dir = mkdtempSync(join(tmpdir(), 'mvrc-verify-bench-'));
const rules = join(dir, 'none.mvr');
writeFileSync(rules, '// the default match only\n');

/** Runs a command under /usr/bin/time: wall and CPU (user + system) seconds, peak RSS in MB. On a
 *  shared machine the wall time grows with the load, the CPU time much less. */
function measure(cmd, cmdArgs) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', cmd, ...cmdArgs], { cwd: repo, encoding: 'utf8', maxBuffer: 1 << 26 });
  const m = /(\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+)\s*$/.exec(r.stderr);
  if (!m) return { s: NaN, cpu: NaN, mb: NaN, out: r.stdout + r.stderr };
  // What it said: the summary on stdout, or else the first finding's headline on stderr.
  const said = r.stdout.trim().split('\n').pop() || r.stderr.slice(0, m.index).trim().split('\n')[0] || '';
  return { s: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), mb: Math.round(Number(m[4]) / 1024), out: said };
}

// The native verifier is built once per rule file and cached: build it on a small pair first, so
// that the runs below measure verifying only.
spawnSync('node', [join(repo, 'bench/gen-trace-pair.mjs'), join(dir, 'warm'), '--events', '10'], { stdio: 'ignore' });
spawnSync('node', [join(repo, 'dist/mvrc.cjs'), 'verify', rules, '--leader-trace', join(dir, 'warm/leader.strace'), '--follower-trace', join(dir, 'warm/follower.strace')], { stdio: 'ignore' });
const rows = [];
for (const [name, extra] of [['identical', []], ['diverging at request 25', ['--diverge-at', '25']]]) {
  const d = join(dir, name.replace(/\W+/g, '-'));
  spawnSync('node', [join(repo, 'bench/gen-trace-pair.mjs'), d, '--events', String(events), ...extra], { stdio: 'ignore' });
  const l = join(d, 'leader.strace');
  const f = join(d, 'follower.strace');
  const size = statSync(l).size;
  const cli = ['verify', rules, '--leader-trace', l, '--follower-trace', f];
  const native = measure('node', [join(repo, 'dist/mvrc.cjs'), ...cli]);
  const interp = measure('node', [join(repo, 'dist/mvrc.cjs'), ...cli, '--interpreter']);
  const old = baseline ? measure('node', ['--import', 'tsx', join(repo, 'bench/verify-inmemory.ts'), rules, l, f]) : undefined;
  rows.push({ name, size, native, interp, old });
}
const mb = (n) => `${(n / (1 << 20)).toFixed(0)} MB`;
console.log(`mvrc verify, ${events} events a side (strace text)`);
console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('pair                      | trace size | native: wall, CPU, peak RSS      | interpreter: wall, CPU, peak RSS | CPU native/interp.' + (baseline ? ' | in memory: wall, CPU, peak RSS' : ''));
for (const r of rows) {
  const cell = (m) => `${m.s.toFixed(1)} s, ${m.cpu.toFixed(1)} s, ${m.mb} MB`;
  const o = r.old ? ` | ${cell(r.old).padStart(30)}` : '';
  console.log(`${r.name.padEnd(25)} | ${mb(r.size).padStart(10)} | ${cell(r.native).padStart(32)} | ${cell(r.interp).padStart(32)} | ${(r.native.cpu / r.interp.cpu).toFixed(2)}x${o}`);
  console.log(`  native said: ${r.native.out}`);
  console.log(`  interpreter said: ${r.interp.out}`);
}
console.log(`goal: 1M events a side in <= 5 s, <= 256 MB; load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
rmSync(dir, { recursive: true, force: true });
