#!/usr/bin/env node
// memcached -t 4 under multi-version execution: requests/s and latency of Debian's memcached run
// natively and as leader + follower under `mvrc run` (the same binary on both sides, rules
// examples/memcached/memcached.mvr), with 8 client connections on shared keys (kv-load --memcache:
// every key set first, a key's value always the same). Prints, per round and as medians, the
// cost per request relative to native and the p99 latency ratio, measured in the same run; and
// whether the follower kept up (events consumed) and was never retired. CPU time per request of
// each process (/proc/PID/stat, over the load) is printed too: it varies far less than the
// throughput on a shared machine, and says what the leader and the follower each cost.
//
//   node bench/memcached-bench.mjs [--seconds S] [--warmup S] [--rounds N] [--clients C] [--keys K]
//                                  [--threads T] [--json FILE] [--mvrc CLI]
//
// Rounds are interleaved (native, leader + follower, native, ...), each on a freshly started
// server, and the median is reported: the machine's load drifts. Loopback only. A row that cannot
// run says why instead of a figure: no figure is ever estimated.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import path from 'node:path';
import { benchProcesses } from './lib/processes.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');

function parseArgs(argv) {
  const o = { seconds: 3, warmup: 0.5, rounds: 3, clients: 8, keys: 1000, threads: 4, json: null, mvrc: path.join(ROOT, 'dist', 'mvrc.cjs') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const num = (v) => {
      const n = Number(v);
      if (!(n > 0)) usage(`${a} expects a positive number, got '${v}'`);
      return n;
    };
    if (a === '--seconds') o.seconds = num(val());
    else if (a === '--warmup') o.warmup = Number(val());
    else if (a === '--rounds') o.rounds = Math.round(num(val()));
    else if (a === '--clients') o.clients = Math.round(num(val()));
    else if (a === '--keys') o.keys = Math.round(num(val()));
    else if (a === '--threads') o.threads = Math.round(num(val()));
    else if (a === '--json') o.json = val();
    else if (a === '--mvrc') o.mvrc = path.resolve(val());
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown option '${a}'`);
  }
  if (!(o.warmup >= 0)) usage('--warmup must be a number >= 0');
  return o;
}
function usage(err) {
  const text = 'usage: node bench/memcached-bench.mjs [--seconds S] [--warmup S] [--rounds N] [--clients C] [--keys K] [--threads T] [--json FILE] [--mvrc CLI]\n';
  if (err) {
    process.stderr.write(`memcached-bench: error: ${err}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

const opts = parseArgs(process.argv.slice(2));
const work = mkdtempSync(path.join(tmpdir(), 'mvrc-mcbench-'));
const { sleep, median, freePort, listening, run, start } = benchProcesses(ROOT, work);

// ---- preparation ----
if (spawnSync('memcached', ['-V'], { stdio: 'ignore' }).status !== 0) {
  process.stderr.write('memcached-bench: memcached is not installed (scripts/install-deps.sh)\n');
  process.exit(2);
}
const load = path.join(work, 'kv-load');
const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O2', '-o', load, path.join(ROOT, 'examples', 'kv', 'kv-load.c')], { encoding: 'utf8' });
if (cc.status !== 0) {
  process.stderr.write(`memcached-bench: building kv-load failed:\n${cc.stderr}`);
  process.exit(2);
}
const mvrcMissing = existsSync(opts.mvrc) ? null : `${path.relative(ROOT, opts.mvrc)} is not built (npm run build)`;
const asRoot = process.getuid?.() === 0 ? ['-u', 'root'] : []; // memcached refuses root without -u
const server = (port) => ['memcached', '-t', String(opts.threads), '-p', String(port), '-U', '0', '-l', '127.0.0.1', ...asRoot];

/** CPU time (user + system, all threads) a process has used, in microseconds. */
function cpuUs(pid) {
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return NaN; // it ended (a retired follower): the status says why
  }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

async function measure(port) {
  const r = await run(load, ['--memcache', '--port', String(port), '--clients', String(opts.clients), '--seconds', String(opts.seconds), '--warmup', String(opts.warmup), '--keys', String(opts.keys)], (opts.seconds + opts.warmup) * 1000 + 60000);
  if (r.code !== 0) throw new Error(`kv-load: ${r.err.trim() || `exit ${r.code}`}`);
  const j = JSON.parse(r.out.trim().split('\n').at(-1));
  if (j.errors) throw new Error(`kv-load: ${j.errors} errors`);
  return j;
}

async function native() {
  const port = await freePort();
  const s = start(server(port)[0], server(port).slice(1));
  try {
    await listening(port, s.proc);
    const c0 = cpuUs(s.proc.pid);
    const j = await measure(port);
    j.cpuUs = { server: (cpuUs(s.proc.pid) - c0) / j.requests };
    return j;
  } finally {
    await s.stop();
  }
}

async function mve() {
  if (mvrcMissing) throw new Error(mvrcMissing);
  const port = await freePort();
  const sock = path.join(work, `ctl-${port}.sock`);
  const args = [opts.mvrc, 'run', '--rules', path.join(ROOT, 'examples', 'memcached', 'memcached.mvr'), '--control', sock, '--follower-log', path.join(work, 'follower.log'), '--', ...server(port), ':::', ...server(port)];
  const s = start(process.execPath, args);
  try {
    await listening(port, s.proc);
    const status = async () => {
      const r = await run(process.execPath, [opts.mvrc, 'ctl', sock, 'status', '--json'], 30000);
      try {
        return JSON.parse(r.out);
      } catch {
        throw new Error(`mvrc ctl status: ${r.err.trim() || r.out.trim()}`);
      }
    };
    const st0 = await status();
    const pids = { leader: st0.leader.pid, follower: st0.follower?.pid };
    if (!pids.follower) throw new Error('no follower at the start');
    const l0 = cpuUs(pids.leader);
    const f0 = cpuUs(pids.follower);
    const j = await measure(port);
    const l1 = cpuUs(pids.leader);
    // The follower's state once it has caught up (or was retired): a figure with a retired
    // follower measures a single leader, and is reported as such.
    let st;
    for (let i = 0; i < 600; i++) {
      st = await status();
      if (st.retirements.length || st.events.consumed === st.events.recorded) break;
      await sleep(50);
    }
    j.cpuUs = { leader: (l1 - l0) / j.requests, follower: (cpuUs(pids.follower) - f0) / j.requests };
    if (st.retirements.length) {
      writeFileSync(path.join(ROOT, `memcached-bench-retirement-${port}.txt`), st.retirements[0].report);
      throw new Error(`the follower was retired: ${st.retirements[0].reason} — ${st.retirements[0].report.split('\n').slice(0, 4).join(' / ')}`);
    }
    j.events = st.events.recorded;
    j.perRequest = st.events.recorded / Math.max(1, j.requests);
    return j;
  } finally {
    await s.stop();
  }
}

// ---- run ----
console.log(`memcached-bench: memcached -t ${opts.threads}, ${opts.clients} connections, ${opts.keys} keys, ${opts.rounds} rounds of ${opts.seconds} s (+${opts.warmup} s warm-up)`);
console.log(`machine: ${cpus().length} vCPU, ${cpus()[0]?.model ?? '?'}, Linux ${release()}`);
const rows = { native: [], mve: [] };
const errors = {};
for (let round = 1; round <= opts.rounds; round++) {
  for (const [name, fn] of [['native', native], ['mve', mve]]) {
    try {
      const j = await fn();
      rows[name].push(j);
      const cpu = Object.entries(j.cpuUs).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
      console.log(`round ${round} ${name.padEnd(6)} ${j.rps.toFixed(0).padStart(7)} req/s  p50 ${j.p50_us.toFixed(0)} us  p99 ${j.p99_us.toFixed(0)} us  CPU us/request: ${cpu}${j.perRequest ? `; ${j.perRequest.toFixed(2)} events/request, follower caught up` : ''}`);
    } catch (e) {
      errors[name] = e.message;
      console.log(`round ${round} ${name.padEnd(6)} cannot run: ${e.message}`);
    }
  }
}
const summary = {};
for (const name of ['native', 'mve']) {
  if (!rows[name].length) continue;
  summary[name] = { rps: median(rows[name].map((j) => j.rps)), p99us: median(rows[name].map((j) => j.p99_us)), p50us: median(rows[name].map((j) => j.p50_us)) };
  for (const k of Object.keys(rows[name][0].cpuUs)) summary[name][`cpu_${k}`] = median(rows[name].map((j) => j.cpuUs[k]));
}
console.log('\nmedians:');
for (const [name, s] of Object.entries(summary)) console.log(`  ${name.padEnd(6)} ${s.rps.toFixed(0).padStart(7)} req/s  p50 ${s.p50us.toFixed(0)} us  p99 ${s.p99us.toFixed(0)} us`);
if (summary.native && summary.mve && rows.mve.length === opts.rounds) {
  // Per round too: each leader + follower round against the native round just before it.
  const perRound = rows.mve.map((m, i) => rows.native[i] ? rows.native[i].rps / m.rps : NaN).filter((x) => x > 0);
  summary.cost = summary.native.rps / summary.mve.rps;
  summary.p99ratio = summary.mve.p99us / summary.native.p99us;
  console.log(`leader + follower: cost per request ${summary.cost.toFixed(2)}x native (per round: ${perRound.map((x) => x.toFixed(2)).join(', ')}; goal <= 1.3x), p99 latency ${summary.p99ratio.toFixed(2)}x native (goal <= 1.5x), p50 ${(summary.mve.p50us / summary.native.p50us).toFixed(2)}x`);
  console.log(`CPU per request: native ${summary.native.cpu_server.toFixed(1)} us; leader ${summary.mve.cpu_leader.toFixed(1)} us (${(summary.mve.cpu_leader / summary.native.cpu_server).toFixed(2)}x), follower ${summary.mve.cpu_follower.toFixed(1)} us (${(summary.mve.cpu_follower / summary.native.cpu_server).toFixed(2)}x)`);
} else {
  console.log(`no ratio: ${Object.entries(errors).map(([k, v]) => `${k}: ${v}`).join('; ') || 'a configuration did not run every round'}`);
}
if (opts.json) writeFileSync(opts.json, JSON.stringify({ opts, rows, summary, errors }, null, 2));
