#!/usr/bin/env node
// Hot-path benchmark of a runtime change: the CPU time a leader + follower pair takes for the
// calls a server makes per request (write and writev of 64 bytes), with this tree's runtime and
// with the runtime of a baseline git revision, both built here the same way (make), run
// interleaved. Prints each one's median and the ratio.
//
//   node bench/hotpath-bench.mjs [--baseline REV] [--calls N] [--rounds R]
//     --baseline REV  the revision to compare with (default main)
//     --calls N       write + writev pairs per run (default 500000)
//     --rounds R      runs of each runtime (default 6)
//
// CPU time (user + system of `mvrc run` and everything it waited for: monitor, leader, follower)
// is what the runtime costs; a shared machine's load moves the wall-clock time far more than it
// (both are printed). The CLI and the empty rule file's module are the same for both runs: only
// MVRC_RUNTIME_DIR differs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'dist', 'mvrc.cjs');

function parseArgs(argv) {
  const o = { baseline: 'main', calls: 500000, rounds: 6 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--baseline') o.baseline = val();
    else if (a === '--calls') o.calls = Math.round(Number(val()));
    else if (a === '--rounds') o.rounds = Math.round(Number(val()));
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown option ${a}`);
  }
  if (!(o.calls > 0) || !(o.rounds > 0)) usage('--calls and --rounds must be positive numbers');
  return o;
}

function usage(err) {
  const text = 'usage: node bench/hotpath-bench.mjs [--baseline REV] [--calls N] [--rounds R]\n';
  if (err) {
    process.stderr.write(`hotpath-bench: ${err}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

const opts = parseArgs(process.argv.slice(2));
const work = mkdtempSync(path.join(tmpdir(), 'mvrc-hotpath-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function run(cmd, args, what, extra = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...extra });
  if (r.status !== 0) throw new Error(`${what} failed: ${(r.stderr || r.stdout || '').trim().split('\n').at(-1)}`);
  return r;
}

/** Builds runtime-c of `src` (a directory holding runtime-c/) into OUT with make. */
function buildRuntime(src, out) {
  run('make', ['-C', path.join(src, 'runtime-c'), '-s', '--no-print-directory', `OUT=${out}`], `make (${src})`);
  return out;
}

// The program: N pairs of write(64 bytes) and writev(2 x 32 bytes) to /dev/null.
const PROGRAM = `#include <fcntl.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1;
  int fd = open("/dev/null", O_WRONLY);
  char buf[64] = "a request's reply: sixty-four bytes of payload, written twice...";
  struct iovec iov[2] = {{buf, 32}, {buf + 32, 32}};
  for (long i = 0; i < n; i++)
    if (write(fd, buf, sizeof buf) != sizeof buf || writev(fd, iov, 2) != 64) return 1;
  return 0;
}
`;

function main() {
  if (!existsSync(CLI)) throw new Error('dist/mvrc.cjs is not built (npm run build)');
  const prog = path.join(work, 'hot');
  writeFileSync(`${prog}.c`, PROGRAM);
  run('cc', ['-std=c11', '-O2', '-o', prog, `${prog}.c`], 'cc');
  const base = path.join(work, 'baseline');
  run('sh', ['-c', 'mkdir -p "$2" && git -C "$1" archive "$3" runtime-c | tar -x -C "$2"', 'sh', ROOT, base, opts.baseline], `git archive ${opts.baseline}`);
  const runtimes = { current: buildRuntime(ROOT, path.join(work, 'current-build')), [opts.baseline]: buildRuntime(base, path.join(work, 'baseline-build')) };
  console.log(`hotpath-bench: ${cpus().length} CPUs; ${opts.calls} write + writev pairs per version, leader + follower (no rules); ${opts.rounds} interleaved runs of each runtime; medians`);
  const samples = Object.fromEntries(Object.keys(runtimes).map((k) => [k, []]));
  for (let round = 1; round <= opts.rounds; round++) {
    for (const [name, dir] of Object.entries(runtimes)) {
      const n = String(opts.calls);
      const r = run('/usr/bin/time', ['-f', 'TIME %e %U %S', process.execPath, CLI, 'run', '--', prog, n, ':::', prog, n], `mvrc run (${name})`, { env: { ...process.env, MVRC_RUNTIME_DIR: dir } });
      if (/retired/.test(r.stderr)) throw new Error(`the follower was retired (${name}): ${r.stderr}`);
      const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+)/.exec(r.stderr);
      if (!m) throw new Error(`no time from /usr/bin/time: ${r.stderr}`);
      const s = { wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]) };
      samples[name].push(s);
      process.stderr.write(`  round ${round} ${name}: ${s.cpu.toFixed(2)} s CPU, ${s.wall.toFixed(2)} s wall\n`);
    }
  }
  const median = (xs) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, { cpu: median(v.map((s) => s.cpu)), wall: median(v.map((s) => s.wall)) }]));
  const perCall = (s) => ((s * 1e9) / (4 * opts.calls)).toFixed(0); // 2 calls x 2 versions per pair
  console.log('');
  for (const [k, v] of Object.entries(med)) console.log(`${k.padEnd(12)} CPU ${v.cpu.toFixed(3)} s (${perCall(v.cpu)} ns per call and version, start-up included)  wall ${v.wall.toFixed(3)} s`);
  const cur = med.current;
  const b = med[opts.baseline];
  console.log(`current / ${opts.baseline}: CPU ${(cur.cpu / b.cpu).toFixed(3)}x, wall ${(cur.wall / b.wall).toFixed(3)}x (1.000x: the same cost)`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`hotpath-bench: error: ${e.message}\n`);
  process.exit(1);
}
