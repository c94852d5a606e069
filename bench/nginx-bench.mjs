#!/usr/bin/env node
// nginx with a master and 2 workers under multi-version execution: requests/s and latency of
// Debian's nginx run natively and as leader + follower under `mvrc run` (the same binary and
// configuration on both sides, no rules), with 8 client connections making keep-alive HTTP GETs
// of a small static file (kv-load --http: every answer's status and body checked). Prints, per
// round and as medians, the cost per request relative to native and the p99 latency ratio,
// measured in the same run; whether the follower kept up (events consumed) and was never retired;
// the CPU time per request of each process tree (master + workers, /proc/PID/stat over the load):
// it varies far less than the throughput on a shared machine, and says what the leader and the
// follower each cost. The load average is printed before and after.
//
//   node bench/nginx-bench.mjs [--seconds S] [--warmup S] [--rounds N] [--clients C] [--workers W]
//                              [--size BYTES] [--json FILE] [--mvrc CLI]
//
// Rounds are interleaved (native, leader + follower, native, ...), each on a freshly started
// server, and the median is reported: the machine's load drifts. Loopback only; no root needed
// (a private prefix). A row that cannot run says why instead of a figure: no figure is estimated.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import path from 'node:path';
import { benchProcesses } from './lib/processes.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');
const NGINX = '/usr/sbin/nginx';

function parseArgs(argv) {
  const o = { seconds: 3, warmup: 0.5, rounds: 3, clients: 8, workers: 2, size: 100, json: null, mvrc: path.join(ROOT, 'dist', 'mvrc.cjs') };
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
    else if (a === '--workers') o.workers = Math.round(num(val()));
    else if (a === '--size') o.size = Math.round(num(val()));
    else if (a === '--json') o.json = val();
    else if (a === '--mvrc') o.mvrc = path.resolve(val());
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown option '${a}'`);
  }
  if (!(o.warmup >= 0)) usage('--warmup must be a number >= 0');
  if (o.size > 4000) usage('--size must be at most 4000 bytes (kv-load reads an answer into 4 KiB)');
  return o;
}
function usage(err) {
  const text = 'usage: node bench/nginx-bench.mjs [--seconds S] [--warmup S] [--rounds N] [--clients C] [--workers W] [--size BYTES] [--json FILE] [--mvrc CLI]\n';
  if (err) {
    process.stderr.write(`nginx-bench: error: ${err}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

const opts = parseArgs(process.argv.slice(2));
const work = mkdtempSync(path.join(tmpdir(), 'mvrc-nginxbench-'));
chmodSync(work, 0o755); // run as root, nginx's workers are nobody and read html/
const { sleep, median, freePort, listening, run, start } = benchProcesses(ROOT, work);

// ---- preparation ----
if (!existsSync(NGINX)) {
  process.stderr.write(`nginx-bench: ${NGINX} is not installed (scripts/install-deps.sh)\n`);
  process.exit(2);
}
const load = path.join(work, 'kv-load');
const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O2', '-o', load, path.join(ROOT, 'examples', 'kv', 'kv-load.c')], { encoding: 'utf8' });
if (cc.status !== 0) {
  process.stderr.write(`nginx-bench: building kv-load failed:\n${cc.stderr}`);
  process.exit(2);
}
const mvrcMissing = existsSync(opts.mvrc) ? null : `${path.relative(ROOT, opts.mvrc)} is not built (npm run build)`;
mkdirSync(path.join(work, 'html'));
const body = Buffer.alloc(opts.size);
for (let i = 0; i < body.length; i++) body[i] = 0x61 + ((i * 7) % 26);
writeFileSync(path.join(work, 'html', 'page.txt'), body);

/** A prefix (pid file, logs, temp folders) and a configuration. */
function server(port, name) {
  const dir = path.join(work, name);
  mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${path.join(dir, t)};`).join(' ');
  writeFileSync(
    conf,
    `master_process on; worker_processes ${opts.workers}; daemon off; pid ${path.join(dir, 'nginx.pid')}; error_log ${path.join(dir, 'error.log')};
events { worker_connections 256; }
http {
  access_log off; keepalive_requests 1000000; ${temp}
  server { listen 127.0.0.1:${port}; root ${path.join(work, 'html')}; }
}
`,
  );
  return [NGINX, '-p', dir, '-c', conf];
}

/** The pid and its living descendants. */
function tree(pid) {
  const parent = new Map();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* ended meanwhile */
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [p, pp] of parent) if (pp === out[i]) out.push(p);
  return out;
}

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
/** CPU time of each process of a tree, by pid (the workers are the same over a round). */
const treeCpu = (pid) => new Map(tree(pid).map((p) => [p, cpuUs(p)]));
const cpuSince = (before) => [...before].reduce((s, [p, c0]) => s + (cpuUs(p) - c0), 0);

async function workersUp(pid) {
  for (let i = 0; i < 600 && tree(pid).length < 1 + opts.workers; i++) await sleep(50);
  if (tree(pid).length < 1 + opts.workers) throw new Error(`nginx ${pid} has not started its ${opts.workers} workers`);
}

async function measure(port) {
  const r = await run(load, ['--http', '/page.txt', '--body', path.join(work, 'html', 'page.txt'), '--port', String(port), '--clients', String(opts.clients), '--seconds', String(opts.seconds), '--warmup', String(opts.warmup)], (opts.seconds + opts.warmup) * 1000 + 60000);
  if (r.code !== 0) throw new Error(`kv-load: ${r.err.trim() || `exit ${r.code}`}`);
  const j = JSON.parse(r.out.trim().split('\n').at(-1));
  if (j.errors) throw new Error(`kv-load: ${j.errors} wrong or failed answers`);
  return j;
}

async function native() {
  const port = await freePort();
  const cmd = server(port, 'native');
  const s = start(cmd[0], cmd.slice(1));
  try {
    await listening(port, s.proc);
    await workersUp(s.proc.pid);
    const c0 = treeCpu(s.proc.pid);
    const j = await measure(port);
    j.cpuUs = { server: cpuSince(c0) / j.requests };
    return j;
  } finally {
    await s.stop();
  }
}

async function mve() {
  if (mvrcMissing) throw new Error(mvrcMissing);
  const port = await freePort();
  const sock = path.join(work, `ctl-${port}.sock`);
  // The same command on both sides (the follower's files are the leader's: its calls are matched).
  const cmd = server(port, 'mve');
  const args = [opts.mvrc, 'run', '--control', sock, '--follower-log', path.join(work, 'follower.log'), '--', ...cmd, ':::', ...cmd];
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
    await workersUp(pids.leader);
    await workersUp(pids.follower);
    const l0 = treeCpu(pids.leader);
    const f0 = treeCpu(pids.follower);
    const j = await measure(port);
    const l1 = cpuSince(l0);
    // The follower's state once it has caught up (or was retired): a figure with a retired
    // follower measures a single leader, and is reported as such.
    let st;
    for (let i = 0; i < 600; i++) {
      st = await status();
      if (st.retirements.length || st.events.consumed === st.events.recorded) break;
      await sleep(50);
    }
    j.cpuUs = { leader: l1 / j.requests, follower: cpuSince(f0) / j.requests };
    if (st.retirements.length) {
      writeFileSync(path.join(ROOT, `nginx-bench-retirement-${port}.txt`), st.retirements[0].report);
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
const la = () => loadavg().map((x) => x.toFixed(2)).join(', ');
console.log(`nginx-bench: ${NGINX}, master + ${opts.workers} workers, ${opts.clients} keep-alive connections, GET of a ${opts.size}-byte file, ${opts.rounds} rounds of ${opts.seconds} s (+${opts.warmup} s warm-up)`);
console.log(`machine: ${cpus().length} vCPU, ${cpus()[0]?.model ?? '?'}, Linux ${release()}; load average ${la()}`);
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
  const perRound = rows.mve.map((m, i) => (rows.native[i] ? rows.native[i].rps / m.rps : NaN)).filter((x) => x > 0);
  summary.cost = summary.native.rps / summary.mve.rps;
  summary.p99ratio = summary.mve.p99us / summary.native.p99us;
  console.log(`leader + follower: cost per request ${summary.cost.toFixed(2)}x native (per round: ${perRound.map((x) => x.toFixed(2)).join(', ')}; goal <= 1.3x), p99 latency ${summary.p99ratio.toFixed(2)}x native (goal <= 1.5x), p50 ${(summary.mve.p50us / summary.native.p50us).toFixed(2)}x`);
  console.log(`CPU per request: native ${summary.native.cpu_server.toFixed(1)} us; leader ${summary.mve.cpu_leader.toFixed(1)} us (${(summary.mve.cpu_leader / summary.native.cpu_server).toFixed(2)}x), follower ${summary.mve.cpu_follower.toFixed(1)} us (${(summary.mve.cpu_follower / summary.native.cpu_server).toFixed(2)}x)`);
} else {
  console.log(`no ratio: ${Object.entries(errors).map(([k, v]) => `${k}: ${v}`).join('; ') || 'a configuration did not run every round'}`);
}
console.log(`load average at the end: ${la()}`);
if (opts.json) writeFileSync(opts.json, JSON.stringify({ opts, loadavg: loadavg(), rows, summary, errors }, null, 2));
