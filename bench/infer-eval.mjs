#!/usr/bin/env node
// An evaluation of mvrc infer on real trace pairs, recorded here with strace (nothing
// hand-edited): for each pair of program versions, two recordings of each under two inputs.
// The rules are inferred from the first input's pair and verified on the second input's pair
// (do they generalise?); then inferred from both pairs at once (infer A1 B1 A2 B2) and verified
// on a third input's pair. Every rule file is searched for a secret put in the programs'
// environment (it must never be copied into rules).
//   npm run build && node bench/infer-eval.mjs [--keep DIR]
// Pairs: a C program built -O0 and -O2; a C program and its next version (which also reads
// /proc/self/environ, logs its pid and sleeps before answering); the kv example's v1 and v2
// (examples/kv) answering a client over TCP; busybox and coreutils `cat` (when busybox is installed).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const cli = join(repo, 'dist/mvrc.cjs');
const args = process.argv.slice(2);
const keep = args.includes('--keep') ? args[args.indexOf('--keep') + 1] : undefined;
const dir = keep ?? mkdtempSync(join(tmpdir(), 'mvrc-infer-eval-'));
mkdirSync(dir, { recursive: true });
const SECRET = `s3cr3t-${Math.random().toString(36).slice(2, 10)}`;
const env = { ...process.env, MVRC_EVAL_TOKEN: SECRET };

for (const tool of ['strace', 'cc']) {
  if (spawnSync(tool, ['--version']).error) {
    console.log(`${tool} is not installed: nothing to evaluate (bash scripts/install-deps.sh installs it)`);
    process.exit(0);
  }
}

const mvrc = (...a) => spawnSync(process.execPath, [cli, ...a], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28 });
const strace = (out, cmd, opts = {}) => spawnSync('strace', ['-f', '-s', '65536', '-xx', '-o', join(dir, out), ...cmd], { cwd: dir, env, encoding: 'utf8', ...opts });

/** Builds a C program from `src` with `flags`. */
function build(name, src, flags) {
  writeFileSync(join(dir, `${name}.c`), src);
  const r = spawnSync('cc', [...flags, '-o', name, `${name}.c`], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc ${name}: ${r.stderr}`);
  return `./${name}`;
}

// A line counter: reads the file named by its argument, writes the counts.
const WC = `#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char buf[4096]; long lines = 0, bytes = 0; ssize_t n;
  int fd = argc > 1 ? open(argv[1], O_RDONLY) : 0;
  if (fd < 0) return 1;
  while ((n = read(fd, buf, sizeof buf)) > 0) { bytes += n; for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\\n'; }
  char out[64]; int k = snprintf(out, sizeof out, "%ld %ld\\n", lines, bytes);
  return write(1, out, (size_t)k) != k;
}
`;
// Its next version: the same answer, after reading its environment, logging its pid and sleeping.
const WC2 = WC.replace('int main(int argc, char **argv) {', `#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
  { char e[8192]; int f = open("/proc/self/environ", O_RDONLY); if (f >= 0) { ssize_t m = read(f, e, sizeof e); (void)m; close(f); } }
  { char l[64]; int k = snprintf(l, sizeof l, "wc2 pid %d\\n", (int)getpid()); if (write(2, l, (size_t)k) != k) return 1; }
  { struct timespec t = {0, 1000000L * (getpid() % 7 + 1)}; nanosleep(&t, 0); }`);

const inputs = ['one\ntwo\n', 'alpha\nbeta\ngamma\n', 'x\n'];
inputs.forEach((t, i) => writeFileSync(join(dir, `in${i + 1}.txt`), t));

/** Records `cmd` (argv) of both versions on input k: [leader trace, follower trace]. */
function recordPair(name, oldCmd, newCmd, k) {
  const a = `${name}-old-${k}.strace`;
  const b = `${name}-new-${k}.strace`;
  strace(a, oldCmd(k));
  strace(b, newCmd(k));
  return [a, b];
}

/** A kv server under strace answering `requests`, then stopped with SIGTERM. */
async function recordKv(out, bin, requests, port) {
  const p = spawn('strace', ['-f', '-s', '65536', '-xx', '-o', join(dir, out), bin, '--port', String(port)], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    let seen = '';
    p.stdout.on('data', (d) => {
      seen += d;
      if (/listening on \d+/.test(seen)) resolve();
    });
    p.on('exit', () => reject(new Error(`${bin} exited before listening`)));
  });
  for (const line of requests) {
    await new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write(`${line}\n`));
      s.once('data', () => s.end());
      s.on('close', resolve);
      s.on('error', reject);
    });
  }
  const done = new Promise((r) => p.on('exit', r));
  // The server is strace's child: its pid starts the trace's lines (strace -f -o FILE).
  const pid = Number(/^(\d+)/.exec(readFileSync(join(dir, out), 'utf8'))?.[1]);
  if (pid > 0) process.kill(pid, 'SIGTERM');
  await done;
}

/** A TCP port free now on 127.0.0.1. */
function freePort() {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const pairs = [];
pairs.push({
  name: 'wc -O0 vs -O2',
  record: (k) => {
    const o0 = build('wc-O0', WC, ['-O0']);
    const o2 = build('wc-O2', WC, ['-O2']);
    return recordPair('wc-opt', (i) => [o0, `in${i}.txt`], (i) => [o2, `in${i}.txt`], k);
  },
});
pairs.push({
  name: 'wc v1 vs v2 (environ, pid, sleep)',
  record: (k) => {
    const v1 = build('wc-v1', WC, ['-O1']);
    const v2 = build('wc-v2', WC2, ['-O1']);
    return recordPair('wc-ver', (i) => [v1, `in${i}.txt`], (i) => [v2, `in${i}.txt`], k);
  },
});
if (existsSync(join(repo, 'examples/kv/kv-v1.c'))) {
  pairs.push({
    name: 'kv v1 vs v2',
    record: async (k) => {
      spawnSync('make', ['-s', '-C', join(repo, 'examples/kv')], { stdio: 'ignore' });
      const req = [['PUT a 1', 'GET a', 'PUT-number n 5', 'GET n'], ['PUT b 2', 'PUT-number m 7', 'GET b'], ['PUT-number z 1', 'PUT c 3', 'GET c', 'GET z']][k - 1];
      const [a, b] = [`kv-old-${k}.strace`, `kv-new-${k}.strace`];
      // One port for every run: the same command line (a port picked by the server would differ).
      const port = await freePort();
      await recordKv(a, join(repo, 'examples/kv/kv-v1'), req, port);
      await recordKv(b, join(repo, 'examples/kv/kv-v2'), req, port);
      return [a, b];
    },
  });
}
if (!spawnSync('busybox', ['--help']).error) {
  pairs.push({ name: 'busybox cat vs cat', record: (k) => recordPair('cat', (i) => ['busybox', 'cat', `in${i}.txt`], (i) => ['cat', `in${i}.txt`], k) });
}

const rows = [];
for (const p of pairs) {
  const rec = [await p.record(1), await p.record(2), await p.record(3)];
  const slug = p.name.replace(/\W+/g, '-');
  const one = `${slug}-1.mvr`;
  const both = `${slug}-12.mvr`;
  const inf1 = mvrc('infer', ...rec[0], '-o', one);
  const inf12 = mvrc('infer', ...rec[0], ...rec[1], '-o', both);
  const verify = (rules, [a, b]) => mvrc('verify', rules, '--leader-trace', a, '--follower-trace', b).status === 0;
  const count = (f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => /=>/.test(l) && !l.startsWith('//')).length : NaN);
  const leaks = [one, both].some((f) => existsSync(join(dir, f)) && readFileSync(join(dir, f), 'utf8').includes(SECRET));
  rows.push({
    name: p.name,
    rules1: count(one),
    self1: inf1.status === 0,
    second: verify(one, rec[1]),
    rules12: count(both),
    self12: inf12.status === 0,
    third: verify(both, rec[2]),
    leaks,
  });
}

const yes = (b) => (b ? 'yes' : 'no');
console.log('mvrc infer on recorded pairs (strace -f -s 65536 -xx); rules inferred from input 1, and from inputs 1+2 at once');
console.log('pair                               | rules (1) | verify 1 | verify input 2 | rules (1+2) | verify 1+2 | verify input 3 | secret in rules');
for (const r of rows) {
  console.log(
    `${r.name.padEnd(34)} | ${String(r.rules1).padStart(9)} | ${yes(r.self1).padStart(8)} | ${yes(r.second).padStart(14)} | ${String(r.rules12).padStart(11)} | ${yes(r.self12).padStart(10)} | ${yes(r.third).padStart(14)} | ${yes(r.leaks)}`,
  );
}
if (!keep) rmSync(dir, { recursive: true, force: true });
else console.log(`traces and rule files kept in ${dir}`);
