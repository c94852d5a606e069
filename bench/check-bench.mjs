// Speed of `mvrc check` as users run it (wall time including Node start-up), against a bare
// `node -e 0` measured in the same run. Goals (issue 2): 10,000 rules < 2 s; 50 rules < 250 ms.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repo, 'dist', 'mvrc.cjs');
if (!existsSync(cli)) {
  console.error('dist/mvrc.cjs is missing: run npm run build first');
  process.exit(2);
}

// Realistic, varied rules over common syscalls; every one checks clean.
function ruleFile(n) {
  const shapes = [
    (i) => `read(fd${i}, s${i}, _) if (s${i}.startsWith("CMD${i} ")) as r${i} => r${i}(fd${i}, "bad-cmd\\n", 8)`,
    (i) => `write(_, "reply ${i}\\r\\n", _) => write(_, "reply ${i}\\r\\n", _), gettid()`,
    (i) => `open("/var/lib/app/${i}.db", _, _) => open("/var/lib/app/${i}.db", _, _), fstat(_, _)`,
    (i) => `@r${i} read(_, "PING ${i}\\n", _), write(_, "PONG\\n", _) => read(_, "PING ${i}\\n", _), write(_, "PONG\\n", _)`,
    (i) => `nothing => getsockname(${i}, _, _)`,
  ];
  let s = '// generated benchmark input\n';
  for (let i = 0; i < n; i++) s += shapes[i % shapes.length](i) + '\n';
  return s;
}

function time(args, runs) {
  const ms = [];
  let status = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    status = r.status;
    if (r.status !== 0) {
      console.error(r.stderr.slice(0, 2000));
      break;
    }
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)], min: ms[0], status };
}

const dir = mkdtempSync(join(tmpdir(), 'mvrc-bench-'));
const small = join(dir, 'rules50.mvr');
const large = join(dir, 'rules10000.mvr');
writeFileSync(small, ruleFile(50));
writeFileSync(large, ruleFile(10_000));

const baseline = time(['-e', '0'], 9);
const s = time([cli, 'check', small], 9);
const l = time([cli, 'check', large], 5);
const row = (name, r, goal) =>
  `${name.padEnd(28)} ${r.median.toFixed(0).padStart(7)} ms  (min ${r.min.toFixed(0)} ms)  ${(r.median / baseline.median).toFixed(2)}x node start-up  goal < ${goal} ms: ${r.status !== 0 ? 'FAILED (exit ' + r.status + ')' : r.median < goal ? 'met' : 'NOT met'}`;
console.log('mvrc check — wall time, median of runs, including Node start-up');
console.log(`${'node -e 0 (baseline)'.padEnd(28)} ${baseline.median.toFixed(0).padStart(7)} ms`);
console.log(row('check, 50 rules', s, 250));
console.log(row('check, 10,000 rules', l, 2000));
