#!/usr/bin/env node
// Runtime overhead benchmark: requests/s and latency of a server run natively, under
// `mvrc run` as a single leader (updatable: with a journal for replay, and for kv also without one,
// updatable by state handoff), and under `mvrc run` with a follower (leader + follower),
// with 1 and 8 client connections, for the example kv server (kv-v1, follower kv-v2 with
// examples/kv/forward.mvr) and for redis-server (follower: the same redis-server, rules
// examples/redis/redis.mvr).
// Prints a table and, per row, the cost per request relative to native in the same run.
//
//   node bench/runtime-bench.mjs [--seconds S] [--warmup S] [--rounds N] [--clients 1,8] [--no-redis]
//                                [--no-rules] [--json FILE] [--mvrc CLI] [--baseline REV]
// --no-rules: the leader+follower rows run the same version on both sides without --rules (the
// default path: the follower runs the empty rule file's module).
// --mvrc: the mvrc CLI to measure (default dist/mvrc.cjs; a .ts file, e.g. compiler/cli/main.ts, runs through tsx).
// --baseline REV: also measure the leader+follower rows with the runtime (runtime-c/) of git
// revision REV (e.g. main), built by this run with make and given to mvrc run through
// MVRC_RUNTIME_DIR, interleaved with the others; the `vs baseline` column gives this runtime's
// cost per request relative to that one (the hot path's cost of a runtime change).
//
// Each configuration is measured in --rounds rounds, interleaved (native, single leader,
// leader + follower, native, ...), each round on a freshly started server, and the median is
// reported: a shared machine's load drifts, and interleaving spreads the drift over all rows
// instead of favouring whichever ran in a quiet moment.
// Loopback only. Bounded in time: about rounds x configurations x (start-up + clients x
// (warmup + seconds)); ~2 min with the defaults. A row that cannot run (mvrc not built,
// `mvrc run` missing or failing, redis not installed) says why instead of a figure: no figure
// is ever estimated.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { cpus, release, tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const KV_DIR = path.join(ROOT, 'examples', 'kv');

// ---- options ----
function parseArgs(argv) {
  const o = { seconds: 1.5, warmup: 0.3, rounds: 3, clients: [1, 8], redis: true, rules: true, json: null, mvrc: path.join(ROOT, 'dist', 'mvrc.cjs'), baseline: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--seconds') o.seconds = positive(a, val());
    else if (a === '--warmup') o.warmup = Number(val());
    else if (a === '--rounds') o.rounds = Math.round(positive(a, val()));
    else if (a === '--clients') o.clients = val().split(',').map((c) => positive('--clients', c));
    else if (a === '--no-redis') o.redis = false;
    else if (a === '--no-rules') o.rules = false;
    else if (a === '--json') o.json = val();
    else if (a === '--mvrc') o.mvrc = path.resolve(val());
    else if (a === '--baseline') o.baseline = val();
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown option '${a}'`);
  }
  if (!(o.warmup >= 0)) usage('--warmup must be a number >= 0');
  return o;
}
function positive(flag, v) {
  const n = Number(v);
  if (!(n > 0)) usage(`${flag} expects a positive number, got '${v}'`);
  return n;
}
function usage(err) {
  const text = 'usage: node bench/runtime-bench.mjs [--seconds S] [--warmup S] [--rounds N] [--clients 1,8] [--no-redis] [--no-rules] [--json FILE] [--mvrc CLI] [--baseline REV]\n';
  if (err) {
    process.stderr.write(`runtime-bench: error: ${err}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

const opts = parseArgs(process.argv.slice(2));
/** The command line prefix that runs mvrc. */
const MVRC = [...(opts.mvrc.endsWith('.ts') ? ['--import', 'tsx'] : []), opts.mvrc];
const work = mkdtempSync(path.join(tmpdir(), 'mvrc-bench-'));
const children = new Set();
const cleanup = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130));

const firstLine = (s) => (s || '').trim().split('\n').find((l) => l.trim() !== '') ?? '';
const lastLine = (s) => (s || '').trim().split('\n').filter((l) => l.trim() !== '').at(-1) ?? '';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

// ---- preparation: build kv and the load generator ----
function build() {
  const mk = spawnSync('make', ['-C', KV_DIR, '-s', '--no-print-directory'], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`make -C examples/kv failed:\n${mk.stderr}`);
  const load = path.join(work, 'kv-load');
  const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O2', '-o', load, path.join(KV_DIR, 'kv-load.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`building kv-load failed:\n${cc.stderr}`);
  return load;
}

/** The runtime of git revision `rev`, built into the work directory: { dir } (for
 *  MVRC_RUNTIME_DIR), or { why } when it cannot be. */
function buildBaseline(rev) {
  const src = path.join(work, 'baseline');
  const tar = spawnSync('sh', ['-c', `mkdir -p "$2" && git -C "$1" archive "$3" runtime-c | tar -x -C "$2"`, 'sh', ROOT, src, rev], { encoding: 'utf8' });
  if (tar.status !== 0) return { why: `baseline ${rev}: ${firstLine(tar.stderr) || 'git archive failed'}` };
  const out = path.join(src, 'build');
  const mk = spawnSync('make', ['-C', path.join(src, 'runtime-c'), '-s', '--no-print-directory', `OUT=${out}`], { encoding: 'utf8' });
  if (mk.status !== 0) return { why: `baseline ${rev}: make failed: ${firstLine(mk.stderr)}` };
  return { dir: out };
}

/** Why `mvrc run` cannot be used, or null when it can. */
function mvrcUnavailable() {
  if (!existsSync(opts.mvrc)) return `${path.relative(ROOT, opts.mvrc)} is not built (npm run build)`;
  const r = spawnSync(process.execPath, [...MVRC, 'run', '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) return `'mvrc run' is not available: ${firstLine(r.stderr || r.stdout) || `exit ${r.status}`}`;
  return null;
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

/** One request/answer on a fresh connection; resolves with the answer or null. */
function probe(port, request, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    let got = '';
    const done = (v) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(null), timeoutMs);
    s.setEncoding('latin1');
    s.on('connect', () => s.write(request));
    s.on('data', (d) => {
      got += d;
      if (got.includes('\n')) done(got);
    });
    s.on('error', () => done(null));
  });
}

/**
 * Starts a server and waits until it serves: for kv, its `listening on PORT` line; for redis (a
 * fixed port), a PING answered with PONG. Rejects with the reason if it exits or times out.
 */
async function startServer(cmd, args, { port = null, timeoutMs = 90000, env = process.env } = {}) {
  const proc = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(proc);
  let out = '';
  let err = '';
  let exited = null;
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (err += d));
  const exit = new Promise((r) => proc.once('exit', (code, sig) => r((exited = sig ?? code))));
  proc.once('error', (e) => {
    exited = 'spawn-error';
    err += e.message;
  });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(t);
    }
    children.delete(proc);
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== null) break;
    if (port === null) {
      const m = /^listening on (\d+)\s*$/m.exec(out);
      if (m) return { port: Number(m[1]), stop, stderr: () => err, pid: proc.pid };
    } else if ((await probe(port, 'PING\r\n', 300))?.startsWith('+PONG')) {
      return { port, stop, stderr: () => err, pid: proc.pid };
    }
    await sleep(50);
  }
  await stop();
  const why = exited !== null ? `exited (${exited}) before serving` : `not serving after ${timeoutMs / 1000} s`;
  // The last stderr line is usually the fatal one (earlier lines may be progress messages).
  throw new Error(`${why}${lastLine(err) ? `: ${lastLine(err)}` : ''}`);
}

// ---- load ----
function runProcess(cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(p);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', (e) => (err += e.message));
    p.once('close', (code, sig) => {
      clearTimeout(t);
      children.delete(p);
      resolve({ code, sig, out, err, timedOut: sig === 'SIGKILL' });
    });
  });
}

/** Closed-loop load with our C client (kv protocol, or RESP with resp=true). */
async function loadKvLoad(loadBin, port, clients, resp) {
  const args = ['--port', String(port), '--clients', String(clients), '--seconds', String(opts.seconds), '--warmup', String(opts.warmup)];
  if (resp) args.push('--resp');
  const r = await runProcess(loadBin, args, (opts.seconds + opts.warmup) * 1000 + 20000);
  if (r.code !== 0) throw new Error(r.timedOut ? 'load generator timed out (server stuck?)' : `kv-load: ${firstLine(r.err) || `exit ${r.code}`}`);
  const j = JSON.parse(r.out);
  return { rps: j.rps, p50us: j.p50_us, p99us: j.p99_us, errors: j.errors, tool: resp ? 'kv-load --resp' : 'kv-load' };
}

/** redis-benchmark SET and GET; the time per test is set from a short calibration run. */
async function loadRedisBenchmark(port, clients) {
  const run = async (n) => {
    const r = await runProcess('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-c', String(clients), '-n', String(n), '-r', '10000', '-t', 'set,get', '--csv'], opts.seconds * 4000 + 20000);
    if (r.code !== 0 || r.timedOut) throw new Error(r.timedOut ? 'redis-benchmark timed out (server stuck?)' : `redis-benchmark: ${firstLine(r.err) || `exit ${r.code}`}`);
    const rows = r.out.trim().split('\n').map((l) => l.split(',').map((f) => f.replace(/^"|"$/g, '')));
    const header = rows[0]?.[0] === 'test' ? rows.shift() : ['test', 'rps'];
    const col = (name) => header.indexOf(name);
    const tests = rows.filter((r) => r[0] === 'SET' || r[0] === 'GET');
    if (tests.length !== 2) throw new Error(`unexpected redis-benchmark output: ${firstLine(r.out)}`);
    const num = (row, name) => (col(name) >= 0 ? Number(row[col(name)]) : null);
    // n requests of each test: total rate = 2n / (n/rps_set + n/rps_get).
    const rps = 2 / tests.reduce((s, t) => s + 1 / num(t, 'rps'), 0);
    const worst = (name) => (col(name) >= 0 ? Math.max(...tests.map((t) => num(t, name))) * 1000 : null);
    return { rps, p50us: worst('p50_latency_ms'), p99us: worst('p99_latency_ms'), errors: 0, tool: 'redis-benchmark' };
  };
  const cal = await run(Math.max(1000, Math.round(2000 * clients * Math.min(1, opts.warmup + 0.2))));
  const n = Math.max(1000, Math.min(5e6, Math.round((cal.rps * opts.seconds) / 2)));
  return run(n);
}

// ---- follower status through the control socket ----
/** The follower's state at the end of a round: { text, lost } where lost means that the
 *  follower was retired (or never there), so the figures are not leader + follower figures. */
async function followerState(sock) {
  const r = await runProcess(process.execPath, [...MVRC, 'ctl', sock, 'status', '--json'], 15000);
  if (r.code !== 0) return { text: `follower state unknown (${firstLine(r.err) || `exit ${r.code}`})`, lost: false };
  try {
    const st = JSON.parse(r.out);
    const retired = (st.retirements ?? []).map((x) => firstLine(x.report) || x.reason);
    if (retired.length) return { text: `FOLLOWER RETIRED, figures are of the leader alone: ${retired.join('; ')}`, lost: true };
    if (!st.follower) return { text: 'no follower', lost: true };
    return { text: `follower ${st.follower.state}`, lost: /retired|exited|dead|crash/.test(st.follower.state) };
  } catch {
    return { text: 'follower state unreadable', lost: false };
  }
}

/** Resident memory (KiB) of the server's process tree: monitor, leader and follower; the Node
 *  process of `mvrc run` itself (a launcher) is not counted. */
function treeRssKiB(pid) {
  let total = 0;
  const seen = new Set();
  const visit = (p) => {
    if (seen.has(p)) return;
    seen.add(p);
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const name = /^Name:\s*(.*)$/m.exec(status)?.[1] ?? '';
      const rss = Number(/^VmRSS:\s*(\d+)/m.exec(status)?.[1] ?? 0);
      if (name !== 'node' && name !== 'MainThread') total += rss;
      for (const t of readdirSync(`/proc/${p}/task`)) {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) visit(Number(c));
      }
    } catch {
      /* the process went away */
    }
  };
  visit(pid);
  return total;
}

// ---- the rows ----
const median = (xs) => {
  const v = xs.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  return v.length === 0 ? null : v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/** The result rows of one configuration (one per client count), created on first use. */
function rowsOf(cfg, results) {
  return opts.clients.map((clients) => {
    let r = results.find((x) => x.server === cfg.server && x.mode === cfg.mode && x.clients === clients);
    if (!r) {
      r = { server: cfg.server, mode: cfg.mode, clients, samples: [], notes: new Set(), tool: null };
      results.push(r);
    }
    return r;
  });
}

/** One round of one configuration: start the server, load it with each client count, stop it. */
async function measureRound(cfg, loadFn, results, round) {
  const rows = rowsOf(cfg, results);
  if (cfg.unavailable) {
    for (const r of rows) r.notes.add(cfg.unavailable);
    return;
  }
  let srv;
  try {
    srv = await startServer(cfg.cmd, cfg.args(), { port: cfg.port ?? null, env: cfg.env ?? process.env });
  } catch (e) {
    for (const r of rows) r.notes.add(`did not start: ${e.message}`);
    return;
  }
  try {
    for (const row of rows) {
      try {
        const m = await loadFn(srv.port, row.clients);
        m.rssKiB = treeRssKiB(srv.pid);
        row.samples.push(m);
        row.tool = m.tool;
        if (m.errors) row.notes.add(`round ${round}: ${m.errors} errors`);
      } catch (e) {
        row.notes.add(e.message);
      }
      const last = row.samples.at(-1);
      process.stderr.write(`  round ${round} ${cfg.server} ${cfg.mode} x${row.clients}: ${last ? `${Math.round(last.rps)} req/s` : [...row.notes].at(-1)}\n`);
    }
    if (cfg.control && cfg.follower) {
      const st = await followerState(cfg.control);
      for (const r of rows) {
        r.notes.add(st.text);
        if (st.lost) r.followerLost = true;
      }
    }
  } finally {
    await srv.stop();
  }
}

function summarize(results) {
  for (const r of results) {
    r.rps = median(r.samples.map((m) => m.rps));
    r.p50us = median(r.samples.map((m) => m.p50us));
    r.p99us = median(r.samples.map((m) => m.p99us));
    r.rounds = r.samples.length;
    r.rssMiB = r.samples.length ? Math.max(...r.samples.map((m) => m.rssKiB ?? 0)) / 1024 : null;
    // Spread of req/s over the rounds, as a share of the median: how far to trust the ratios.
    const rates = r.samples.map((m) => m.rps);
    r.spread = rates.length > 1 && r.rps ? (Math.max(...rates) - Math.min(...rates)) / r.rps : null;
    r.note = [...r.notes].join('; ');
    // The table shows the first reason, shortened; --json keeps them all.
    const first = [...r.notes][0] ?? '';
    const lost = [...r.notes].find((n) => n.startsWith('FOLLOWER RETIRED') || n === 'no follower');
    const main = lost ?? [...r.notes][0] ?? '';
    r.shortNote = (main.length > 130 ? `${main.slice(0, 127)}...` : main) + (r.notes.size > 1 ? ` (+${r.notes.size - 1} more in --json)` : '');
  }
}

function fmt(n, digits = 0) {
  return n === null || n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits);
}

function printTable(results) {
  const native = (r) => results.find((x) => x.server === r.server && x.mode === 'native' && x.clients === r.clients);
  const baseline = (r) => results.find((x) => x.server === r.server && x.mode === `${r.mode} @${opts.baseline}` && x.clients === r.clients);
  const head = ['server', 'mode', 'clients', 'rounds', 'req/s', 'spread', 'p50 us', 'p99 us', 'cost/req', 'p99 vs native', ...(opts.baseline ? ['vs baseline'] : []), 'RSS MiB', 'note'];
  const body = results.map((r) => {
    const n = native(r);
    // No ratio for a leader + follower row whose follower was lost: it would pass for one.
    const ok = !r.followerLost;
    const cost = ok && r.rps && n?.rps ? `${(n.rps / r.rps).toFixed(2)}x` : '-';
    const p99 = ok && r.p99us && n?.p99us ? `${(r.p99us / n.p99us).toFixed(2)}x` : '-';
    const spread = r.spread === null ? '-' : `${Math.round(r.spread * 100)}%`;
    // This runtime's cost per request relative to the baseline's (its req/s over this row's).
    const b = baseline(r);
    r.vsBaseline = ok && b && !b.followerLost && r.rps && b.rps ? b.rps / r.rps : null;
    const vsb = opts.baseline ? [r.vsBaseline === null ? '-' : `${r.vsBaseline.toFixed(3)}x`] : [];
    return [r.server, r.mode, String(r.clients), String(r.rounds), fmt(r.rps), spread, fmt(r.p50us, 1), fmt(r.p99us, 1), cost, p99, ...vsb, fmt(r.rssMiB, 1), r.shortNote];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const b of body) console.log(line(b));
}

async function main() {
  const started = Date.now();
  const loadBin = build();
  const mvrcWhy = mvrcUnavailable();
  const results = [];
  console.log(
    `runtime-bench: ${cpus().length} CPUs, Linux ${release()}, ${opts.rounds} rounds of ${opts.seconds} s per measurement after ${opts.warmup} s warm-up, loopback; medians`,
  );

  const kvLoad = (port, clients) => loadKvLoad(loadBin, port, clients, false);
  const v1 = path.join(KV_DIR, 'kv-v1');
  const v2 = path.join(KV_DIR, 'kv-v2');
  // Commands are built per round (args()), so that each round gets a fresh port and control socket.
  let sockets = 0;
  const mvrc = (rest, follower = false) => ({
    follower,
    cmd: process.execPath,
    args() {
      this.control = path.join(work, `ctl-${++sockets}.sock`);
      return [...MVRC, 'run', '--control', this.control, ...rest()];
    },
    unavailable: mvrcWhy,
  });
  const configs = [
    { server: 'kv', mode: 'native', cmd: v1, args: () => ['--port', '0'], load: kvLoad },
    { server: 'kv', mode: 'mvrc single leader', ...mvrc(() => ['--', v1, '--port', '0']), load: kvLoad },
    // Updatable by handoff (kv uses runtime-c/dsu): no journal, so the leader runs untrapped.
    { server: 'kv', mode: 'mvrc single, no journal', ...mvrc(() => ['--journal-size', '0', '--', v1, '--port', '0']), load: kvLoad },
    {
      server: 'kv',
      mode: 'mvrc leader+follower',
      ...mvrc(() => (opts.rules ? ['--rules', path.join(KV_DIR, 'forward.mvr'), '--', v1, '--port', '0', ':::', v2, '--port', '0'] : ['--', v1, '--port', '0', ':::', v1, '--port', '0']), true),
      load: kvLoad,
    },
  ];
  if (opts.redis) {
    const redisWhy = has('redis-server') ? null : 'redis-server not installed (scripts/install-deps.sh)';
    const redisLoad = has('redis-benchmark') ? loadRedisBenchmark : (port, clients) => loadKvLoad(loadBin, port, clients, true);
    // Redis cannot pick its own port (0 means "no TCP"): a free one is chosen before each start.
    const redisArgs = (port) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    // Each config's args() reads its own port, set just before each start.
    const r1 = { server: 'redis', mode: 'native', cmd: 'redis-server', args: () => redisArgs(r1.port), unavailable: redisWhy };
    const m2 = mvrc(() => ['--', 'redis-server', ...redisArgs(r2.port)]);
    const r2 = { server: 'redis', mode: 'mvrc single leader', ...m2, unavailable: redisWhy ?? m2.unavailable };
    const m3 = mvrc(() => [...(opts.rules ? ['--rules', path.join(ROOT, 'examples', 'redis', 'redis.mvr')] : []), '--', 'redis-server', ...redisArgs(r3.port), ':::', 'redis-server', ...redisArgs(r3.port)], true);
    const r3 = { server: 'redis', mode: 'mvrc leader+follower', ...m3, unavailable: redisWhy ?? m3.unavailable };
    for (const c of [r1, r2, r3]) Object.assign(c, { load: redisLoad, needsPort: true });
    configs.push(r1, r2, r3);
  }

  if (opts.baseline) {
    // The leader + follower rows again, with the baseline's runtime, right after each of them.
    const base = buildBaseline(opts.baseline);
    const env = base.dir ? { ...process.env, MVRC_RUNTIME_DIR: base.dir } : process.env;
    for (const cfg of configs.filter((c) => c.follower)) {
      const twin = { ...cfg, mode: `${cfg.mode} @${opts.baseline}`, env, unavailable: cfg.unavailable ?? base.why ?? null };
      // Redis's arguments read the port of the configuration they were made for: lend it the twin's.
      if (cfg.needsPort)
        twin.args = function () {
          const own = cfg.port;
          cfg.port = this.port;
          try {
            return cfg.args.call(this);
          } finally {
            cfg.port = own;
          }
        };
      configs.splice(configs.indexOf(cfg) + 1, 0, twin);
    }
  }

  for (let round = 1; round <= opts.rounds; round++) {
    for (const cfg of configs) {
      if (cfg.needsPort) cfg.port = await freePort();
      await measureRound(cfg, cfg.load, results, round);
    }
  }
  summarize(results);

  console.log('');
  printTable(results);
  const tools = [...new Set(results.filter((r) => r.tool).map((r) => `${r.server}: ${r.tool}`))];
  console.log('');
  console.log(`cost/req = native req/s / row req/s (closed loop: time per request), same server and clients, this run. Load: ${tools.join(', ') || 'none'}.`);
  console.log('spread = (max - min) / median of req/s over the rounds; a large spread means a busy machine: compare ratios only when it is small.');
  if (opts.baseline) console.log(`vs baseline = req/s with the runtime of ${opts.baseline} / this row's req/s (this runtime's cost per request relative to that one's; 1.000x: the same).`);
  console.log('Published (MVEDSUA, ASPLOS 2019, same-host client): single leader 1.01-1.10x; leader + follower 1.33x (vsftpd) to 2.06x (Memcached), 1.70x Redis.');
  console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (opts.json) {
    const out = results.map(({ notes: _n, shortNote: _s, ...r }) => r);
    writeFileSync(opts.json, JSON.stringify({ seconds: opts.seconds, warmup: opts.warmup, rounds: opts.rounds, results: out }, null, 2) + '\n');
  }
}

main().catch((e) => {
  process.stderr.write(`runtime-bench: error: ${e.message}\n`);
  process.exit(1);
});
