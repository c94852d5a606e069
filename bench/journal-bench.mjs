// The journal's cost (issue 11, "a journal that lasts"): pipelined Redis SETs into redis-server
// running natively, and as an updatable single leader under `mvrc run --control` (keeping the
// journal a later `ctl update --state replay` needs), in the same run, interleaved round by round.
// Goal: journaling costs at most 1.1x native. And the memory: the monitor's and the leader's
// resident memory after N keys (default 1M), split into what the kernel can reclaim (file pages:
// the journal's file, written back to disk) and what it cannot (anonymous and shared memory).
//
// Rows: native redis-server; mvrc with the journal in a file of the state directory (this
// runtime); and with --baseline REV, the runtime of git revision REV (built from its runtime-c/
// into a temporary directory, run through MVRC_RUNTIME_DIR), with --journal-size from
// --baseline-journal (default 1 GiB) so that N keys fit even where the journal was a memfd.
//
// The load: N `SET key:i value-i-...` commands written by `redis-cli --pipe` (Redis's own mass
// insertion tool: one connection, pipelined, C), timed from its start to its exit; then
// `redis-benchmark -P 16 -t set` for a throughput figure.
//
//   node bench/journal-bench.mjs [--keys N] [--rounds R] [--baseline REV] [--baseline-journal BYTES]
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'dist', 'mvrc.cjs');
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const KEYS = Number(opt('--keys', 1_000_000));
const ROUNDS = Number(opt('--rounds', 2));
const BASELINE = opt('--baseline', null);
const BASELINE_JOURNAL = Number(opt('--baseline-journal', 1 << 30));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const tool of ['redis-server', 'redis-cli', 'redis-benchmark'])
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.log(`journal-bench: ${tool} is not installed (scripts/install-deps.sh): no figures`);
    process.exit(0);
  }
if (!existsSync(CLI)) {
  console.log('journal-bench: dist/mvrc.cjs is not built (npm run build): no figures');
  process.exit(0);
}

const work = mkdtempSync(path.join(tmpdir(), 'mvrc-journal-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** The RESP of N SETs, once, for redis-cli --pipe. */
async function writeSets(file) {
  const out = createWriteStream(file);
  let chunk = '';
  for (let i = 0; i < KEYS; i++) {
    const k = `key:${i}`;
    const v = `value-${i}-${(i * 2654435761) >>> 0}`;
    chunk += `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
      chunk = '';
    }
  }
  out.end(chunk);
  await new Promise((r) => out.once('finish', r));
}

function buildBaseline(rev) {
  const src = path.join(work, 'baseline');
  const tar = spawnSync('sh', ['-c', `mkdir -p "$2" && git -C "$1" archive "$3" runtime-c | tar -x -C "$2"`, 'sh', ROOT, src, rev], { encoding: 'utf8' });
  if (tar.status !== 0) throw new Error(`baseline ${rev}: ${tar.stderr.trim()}`);
  const out = path.join(src, 'build');
  const mk = spawnSync('make', ['-C', path.join(src, 'runtime-c'), '-s', '--no-print-directory', `OUT=${out}`], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`baseline ${rev}: make failed: ${mk.stderr.trim()}`);
  return out;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function memory(pid) {
  if (!pid) return null;
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (n) => Number(new RegExp(`^${n}:\\s+(\\d+) kB`, 'm').exec(st)?.[1] ?? 0) / 1024;
    return { rss: kb('VmRSS'), held: kb('RssAnon') + kb('RssShmem'), file: kb('RssFile') };
  } catch {
    return null;
  }
}

/** CPU time (user + system, ms) a process used so far, all its threads. */
function cpuMs(pid) {
  if (!pid) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return 0;
  }
}

const childOf = (pid, comm) => {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return kids.find((k) => readFileSync(`/proc/${k}/comm`, 'utf8').trim() === comm) ?? null;
  } catch {
    return null;
  }
};

async function ping(port) {
  for (let i = 0; i < 600; i++) {
    const r = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' });
    if (r.stdout.trim() === 'PONG') return;
    await sleep(50);
  }
  throw new Error(`redis on port ${port} does not answer`);
}

/** Runs `cmd` to its end: { ms, out }. */
function timed(cmd, args, input) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    if (input) {
      const f = spawn('cat', [input], { stdio: ['ignore', 'pipe', 'inherit'] });
      f.stdout.pipe(p.stdin);
    }
    p.once('exit', (code) => (code === 0 ? resolve({ ms: performance.now() - t0, out }) : reject(new Error(`${cmd}: exit ${code}: ${err.trim()}`))));
  });
}

async function runOne(cfg, sets) {
  const port = await freePort();
  const redisArgs = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const sock = path.join(work, `c${port}.sock`);
  const stateDir = path.join(work, `state${port}`);
  const env = { ...process.env, ...(cfg.runtimeDir ? { MVRC_RUNTIME_DIR: cfg.runtimeDir } : {}) };
  const proc =
    cfg.mode === 'native'
      ? spawn('redis-server', redisArgs, { stdio: 'ignore' })
      : spawn(process.execPath, [CLI, 'run', '--control', sock, '--state-dir', stateDir, ...cfg.flags, '--', 'redis-server', ...redisArgs], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  proc.stderr?.on('data', (d) => (err += d));
  try {
    await ping(port);
    const leader = cfg.mode === 'native' ? proc.pid : JSON.parse(spawnSync(process.execPath, [CLI, 'ctl', sock, 'status', '--json'], { encoding: 'utf8' }).stdout).leader.pid;
    const monitor = cfg.mode === 'native' ? null : childOf(proc.pid, 'mvr-monitor');
    const before = { leader: memory(leader), monitor: memory(monitor) };
    const cpu0 = cpuMs(leader) + cpuMs(monitor);
    const pipe = await timed('redis-cli', ['-p', String(port), '--pipe'], sets);
    const cpu1 = cpuMs(leader) + cpuMs(monitor);
    const after = { leader: memory(leader), monitor: memory(monitor) };
    const dbsize = Number(spawnSync('redis-cli', ['-p', String(port), 'dbsize'], { encoding: 'utf8' }).stdout.trim());
    const bench = await timed('redis-benchmark', ['-p', String(port), '-P', '16', '-c', '1', '-t', 'set', '-n', String(KEYS), '-r', String(KEYS), '--csv'], null);
    const rps = Number(/"SET","([\d.]+)"/.exec(bench.out)?.[1] ?? NaN);
    const cpu2 = cpuMs(leader) + cpuMs(monitor);
    let journal = null;
    if (cfg.mode !== 'native') {
      const st = JSON.parse(spawnSync(process.execPath, [CLI, 'ctl', sock, 'status', '--json'], { encoding: 'utf8' }).stdout);
      journal = st.journal;
    }
    return { pipeMs: pipe.ms, pipeCpu: cpu1 - cpu0, benchCpu: cpu2 - cpu1, rps, dbsize, before, after, journal };
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
    if (err.trim() && cfg.mode !== 'native' && /error/i.test(err)) console.error(`${cfg.name}: ${err.trim().split('\n').at(-1)}`);
  }
}

const sets = path.join(work, 'sets.resp');
await writeSets(sets);
const configs = [
  { name: 'native', mode: 'native' },
  { name: 'mvrc, journal in a file (this runtime)', mode: 'mvrc', flags: [] },
];
if (BASELINE)
  configs.push({ name: `mvrc, runtime of @${BASELINE}`, mode: 'mvrc', flags: ['--journal-size', String(BASELINE_JOURNAL)], runtimeDir: buildBaseline(BASELINE) });

const results = new Map(configs.map((c) => [c.name, []]));
for (let r = 0; r < ROUNDS; r++)
  for (const c of configs) {
    const x = await runOne(c, sets);
    results.get(c.name).push(x);
    console.log(`round ${r + 1} ${c.name}: ${KEYS} SETs via redis-cli --pipe in ${x.pipeMs.toFixed(0)} ms (server CPU ${x.pipeCpu.toFixed(0)} ms); redis-benchmark -P 16: ${x.rps.toFixed(0)} SET/s (server CPU ${x.benchCpu.toFixed(0)} ms); keys ${x.dbsize}`);
  }

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const nat = results.get('native');
const natMs = median(nat.map((x) => x.pipeMs));
const natRps = median(nat.map((x) => x.rps));
const natCpu = median(nat.map((x) => x.pipeCpu));
const natBenchCpu = median(nat.map((x) => x.benchCpu));
const f = (m) => (m ? `${m.rss.toFixed(0)} (${m.held.toFixed(0)} held, ${m.file.toFixed(0)} file)` : '-');
console.log(`\n${KEYS} pipelined SETs, ${ROUNDS} rounds each (medians); memory in MiB after the load: RSS (anonymous + shared = held, not reclaimable; file pages = reclaimable)`);
console.log(['mode', '--pipe ms', 'vs native', '--pipe CPU ms', 'vs native', 'SET/s -P16', 'vs native', '-P16 CPU ms', 'vs native', 'leader RSS', 'monitor RSS', 'journal'].join(' | '));
for (const c of configs) {
  const xs = results.get(c.name);
  const ms = median(xs.map((x) => x.pipeMs));
  const rps = median(xs.map((x) => x.rps));
  const cpu = median(xs.map((x) => x.pipeCpu));
  const bcpu = median(xs.map((x) => x.benchCpu));
  const last = xs.at(-1);
  const j = last.journal ? (last.journal.valid ? `valid, ${(last.journal.used / 2 ** 20).toFixed(0)} MiB${last.journal.disk ? `, ${(last.journal.disk / 2 ** 20).toFixed(0)} MiB on disk` : ''}` : 'ended') : '-';
  console.log([c.name, ms.toFixed(0), `${(ms / natMs).toFixed(2)}x`, cpu.toFixed(0), `${(cpu / natCpu).toFixed(2)}x`, rps.toFixed(0), `${(natRps / rps).toFixed(2)}x`, bcpu.toFixed(0), `${(bcpu / natBenchCpu).toFixed(2)}x`, f(last.after.leader), f(last.after.monitor), j].join(' | '));
}
console.log('\nvs native: time (or time per SET) relative to native redis-server in the same run; goal <= 1.10x with the journal.');
console.log('CPU: user + system time of the server processes (redis-server; under mvrc the leader and the monitor) during the load:');
console.log('on a shared machine the figure to read, as the load moves wall times by tens of percent.');
