// Speed of `mvrc check` as users run it (wall time including Node start-up), against a bare
// `node -e 0` measured in the same run, the runs interleaved (baseline, then each command, in
// turn) so that a change in the machine's load hits all alike. Goals: 50 rules without blocks
// <= 150 ms (issue 13), 50 rules with typed guards < 250 ms and 10,000 rules < 2 s (issue 2).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repo, 'dist', 'mvrc.cjs');
if (!existsSync(cli)) {
  console.error('dist/mvrc.cjs is missing: run npm run build first');
  process.exit(2);
}

// Realistic, varied rules over common syscalls; every one checks clean. With `typed`, one rule in
// five has a guard (a typed block: the TypeScript compiler is loaded to check it).
function ruleFile(n, typed) {
  const shapes = [
    (i) =>
      typed
        ? `read(fd${i}, s${i}, _) if (s${i}.startsWith("CMD${i} ")) as r${i} => r${i}(fd${i}, "bad-cmd\\n", 8)`
        : `read(fd${i}, "CMD${i} ", _) as r${i} => r${i}(fd${i}, "bad-cmd\\n", 8)`,
    (i) => `write(_, "reply ${i}\\r\\n", _) => write(_, "reply ${i}\\r\\n", _), gettid()`,
    (i) => `open("/var/lib/app/${i}.db", _, _) => open("/var/lib/app/${i}.db", _, _), fstat(_, _)`,
    (i) => `@r${i} read(_, "PING ${i}\\n", _), write(_, "PONG\\n", _) => read(_, "PING ${i}\\n", _), write(_, "PONG\\n", _)`,
    (i) => `nothing => getsockname(${i}, _, _)`,
  ];
  let s = '// generated benchmark input\n';
  for (let i = 0; i < n; i++) s += shapes[i % shapes.length](i) + '\n';
  return s;
}

const dir = mkdtempSync(join(tmpdir(), 'mvrc-bench-'));
const plain = join(dir, 'rules50.mvr');
const typed = join(dir, 'rules50-typed.mvr');
const large = join(dir, 'rules10000.mvr');
writeFileSync(plain, ruleFile(50, false));
writeFileSync(typed, ruleFile(50, true));
writeFileSync(large, ruleFile(10_000, true));

const cases = [
  { name: 'node -e 0 (baseline)', args: ['-e', '0'] },
  { name: 'check, 50 rules', args: [cli, 'check', plain], goal: 150 },
  { name: 'check, 50 rules, typed', args: [cli, 'check', typed], goal: 250 },
  { name: 'check, 10,000 rules', args: [cli, 'check', large], goal: 2000, runs: 5 },
];
const runs = Number(process.env.RUNS ?? 15);
const load0 = loadavg()[0];
// One run of each command first (not counted): the file cache and the V8 code caches are warm,
// as they are for a user's second command.
for (const c of cases) spawnSync(process.execPath, c.args);
for (const c of cases) c.ms = [];
for (let i = 0; i < runs; i++) {
  for (const c of cases) {
    if (c.ms.length >= (c.runs ?? runs) || c.status) continue;
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, c.args, { encoding: 'utf8' });
    c.ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.status !== 0) {
      c.status = r.status;
      console.error(`${c.name}: exit ${r.status}\n${r.stderr.slice(0, 2000)}`);
    }
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = median(cases[0].ms);
console.log(`mvrc check — wall time, median of ${runs} interleaved runs, including Node start-up (load average ${load0.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after)`);
for (const c of cases) {
  const m = median(c.ms);
  const verdict = c.goal === undefined ? '' : `  goal <= ${c.goal} ms: ${c.status ? `FAILED (exit ${c.status})` : m <= c.goal ? 'met' : 'NOT met'}`;
  const diff = c === cases[0] ? '' : `  node + ${(m - base).toFixed(0).padStart(4)} ms (${(m / base).toFixed(2)}x)`;
  console.log(`${c.name.padEnd(24)} ${m.toFixed(0).padStart(6)} ms  (min ${Math.min(...c.ms).toFixed(0)})${diff}${verdict}`);
}
