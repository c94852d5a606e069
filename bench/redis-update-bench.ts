// A live update of Debian's redis-server 7.0.15 ~deb12u7 -> ~deb12u10 holding N keys (1M by
// default), three ways, in one run, under the same checked clients (issue 11):
//   mvrc      the old build runs under `mvrc run --control` (journal kept); `mvrc ctl update
//             --state replay` starts the new build beside it, it replays and follows; promote;
//             commit. The clients never change server.
//   restart   what Redis users do with one server: SAVE, stop the old build, start the new one
//             on the same port, which loads the RDB file; clients reconnect until it answers.
//   replica   what Redis users do with two: the new build started as a replica of the old one;
//             once in sync, writes are paused on the old one (CLIENT PAUSE WRITE), the replica
//             catches the last offset, REPLICAOF NO ONE, the clients move to the new port, the
//             old one is shut down.
// For each: the longest time without any answer (the largest gap between two answers, over all
// clients), the worst latency during the update against the steady state's worst just before
// (same clients, same length of window; goal <= 1.5x — MVEDSUA: 117 ms against 100 ms native),
// failed requests (no answer: refused, closed) and wrong answers, the total time from the
// request to the end, the peak memory (RSS) of every process of the server side, and the keys
// read back intact at the end.
//
//   npx tsx bench/redis-update-bench.ts [--keys N] [--steady-seconds S] [--ways mvrc,restart,replica]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkKeys, loadKeys, RespConn } from '../examples/redis/client.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(REPO, 'dist', 'mvrc.cjs');
const RULES = join(REPO, 'examples', 'redis', 'redis.mvr');
const RELEASES = { old: '5:7.0.15-1~deb12u7', new: '5:7.0.15-1~deb12u10' };
const WAYS = ['mvrc', 'restart', 'replica'] as const;
type Way = (typeof WAYS)[number];

function usage(msg: string): never {
  process.stderr.write(`redis-update-bench: error: ${msg}\nusage: npx tsx bench/redis-update-bench.ts [--keys N] [--steady-seconds S] [--ways ${WAYS.join(',')}]\n`);
  process.exit(2);
}
const opts = { keys: 1_000_000, steadyS: 10, ways: [...WAYS] as Way[] };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]!;
  const v = process.argv[++i];
  if (a === '--keys' && v && /^\d+$/.test(v)) opts.keys = Number(v);
  else if (a === '--steady-seconds' && v && /^\d+$/.test(v)) opts.steadyS = Number(v);
  else if (a === '--ways' && v) {
    opts.ways = v.split(',') as Way[];
    for (const w of opts.ways) if (!WAYS.includes(w)) usage(`unknown way '${w}'`);
  } else usage(`bad argument '${a}'`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => process.stderr.write(`redis-update-bench: ${s}\n`);

function fetchBuild(v: string): string {
  const dest = join(REPO, '.cache', 'debian', `redis-${v.split('~')[1]}`);
  const r = spawnSync('bash', [join(REPO, 'scripts', 'fetch-debian-build.sh'), dest, `redis-tools=${v}`, `redis-server=${v}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  const bin = join(dest, 'usr', 'bin', 'redis-server');
  if (r.status !== 0 || !existsSync(bin)) usage(`cannot fetch Debian's redis ${v} (scripts/fetch-debian-build.sh)`);
  return bin;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.once('error', rej);
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = Number(process.env['BENCH_WAIT_MS'] ?? 300_000)): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`gave up waiting for ${what}`);
    await sleep(50);
  }
}

async function answers(port: number): Promise<boolean> {
  try {
    const c = await RespConn.open(port);
    const r = await c.request('PING');
    c.close();
    return r === 'PONG';
  } catch {
    return false;
  }
}

async function command(port: number, ...args: string[]): Promise<unknown> {
  const c = await RespConn.open(port);
  try {
    return await c.request(...args);
  } finally {
    c.close();
  }
}

/** The RSS (KiB) of a process and all its descendants. */
function treeRss(root: number): number {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone */
    }
  }
  let kib = 0;
  const pending = [root];
  while (pending.length) {
    const p = pending.pop()!;
    try {
      kib += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
    pending.push(...(children.get(p) ?? []));
  }
  return kib;
}

/**
 * Checked clients that run until stopped, each on keys of its own (SET then GET of a counter
 * value, so every answer is checked, then a pause of a millisecond), reconnecting — to the port `target()` names at that moment —
 * when a connection fails. Each answer's time and latency is kept.
 */
class Clients {
  answers: { at: number; ms: number }[] = [];
  failed = 0;
  wrong: string[] = [];
  private stopped = false;
  private runs: Promise<void>[] = [];
  constructor(
    private target: () => number,
    n: number,
  ) {
    for (let i = 0; i < n; i++) this.runs.push(this.client(i));
  }
  private async client(ci: number): Promise<void> {
    let c: RespConn | undefined;
    let seq = 0;
    while (!this.stopped) {
      if (!c) {
        try {
          c = await RespConn.open(this.target());
        } catch {
          this.failed++;
          await sleep(5);
          continue;
        }
      }
      const key = `bench:c${ci}`;
      const v = `v${++seq}`;
      const t0 = performance.now();
      try {
        const set = await c.request('SET', key, v);
        const get = await c.request('GET', key);
        const t1 = performance.now();
        this.answers.push({ at: t1, ms: t1 - t0 });
        // An error reply (Redis's -LOADING while it reads its RDB file) is a request that failed,
        // not a wrong answer; anything else but the model's answer is wrong.
        const isError = (r: unknown) => typeof r === 'object' && r !== null && 'error' in r;
        if (isError(set) || isError(get)) this.failed++;
        else if (set !== 'OK' || get !== v) this.wrong.push(`client ${ci}: SET ${key} ${v} -> ${JSON.stringify(set)}, GET -> ${JSON.stringify(get)}`);
        // Paced (about a thousand pairs a second per client at most), as a service's clients are:
        // an open loop at full speed would measure only how fast a replay can chase it.
        await sleep(1);
      } catch {
        // No answer: the server went away (restart) or closed the connection. The value may or
        // may not have been written; the next round writes a new one, so the model stays exact.
        this.failed++;
        c.close();
        c = undefined;
        await sleep(5);
      }
    }
    c?.close();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.runs);
  }
  /** The worst latency and the longest gap between answers within [from, to]. */
  window(from: number, to: number): { worst: number; gap: number; n: number } {
    const xs = this.answers.filter((a) => a.at >= from && a.at <= to).sort((a, b) => a.at - b.at);
    let worst = 0;
    let gap = 0;
    let prev = from;
    for (const a of xs) {
      worst = Math.max(worst, a.ms);
      gap = Math.max(gap, a.at - prev);
      prev = a.at;
    }
    return { worst, gap: Math.max(gap, to - prev), n: xs.length };
  }
}

interface Row {
  way: Way;
  ok: boolean;
  note: string;
  totalMs: number;
  gapMs: number;
  worstMs: number;
  steadyWorstMs: number;
  failed: number;
  wrong: number;
  peakRssMiB: number;
  nativeRssMiB: number;
  keysIntact: number;
}

const BASE_ARGS = (port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'no', '--save', ''];
/** Natively, each server writes its RDB and log in its own folder; under mvrc both versions run
 *  as examples/redis does (log on standard output, no files). */
const SERVER_ARGS = (port: number, dir: string) => [...BASE_ARGS(port), '--dir', dir, '--logfile', join(dir, `redis-${port}.log`)];

async function runWay(way: Way, oldBin: string, newBin: string): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), `mvrc-redis-bench-${way}-`));
  const procs: ChildProcess[] = [];
  const spawnServer = (cmd: string, args: string[]) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    procs.push(p);
    return { p, err: () => err };
  };
  let port = await freePort();
  let rssRoots: number[] = [];
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssRoots.reduce((s, p) => s + treeRss(p), 0));
  }, 100);
  try {
    const sock = join(dir, 'control.sock');
    const first =
      way === 'mvrc'
        ? spawnServer(process.execPath, [CLI, 'run', '--control', sock, '--state-dir', join(dir, 'state'), '--', oldBin, ...BASE_ARGS(port)])
        : spawnServer(oldBin, SERVER_ARGS(port, dir));
    rssRoots = [first.p.pid!];
    await waitFor('the old build to answer', async () => {
      if (first.p.exitCode !== null) throw new Error(`the old build ended: ${first.err()}`);
      return (await answers(port)) && (way !== 'mvrc' || existsSync(sock)) ? true : undefined;
    });
    say(`${way}: loading ${opts.keys} keys`);
    await loadKeys(port, opts.keys);
    const nativeRss = peak;
    let target = port;
    const clients = new Clients(() => target, 4);
    const steadyFrom = performance.now();
    await sleep(opts.steadyS * 1000);
    const t0 = performance.now();
    const steady = clients.window(steadyFrom, t0);
    say(`${way}: updating`);
    let note = '';
    let ok = true;
    if (way === 'mvrc') {
      // Asynchronous: the clients run in this process, and a synchronous child would stop them.
      const ctl = (...a: string[]) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((res) => {
          const c = spawn(process.execPath, [CLI, 'ctl', sock, ...a], { stdio: ['ignore', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          c.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
          c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
          c.on('close', (status) => res({ status, stdout, stderr }));
        });
      const st = async () => JSON.parse((await ctl('status', '--json')).stdout) as { catchUp?: { done: boolean; ms: number; target: number }; follower: unknown; retirements: { reason: string }[] };
      const up = await ctl('update', '--rules', RULES, '--back', RULES, '--state', 'replay', '--retries', '2', '--', newBin, ...BASE_ARGS(port));
      if (up.status !== 0) throw new Error(`update refused (exit ${up.status}): ${`${up.stdout}${up.stderr}`.replace(/\n/g, " / ")}`);
      let last = '';
      const s = await waitFor('the catch-up', async () => {
        const raw = await ctl('status', '--json');
        last = raw.stdout;
        const x = JSON.parse(raw.stdout) as Awaited<ReturnType<typeof st>> & { stage: string; timeline: { event: string }[] };
        // Caught up; or rolled back with no retry to come (the monitor retries a divergence, and
        // says so in the timeline right after the rollback).
        const spent = x.stage === 'single leader' && x.retirements.length > 0 && x.timeline.at(-1)?.event === 'rollback';
        return x.catchUp?.done || spent ? x : undefined;
      }).catch((e: Error) => {
        throw new Error(`${e.message}; the monitor's last status: ${last.replace(/\s+/g, ' ').slice(0, 1500)}`);
      });
      if (!s.catchUp?.done) {
        ok = false;
        note = `retired while catching up: ${s.retirements.map((r) => `${r.reason}: ${(r as { report?: string }).report?.trim().split('\n')[0] ?? ''}`).join('; ')}`;
      } else {
        note = `replayed ${s.catchUp.target} events in ${s.catchUp.ms} ms${s.retirements.length ? `, after ${s.retirements.length} retried attempt(s)` : ''}`;
        const pro = await ctl('promote');
        const paused = /leader paused (\d+) ms/.exec(pro.stdout + pro.stderr);
        if (paused) note += `, promote paused the leader ${paused[1]} ms`; // the switch's own cost
        const com = pro.status === 0 ? await ctl('commit') : pro;
        if (com.status !== 0) {
          ok = false;
          note += `; ${`${com.stdout}${com.stderr}`.trim().split('\n')[0]}`;
        }
      }
    } else if (way === 'restart') {
      const save = await command(port, 'SAVE');
      if (save !== 'OK') throw new Error(`SAVE answered ${JSON.stringify(save)}`);
      first.p.kill('SIGTERM');
      await new Promise((r) => first.p.once('exit', r));
      const second = spawnServer(newBin, SERVER_ARGS(port, dir)); // same --dir: it loads dump.rdb
      rssRoots = [second.p.pid!];
      await waitFor('the new build to answer', async () => {
        if (second.p.exitCode !== null) throw new Error(`the new build ended: ${second.err()}`);
        return (await answers(port)) ? true : undefined;
      });
      note = 'SAVE, stop, start on the RDB';
    } else {
      const newPort = await freePort();
      const dir2 = join(dir, 'replica');
      spawnSync('mkdir', ['-p', dir2]);
      const replica = spawnServer(newBin, [...SERVER_ARGS(newPort, dir2), '--replicaof', '127.0.0.1', String(port)]);
      rssRoots = [first.p.pid!, replica.p.pid!];
      await waitFor('the replica to be in sync', async () => {
        if (replica.p.exitCode !== null) throw new Error(`the replica ended: ${replica.err()}`);
        try {
          const info = String(await command(newPort, 'INFO', 'replication'));
          return /master_link_status:up/.test(info) && /master_sync_in_progress:0/.test(info) ? true : undefined;
        } catch {
          return undefined;
        }
      });
      const pausedAt = performance.now();
      await command(port, 'CLIENT', 'PAUSE', '30000', 'WRITE');
      const offset = (info: string) => Number(/master_repl_offset:(\d+)/.exec(info)?.[1] ?? -1);
      const want = offset(String(await command(port, 'INFO', 'replication')));
      await waitFor('the replica to reach the last offset', async () => (offset(String(await command(newPort, 'INFO', 'replication'))) >= want ? true : undefined));
      await command(newPort, 'REPLICAOF', 'NO', 'ONE');
      target = newPort;
      // Writes blocked by the pause on the old server would land there after it: it is shut down
      // instead (those requests fail, and their clients retry on the new port).
      first.p.kill('SIGKILL');
      port = newPort;
      note = `writes paused ${(performance.now() - pausedAt).toFixed(0)} ms`;
    }
    const t1 = performance.now();
    await sleep(1000); // a second of the new version serving
    await clients.stop();
    const upd = clients.window(t0, t1 + 1000);
    const lost = await checkKeys(port, opts.keys);
    return {
      way,
      ok: ok && clients.wrong.length === 0 && lost.length === 0,
      note,
      totalMs: t1 - t0,
      gapMs: upd.gap,
      worstMs: upd.worst,
      steadyWorstMs: steady.worst,
      failed: clients.failed,
      wrong: clients.wrong.length,
      peakRssMiB: peak / 1024,
      nativeRssMiB: nativeRss / 1024,
      keysIntact: opts.keys - lost.length,
    };
  } finally {
    clearInterval(sampler);
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await sleep(500);
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!existsSync(CLI)) usage('dist/mvrc.cjs is missing: run npm run build first');
const oldBin = fetchBuild(RELEASES.old);
const newBin = fetchBuild(RELEASES.new);
const rows: Row[] = [];
for (const way of opts.ways) {
  try {
    rows.push(await runWay(way, oldBin, newBin));
  } catch (e) {
    say(`${way}: ${(e as Error).message}`);
    rows.push({ way, ok: false, note: (e as Error).message.split('\n')[0]!, totalMs: NaN, gapMs: NaN, worstMs: NaN, steadyWorstMs: NaN, failed: NaN, wrong: NaN, peakRssMiB: NaN, nativeRssMiB: NaN, keysIntact: NaN });
  }
}
const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—');
console.log(`redis 7.0.15 ${RELEASES.old} -> ${RELEASES.new}, ${opts.keys} keys, 4 checked clients (SET+GET), steady state ${opts.steadyS} s before each`);
console.log('| way | completed | total (ms) | longest time without an answer (ms) | worst latency during / steady (ms) | ratio (goal <= 1.5x) | failed requests | wrong answers | peak RSS of the server side (MiB) | keys intact | note |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(
    `| ${r.way} | ${r.ok ? 'yes' : 'NO'} | ${f(r.totalMs)} | ${f(r.gapMs)} | ${f(r.worstMs, 1)} / ${f(r.steadyWorstMs, 1)} | ${f(r.worstMs / r.steadyWorstMs, 2)}x | ${f(r.failed)} | ${f(r.wrong)} | ${f(r.peakRssMiB)} (before the update: ${f(r.nativeRssMiB)}) | ${f(r.keysIntact)} | ${r.note} |`,
  );
process.exit(rows.every((r) => r.ok) ? 0 : 1);
