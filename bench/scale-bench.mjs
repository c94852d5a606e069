// How `mvrc build` and `mvrc check` scale with the number of rules, as users run them (wall time
// including Node start-up and the C compiler), each against a baseline measured in the same run:
//   build of 10 rules (Node start-up + checking + cc of the fixed matcher) for the large builds,
//   `node -e 0` for `check` of 50 rules.
// Goals (issue "Rule authoring ..."): 10,000 rules built in <= 10 s, 100,000 in <= 60 s; check
// of 50 rules <= 150 ms. On a shared machine wall time moves with the load, so the CPU time of
// the command (user + system, the C compiler included) and the load average are printed too.
// Then where the time goes at 100,000 rules, phase by phase (parse, check, automaton, C text, cc).
//   node bench/scale-bench.mjs [--sizes 10000,100000] [--runs N] [--no-phases]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repo, 'dist', 'mvrc.cjs');
if (!existsSync(cli)) {
  console.error('dist/mvrc.cjs is missing: run npm run build first');
  process.exit(2);
}
const { values } = parseArgs({ options: { sizes: { type: 'string' }, runs: { type: 'string' }, 'no-phases': { type: 'boolean' } } });
const sizes = (values.sizes ?? '10000,100000').split(',').map(Number);
const runs = Number(values.runs ?? 3);

// Rules without blocks, over common syscalls, with distinct literals (every one checks clean and
// none shadows another): the shapes generated rule sets have.
export function ruleFile(n) {
  const shapes = [
    (i) => `write(_, "reply ${i}\\r\\n", _) => write(_, "reply ${i}\\r\\n", _), gettid()`,
    (i) => `open("/var/lib/app/${i}.db", _, _) => open("/var/lib/app/${i}.db", _, _), fstat(_, _)`,
    (i) => `@r${i} read(_, "PING ${i}\\n", _), write(_, "PONG\\n", _) => read(_, "PING ${i}\\n", _), write(_, "PONG\\n", _)`,
    (i) => `nothing => getsockname(${i}, _, _)`,
    (i) => `read(fd, "CMD ${i}\\n", _) as r => r(fd, "bad-cmd\\n", 8)`,
    (i) => `close(${i + 3}) => nothing`,
  ];
  let s = '// generated benchmark input\n';
  for (let i = 0; i < n; i++) s += shapes[i % shapes.length](i) + '\n';
  return s;
}

/** CPU seconds of this process's waited-for children so far (Linux: /proc/self/stat cutime + cstime). */
function childCpu() {
  try {
    const f = readFileSync('/proc/self/stat', 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[13]) + Number(rest[14])) / 100; // fields 16, 17; USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

function time(args, n, cwd) {
  const wall = [];
  const cpu = [];
  for (let i = 0; i < n; i++) {
    const c0 = childCpu();
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', cwd, maxBuffer: 64 << 20 });
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    cpu.push((childCpu() - c0) * 1000);
    if (r.status !== 0) {
      console.error(`${args.join(' ')}: exit ${r.status}\n${(r.stderr ?? '').slice(0, 2000)}`);
      return { median: NaN, min: NaN, cpu: NaN, failed: true };
    }
  }
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return { median: med(wall), min: Math.min(...wall), cpu: med(cpu), failed: false };
}

const fmt = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
function row(name, r, base, goal) {
  const verdict = r.failed ? 'FAILED' : goal === undefined ? '' : `goal <= ${fmt(goal)}: ${r.median <= goal ? 'met' : 'NOT met'}`;
  const ratio = base ? `${(r.median / base.median).toFixed(1)}x baseline` : '';
  console.log(`${name.padEnd(30)} ${fmt(r.median).padStart(9)} wall (min ${fmt(r.min)}), ${fmt(r.cpu).padStart(8)} CPU  ${ratio.padEnd(16)} ${verdict}`);
}

const dir = mkdtempSync(join(tmpdir(), 'mvrc-scale-'));
try {
  for (const n of [10, 50, ...sizes]) writeFileSync(join(dir, `r${n}.mvr`), ruleFile(n));
  console.log(`mvrc build / check — wall time (median of runs) including Node start-up and cc; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on this machine`);
  const node = time(['-e', '0'], 9, dir);
  row('node -e 0 (baseline for check)', node);
  row('check, 50 rules', time([cli, 'check', 'r50.mvr'], 9, dir), node, 150);
  const b10 = time([cli, 'build', 'r10.mvr', '-o', 'o10'], runs, dir);
  row('build, 10 rules (baseline)', b10);
  for (const n of sizes) {
    const goal = n <= 10_000 ? 10_000 : n <= 100_000 ? 60_000 : undefined;
    row(`build, ${n.toLocaleString('en-US')} rules`, time([cli, 'build', `r${n}.mvr`, '-o', `o${n}`], n >= 100_000 ? 1 : runs, dir), b10, goal);
    row(`check, ${n.toLocaleString('en-US')} rules`, time([cli, 'check', `r${n}.mvr`], 1, dir), node);
  }
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  if (!values['no-phases']) {
    const n = Math.max(...sizes);
    console.log(`\nwhere the time goes, ${n.toLocaleString('en-US')} rules (one process, after start-up):`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'bench', 'scale-phases.ts'), join(dir, `r${n}.mvr`)], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) console.log(`(scale-phases.ts exited with ${r.status})`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
