#!/usr/bin/env node
// An evaluation of mvrc infer on real trace pairs, recorded here with strace (nothing
// hand-edited): for each pair of program versions, recordings of both versions under three
// inputs, and of a MUTANT of the new version (the same new version with a real bug: a wrong
// count, a wrong reply) under the third input.
//
//   npm run build && node bench/infer-eval.mjs [--keep DIR] [--only NAME] [--reference-only]
//
// Per pair it prints:
// - rules inferred from input 1, and whether they verify input 2 (do they generalise?);
// - rules inferred from inputs 1+2 at once (infer A1 B1 A2 B2), whether they verify input 3 and
//   whether they still catch the mutant (a rule set that lets the mutant through is too general);
// - how many of those rules are CORRECT against the hand-written reference rules of the pair
//   (bench/infer-eval/<pair>.mvr, each of which verifies all three inputs and catches the mutant,
//   which is checked too): an inferred rule is correct when it can stand in for one of the
//   reference rules — the reference with that rule replaced by the inferred one still verifies
//   all three inputs — and adding it to the reference lets no mutant through (it is not too
//   general). The published figure to beat: 16 of 19 inferred rules correct (ATC'17);
// - whether a secret planted in the programs' environment reached any rule file (never).
// Pairs: a C program built -O0 and -O2; a C program and its next version (which also reads
// /proc/self/environ, logs its pid and sleeps before answering); the kv example's v1 and v2
// (examples/kv) answering a client over TCP; kv v1 native and built with ASan; Debian's busybox
// `cat` and coreutils `cat`; Debian's redis-server 7.0.15 ~deb12u7 and ~deb12u10 answering a
// client. Debian's builds are fetched with scripts/fetch-debian-build.sh (apt-get download +
// dpkg -x into .cache/debian; nothing is installed); a pair whose build cannot be fetched is
// skipped, saying why.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const cli = join(repo, 'dist/mvrc.cjs');
const refDir = join(repo, 'bench', 'infer-eval');
const args = process.argv.slice(2);
const opt = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const keep = opt('--keep');
const only = opt('--only');
const refOnly = args.includes('--reference-only');
const dir = keep ?? mkdtempSync(join(tmpdir(), 'mvrc-infer-eval-'));
mkdirSync(dir, { recursive: true });
const SECRET = `s3cr3t-${randomBytes(4).toString('hex')}`;
// The programs' whole environment, the same on every machine and run: what a program reads of it
// (wc v2 reads /proc/self/environ) then has one length, which a reference rule can state.
// LeakSanitizer cannot run under ptrace (strace): it would end every ASan run with an error of
// the recording itself, not of the program.
const env = { PATH: '/usr/bin:/bin', MVRC_EVAL_TOKEN: SECRET, ASAN_OPTIONS: 'detect_leaks=0' };

for (const tool of ['strace', 'cc']) {
  if (spawnSync(tool, ['--version']).error) {
    console.log(`${tool} is not installed: nothing to evaluate (bash scripts/install-deps.sh installs it)`);
    process.exit(0);
  }
}
if (!existsSync(cli)) {
  console.error('dist/mvrc.cjs is missing: run npm run build first');
  process.exit(2);
}

const mvrc = (...a) => spawnSync(process.execPath, [cli, ...a], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28 });
const strace = (out, cmd, opts = {}) => spawnSync('strace', ['-f', '-s', '65536', '-xx', '-o', join(dir, out), ...cmd], { cwd: dir, env, encoding: 'utf8', ...opts });
const progress = (s) => process.stderr.write(`infer-eval: ${s}\n`);

/** Builds a C program from `src` with `flags`. */
function build(name, src, flags) {
  writeFileSync(join(dir, `${name}.c`), src);
  const r = spawnSync('cc', [...flags, '-o', name, `${name}.c`], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc ${name}: ${r.stderr}`);
  return `./${name}`;
}

/** Debian's build of PKG at VERSION unpacked into .cache/debian/NAME; undefined (with why) when unreachable. */
function fetchDebian(name, specs) {
  const dest = join(repo, '.cache', 'debian', name);
  const r = spawnSync('bash', [join(repo, 'scripts', 'fetch-debian-build.sh'), dest, ...specs], { encoding: 'utf8' });
  if (r.status !== 0) return { why: (r.stderr || r.stdout).trim().split('\n').at(-1) };
  return { dest };
}

/** The candidate version of a Debian package (what apt-get download would fetch), or undefined. */
function candidate(pkg) {
  const r = spawnSync('apt-cache', ['policy', pkg], { encoding: 'utf8' });
  return /Candidate:\s*(\S+)/.exec(r.stdout ?? '')?.[1]?.replace('(none)', '') || undefined;
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
// A mutant: the new version with an off-by-one in its count (a real bug a rule must not hide).
function miscount(src) {
  const m = src.replace("lines += buf[i] == '\\n';", "lines += 2 * (buf[i] == '\\n');");
  if (m === src) throw new Error('bench/infer-eval.mjs: the mutant no longer changes the line counter');
  return m;
}

const inputs = ['one\ntwo\n', 'alpha\nbeta\ngamma\n', 'x\n'];
inputs.forEach((t, i) => writeFileSync(join(dir, `in${i + 1}.txt`), t));

/** A TCP port free now on 127.0.0.1. */
function freePort() {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Waits until something accepts connections on the port. */
async function waitListening(port, proc, what) {
  for (let i = 0; i < 400; i++) {
    if (proc.exitCode !== null) throw new Error(`${what} exited before listening`);
    // The probe waits for the server to close its connection (the end of the server's handling
    // of it), so that the first request connects after that: else the probe and the first
    // request race, and the accepts interleave differently from run to run (noise, not a change).
    const ok = await new Promise((res) => {
      let connected = false;
      const s = connect(port, '127.0.0.1', () => {
        connected = true;
        s.end();
      });
      s.resume();
      s.on('close', () => res(connected));
      s.on('error', () => {});
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${what} never listened on ${port}`);
}

/** One request per connection; waits for the reply (until `done(reply)` says it is whole). */
function request(port, bytes, done) {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    s.on('data', (d) => {
      got += d;
      if (done(got)) s.end();
    });
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

/** A server under strace answering `requests` (one connection each, in order), then stopped
 *  with SIGTERM. The connecting-probe before the requests is part of every trace alike (each
 *  connection, the probe's too, is closed by the server before the next one opens). */
async function recordServer(out, argv, port, requests, done, { ready, stop } = {}) {
  rmSync(join(dir, out), { force: true }); // `ready` must not read an earlier run's trace
  const p = spawn('strace', ['-f', '-s', '65536', '-xx', '-o', join(dir, out), ...argv], { cwd: dir, env, stdio: 'ignore' });
  const exited = new Promise((r) => p.on('exit', r));
  // `ready(trace text)`: what the trace must show before the first connection (a start-up timer
  // that would otherwise race with it).
  while (ready && !ready(existsSync(join(dir, out)) ? readFileSync(join(dir, out), 'latin1') : '')) {
    if (p.exitCode !== null) throw new Error(`${argv[0]} exited before it was ready`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await waitListening(port, p, argv[0]);
  for (const r of requests) await request(port, r, done);
  if (stop) {
    // A request that stops the server: handled by its main thread, where a signal is handled by
    // whichever thread the kernel picks (Redis: another thread from run to run).
    await request(port, stop, () => false);
  } else {
    // The server is strace's child: its pid starts the trace's lines (strace -f -o FILE).
    const pid = Number(/^(\d+)/.exec(readFileSync(join(dir, out), 'utf8'))?.[1]);
    if (pid > 0) process.kill(pid, 'SIGTERM');
  }
  await exited;
}

const pairs = [];
pairs.push({
  name: 'wc -O0 vs -O2',
  slug: 'wc-O0-O2',
  setup() {
    this.old = build('wc-O0', WC, ['-O0']);
    this.new = build('wc-O2', WC, ['-O2']);
    this.mut = build('wc-O2-mutant', miscount(WC), ['-O2']);
  },
  record(k, side) {
    const bin = side === 'old' ? this.old : side === 'new' ? this.new : this.mut;
    strace(`${this.slug}-${side}-${k}.strace`, [bin, `in${k}.txt`]);
  },
});
pairs.push({
  name: 'wc v1 vs v2 (environ, pid, sleep)',
  slug: 'wc-v1-v2',
  setup() {
    this.old = build('wc-v1', WC, ['-O1']);
    this.new = build('wc-v2', WC2, ['-O1']);
    this.mut = build('wc-v2-mutant', miscount(WC2), ['-O1']);
  },
  record(k, side) {
    const bin = side === 'old' ? this.old : side === 'new' ? this.new : this.mut;
    strace(`${this.slug}-${side}-${k}.strace`, [bin, `in${k}.txt`]);
  },
});

// kv: the requests of each input (one connection each); the mutant answers GET with another value.
const KV_REQUESTS = [
  ['PUT a 1', 'GET a', 'PUT-number n 5', 'GET n'],
  ['PUT b 2', 'PUT-number m 7', 'GET b'],
  ['PUT-number z 1', 'PUT c 3', 'GET c', 'GET z'],
].map((l) => l.map((r) => `${r}\n`));
const kvMutant = (src) => src.replace('REPLY(c, "VALUE ");', 'REPLY(c, "VALUE x");');
function buildKv(name, file, extra, mutate) {
  let src = readFileSync(join(repo, 'examples/kv', file), 'utf8');
  if (mutate) {
    const m = kvMutant(src);
    if (m === src) throw new Error(`bench/infer-eval.mjs: the kv mutant no longer changes ${file}`);
    src = m;
  }
  const dsu = join(repo, 'runtime-c/dsu');
  writeFileSync(join(dir, `${name}.c`), src);
  const r = spawnSync('cc', ['-std=c11', '-D_GNU_SOURCE', '-O2', ...extra, `-I${dsu}`, '-o', name, `${name}.c`, join(dsu, 'mvr_dsu.c')], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc ${name}: ${r.stderr}`);
  return join(dir, name);
}
const kvPair = (name, slug, oldBin, newBin, mutBin) => ({
  name,
  slug,
  async setup() {
    this.bins = { old: oldBin(), new: newBin(), mutant: mutBin() };
    // One port for every run: the same command line (a port picked by the server would differ).
    this.port = await freePort();
  },
  record(k, side) {
    return recordServer(`${this.slug}-${side}-${k}.strace`, [this.bins[side], '--port', String(this.port)], this.port, KV_REQUESTS[k - 1], (got) => got.endsWith('\n'));
  },
});
if (existsSync(join(repo, 'examples/kv/kv-v1.c'))) {
  pairs.push(kvPair('kv v1 vs v2', 'kv-v1-v2', () => buildKv('kv-v1', 'kv-v1.c', []), () => buildKv('kv-v2', 'kv-v2.c', []), () => buildKv('kv-v2-mutant', 'kv-v2.c', [], true)));
  const asan = ['-fsanitize=address', '-fno-omit-frame-pointer', '-g'];
  pairs.push(
    kvPair('kv v1 native vs ASan', 'kv-asan', () => buildKv('kv-v1', 'kv-v1.c', []), () => buildKv('kv-v1-asan', 'kv-v1.c', asan), () => buildKv('kv-v1-asan-mutant', 'kv-v1.c', asan, true)),
  );
}

pairs.push({
  name: 'busybox cat vs coreutils cat',
  slug: 'cat-busybox',
  setup() {
    const v = candidate('busybox');
    const got = v ? fetchDebian(`busybox-${v.replace(/[^\w.+-]/g, '_')}`, [`busybox=${v}`]) : { why: 'apt knows no busybox package' };
    if (!got.dest) return got.why;
    this.busybox = join(got.dest, 'bin', 'busybox');
    if (!existsSync(this.busybox)) return `${this.busybox} is missing after unpacking busybox ${v}`;
  },
  record(k, side) {
    // The mutant numbers the lines (`cat -n`): other bytes written.
    const cmd = side === 'old' ? [this.busybox, 'cat', `in${k}.txt`] : side === 'new' ? ['cat', `in${k}.txt`] : ['cat', '-n', `in${k}.txt`];
    strace(`${this.slug}-${side}-${k}.strace`, cmd);
  },
});

// Redis: Debian's two builds of 7.0.15, one client command per connection (RESP); the mutant is
// the new build with GET renamed away (it answers an error where the old one answers the value).
const REDIS_REQUESTS = [
  ['SET a 1', 'GET a', 'INCR n', 'GET n'],
  ['SET b 2', 'INCR m', 'GET b', 'DEL b'],
  ['INCR z', 'SET c 3', 'GET c', 'GET z'],
].map((l) => l.map((cmd) => {
  const parts = cmd.split(' ');
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
}));
const REDIS = { old: '5:7.0.15-1~deb12u7', new: '5:7.0.15-1~deb12u10' };
pairs.push({
  name: 'redis 7.0.15 deb12u7 vs deb12u10',
  slug: 'redis-deb12u7-u10',
  async setup() {
    this.bins = {};
    for (const [side, v] of Object.entries(REDIS)) {
      const release = v.split('~')[1];
      const got = fetchDebian(`redis-${release}`, [`redis-tools=${v}`, `redis-server=${v}`]);
      if (!got.dest) return got.why;
      this.bins[side] = join(got.dest, 'usr', 'bin', 'redis-server');
    }
    this.port = await freePort();
  },
  record(k, side) {
    const bin = side === 'old' ? this.bins.old : this.bins.new;
    const argv = [bin, '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', '', '--daemonize', 'no', '--hz', '1'];
    if (side === 'mutant') argv.push('--rename-command', 'GET', 'GET-RENAMED');
    // Redis's first serverCron runs 1 ms after its event loop starts and reads /proc/self/stat:
    // the first connection waits for it (else it comes before or after it from run to run); with
    // --hz 1 the next one is a second later, after the requests. SHUTDOWN NOSAVE stops it.
    const cron = Buffer.from('/proc/self/stat').toString('hex').replace(/../g, '\\x$&');
    return recordServer(`${this.slug}-${side}-${k}.strace`, argv, this.port, REDIS_REQUESTS[k - 1], (got) => /\r\n$/.test(got), {
      ready: (text) => text.includes(cron),
      stop: '*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n',
    });
  },
});

/** The rules of a rule file, each with its leading comment lines (a rule's continuation lines
 *  are indented); the file's other lines (header comments, imports) are kept apart. */
function splitRules(text) {
  const head = [];
  const rules = [];
  let pending = [];
  for (const line of text.split('\n')) {
    if (/^\s*$/.test(line)) {
      if (!rules.length) head.push(...pending, line);
      else if (pending.length) rules.at(-1).text += `\n${pending.join('\n')}`;
      pending = [];
    } else if (line.startsWith('//')) pending.push(line);
    else if (/^\s/.test(line) && rules.length) rules.at(-1).text += `\n${line}`;
    else if (/^import\b/.test(line)) head.push(...pending.splice(0), line);
    else {
      rules.push({ text: [...pending, line].join('\n') });
      pending = [];
    }
  }
  return { head: head.join('\n'), rules: rules.map((r) => r.text) };
}

let fileNo = 0;
/** Whether `rules` (text) verifies the pair of traces. */
function verifies(rulesText, [a, b]) {
  const f = `check-${++fileNo}.mvr`;
  writeFileSync(join(dir, f), `${rulesText}\n`);
  const r = mvrc('verify', f, '--leader-trace', a, '--follower-trace', b);
  if (r.status === 2) throw new Error(`mvrc verify ${f}: ${r.stderr}`);
  return r.status === 0;
}
const verifiesFile = (f, pair) => verifies(readFileSync(join(dir, f), 'utf8'), pair);
const ruleCount = (f) => (existsSync(join(dir, f)) ? splitRules(readFileSync(join(dir, f), 'utf8')).rules.length : NaN);

const yes = (b) => (b ? 'yes' : 'no');
const rows = [];
for (const p of pairs) {
  if (only && !p.name.includes(only) && p.slug !== only) continue;
  progress(`${p.name}: building and recording`);
  const skip = await p.setup();
  if (typeof skip === 'string') {
    rows.push({ name: p.name, skipped: skip });
    continue;
  }
  const rec = [];
  for (const k of [1, 2, 3]) {
    await p.record(k, 'old');
    await p.record(k, 'new');
    rec.push([`${p.slug}-old-${k}.strace`, `${p.slug}-new-${k}.strace`]);
  }
  await p.record(3, 'mutant');
  const mutant = [`${p.slug}-old-3.strace`, `${p.slug}-mutant-3.strace`];
  if (refOnly) {
    // --reference-only: whether the reference verifies the three inputs and catches the mutant.
    const refFile = join(refDir, `${p.slug}.mvr`);
    const verdicts = existsSync(refFile) ? [...rec, mutant].map((pair) => verifies(readFileSync(refFile, 'utf8'), pair)) : [];
    console.log(`${p.name}: reference verifies inputs 1-3: ${verdicts.slice(0, 3).map(yes).join(' ')}; mutant caught: ${yes(verdicts.length > 0 && !verdicts[3])}`);
    continue;
  }
  progress(`${p.name}: inferring and verifying`);
  const one = `${p.slug}-1.mvr`;
  const both = `${p.slug}-12.mvr`;
  const inf1 = mvrc('infer', ...rec[0], '-o', one);
  const inf12 = mvrc('infer', ...rec[0], ...rec[1], '-o', both);
  const row = {
    name: p.name,
    rules1: ruleCount(one),
    second: existsSync(join(dir, one)) && verifiesFile(one, rec[1]),
    rules12: ruleCount(both),
    self12: inf12.status === 0,
    third: existsSync(join(dir, both)) && verifiesFile(both, rec[2]),
    mutantCaught: existsSync(join(dir, both)) && !verifiesFile(both, mutant),
    leaks: [one, both].some((f) => existsSync(join(dir, f)) && readFileSync(join(dir, f), 'utf8').includes(SECRET)),
  };
  if (inf1.status === 2 || inf12.status === 2) row.error = (inf1.status === 2 ? inf1 : inf12).stderr.trim().split('\n')[0];

  // Scoring against the reference.
  const refFile = join(refDir, `${p.slug}.mvr`);
  if (existsSync(refFile)) {
    const ref = splitRules(readFileSync(refFile, 'utf8'));
    const join_ = (rules) => [ref.head, ...rules].join('\n');
    row.refOk = rec.every((pair) => verifies(join_(ref.rules), pair)) && !verifies(join_(ref.rules), mutant);
    row.refRules = ref.rules.length;
    const inferred = existsSync(join(dir, both)) ? splitRules(readFileSync(join(dir, both), 'utf8')).rules : [];
    row.correct = 0;
    row.wrong = [];
    for (const r of inferred) {
      const standsIn = ref.rules.some((_, i) => rec.every((pair) => verifies(join_(ref.rules.map((q, j) => (j === i ? r : q))), pair)));
      const safe = standsIn && !verifies(join_([r, ...ref.rules]), mutant);
      if (standsIn && safe) row.correct++;
      else row.wrong.push({ rule: r.split('\n').filter((l) => !l.startsWith('//')).join(' ').replace(/\s+/g, ' '), why: standsIn ? 'lets the mutant through' : 'stands in for no reference rule on inputs 1-3' });
    }
  }
  rows.push(row);
}

console.log('mvrc infer on recorded pairs (strace -f -s 65536 -xx): rules inferred from input 1, and from inputs 1+2 at once');
console.log('| pair | rules (1) | verify input 2 | rules (1+2) | verify input 3 | mutant caught | correct (reference) | secret in rules |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
let correct = 0;
let total = 0;
for (const r of rows) {
  if (r.skipped) {
    console.log(`| ${r.name} | skipped: ${r.skipped} |  |  |  |  |  |  |`);
    continue;
  }
  const score = r.correct === undefined ? 'no reference' : `${r.correct} of ${r.rules12}${r.refOk ? '' : ' (the reference itself fails!)'}`;
  if (r.correct !== undefined) {
    correct += r.correct;
    total += r.rules12;
  }
  console.log(`| ${r.name} | ${r.rules1} | ${yes(r.second)} | ${r.rules12}${r.self12 ? '' : ' (not verified)'} | ${yes(r.third)} | ${yes(r.mutantCaught)} | ${score} | ${yes(r.leaks)} |`);
}
console.log(`\ncorrect inferred rules (inputs 1+2) against the references: ${correct} of ${total} (published: 16 of 19)`);
for (const r of rows) for (const w of r.wrong ?? []) console.log(`  ${r.name}: not correct (${w.why}): ${w.rule.slice(0, 200)}`);
for (const r of rows) if (r.error) console.log(`  ${r.name}: infer failed: ${r.error}`);
if (!keep) rmSync(dir, { recursive: true, force: true });
else console.log(`traces and rule files kept in ${dir}`);
