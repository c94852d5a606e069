// Order across tasks (runtime-c/agent/order.c): a multi-threaded server that hands connections from
// its main thread to worker threads through memory and an eventfd, as memcached does, runs as
// leader and follower with concurrent clients; then Debian's memcached itself (-t 4).
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { query, type MonitorStatus } from '../compiler/cli/ctl.ts';
import { CLI, REPO, eventually, tempDir } from './helpers/cli.ts';
import { LineConn, rng } from '../examples/kv/client.ts';
import { freePort } from './helpers/processes.ts';

const CFLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O1', '-pthread'];
const KEYS = 8;
const value = (k: number): string => `v${k}-${(k * 2654435761) >>> 0}`;

interface Run {
  child: ChildProcess;
  out: string;
  err: string;
  exited: Promise<number | null>;
}

function startRun(args: string[]): Run {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  const run: Run = { child, out: '', err: '', exited: new Promise((res) => child.once('exit', (c) => res(c))) };
  child.stdout!.on('data', (d: Buffer) => (run.out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (run.err += d.toString()));
  return run;
}

async function portOf(run: Run): Promise<number> {
  await eventually(() => /^port \d+$/m.test(run.out) || run.child.exitCode !== null, 'the fixture to print its port');
  const m = /^port (\d+)$/m.exec(run.out);
  if (!m) throw new Error(`the fixture did not start:\n${run.err}`);
  return Number(m[1]);
}

/** The fixture's protocol: "set K V" -> "N stored", "get K" -> "N V"; N counts the connection's requests. */
async function client(port: number, id: number, requests: number, mismatches: string[]): Promise<void> {
  const c = await LineConn.open(port);
  const r = rng(7000 + id);
  try {
    for (let n = 1; n <= requests; n++) {
      const k = Math.floor(r() * KEYS);
      const set = r() < 0.4;
      const got = await c.request(set ? `set k${k} ${value(k)}` : `get k${k}`, 60_000);
      const want = `${n} ${set ? 'stored' : value(k)}`;
      if (got !== want) mismatches.push(`client ${id} request ${n}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
  } finally {
    c.close();
  }
}

/** Every key set once on one connection, answered, before the concurrent clients start. */
async function preload(port: number): Promise<void> {
  const c = await LineConn.open(port);
  for (let k = 0; k < KEYS; k++) expect(await c.request(`set k${k} ${value(k)}`, 60_000)).to.equal(`${k + 1} stored`);
  c.close();
}

describe('runtime: order across threads (memcached\'s hand-off of connections to workers)', function () {
  this.timeout(180_000);
  let dir: string;
  const bin: Record<string, string> = {};

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    dir = tempDir('mvrc-order-');
    const src = join(REPO, 'test', 'fixtures', 'mvr-workers.c');
    for (const [name, defs] of Object.entries({ workers: [], wrong: ['-DWRONG_REPLY'], lockFirst: ['-DLOCK_FIRST'] })) {
      bin[name] = join(dir, name);
      execFileSync('cc', [...CFLAGS, ...defs, '-o', bin[name]!, src]);
    }
  });

  it('follows 6 concurrent clients whose connections the main thread hands to 3 workers: every answer checked, no retirement', async () => {
    const log = join(dir, 'follower.log');
    const run = startRun(['--follower-log', log, '--', bin.workers!, '3', ':::', bin.workers!, '3']);
    const port = await portOf(run);
    await preload(port);
    const mismatches: string[] = [];
    await Promise.all(Array.from({ length: 6 }, (_, i) => client(port, i, 150, mismatches)));
    expect(mismatches, mismatches.slice(0, 5).join('\n')).to.deep.equal([]);
    run.child.stdin!.end(); // the fixture stops its workers and exits
    expect(await run.exited, run.err).to.equal(0);
    expect(run.err, run.err).to.not.match(/retired/);
    expect(run.out).to.match(/^served 7$/m);
    // The follower printed what the leader printed: it followed to the end, the exit included.
    expect(readFileSync(log, 'utf8')).to.equal(run.out);
  });

  it('still retires a follower whose worker answers other bytes (the order is no licence to differ)', async () => {
    const run = startRun(['--', bin.workers!, '3', ':::', bin.wrong!, '3']);
    const port = await portOf(run);
    await preload(port);
    const mismatches: string[] = [];
    await Promise.all(Array.from({ length: 3 }, (_, i) => client(port, i, 20, mismatches)));
    // The leader answered every request right; the follower's 5th answer on a connection differs.
    expect(mismatches).to.deep.equal([]);
    await eventually(() => /retired: divergence/.test(run.err), 'the divergence report');
    expect(run.err).to.match(/leader: +write\(\d+, "5 (stored|v\d)/);
    expect(run.err).to.match(/follower: write\(\d+, "5 something else\\n"/);
    run.child.stdin!.end();
    expect(await run.exited, run.err).to.equal(0);
  });

  it('reports a follower that deadlocks on the order (a lock taken in another order): which task waits for which event', async () => {
    // The follower's worker 0 holds the queue's lock from its start; its main thread then blocks
    // on it before queueing the first connection, while worker 0 waits for the main thread's
    // eventfd write, which came first in the leader.
    const run = startRun(['--deadline-ms', '1000', '--', bin.workers!, '2', ':::', bin.lockFirst!, '2']);
    const port = await portOf(run);
    const c = await LineConn.open(port);
    expect(await c.request('set a b', 60_000)).to.equal('1 stored');
    await eventually(() => /retired: hang/.test(run.err), 'the hang report');
    // The waiting task and the event it waits for (the main thread's eventfd write) ...
    // The waiting task went on after a while without the main thread's eventfd write, which came
    // first in the leader (the main thread's follower holds no order, only the program's lock):
    // the follower log says so, naming the event it did not wait for ...
    const logPath = /the follower's output is in (\S+)/.exec(run.err)?.[1];
    expect(logPath, run.err).to.be.a('string');
    expect(readFileSync(logPath!, 'utf8')).to.match(/task pair #1 went on at its leader event #\d+ without waiting for task pair #0's event #\d+, which is blocked on a lock/);
    // ... and the hang report shows where the main thread's follower is: blocked on the lock.
    expect(run.err).to.match(/follower: futex\([^\n]*blocked in it now/);
    // The leader went on serving.
    expect(await c.request('get a', 60_000)).to.equal('2 b');
    c.close();
    run.child.stdin!.end();
    expect(await run.exited, run.err).to.equal(0);
  });
});

/** A memcached text-protocol client: one request at a time. */
class Memcache {
  private constructor(private readonly conn: LineConn) {}
  static async open(port: number): Promise<Memcache> {
    return new Memcache(await LineConn.open(port));
  }
  async set(k: string, v: string): Promise<string> {
    await this.conn.send(`set ${k} 0 0 ${v.length}\r\n${v}\r\n`);
    return this.conn.nextLine(60_000);
  }
  /** The value's lines and END, joined with "|" (without their "\r"). */
  async get(k: string): Promise<string> {
    await this.conn.send(`get ${k}\r\n`);
    const lines: string[] = [];
    for (;;) {
      const l = (await this.conn.nextLine(60_000)).replace(/\r$/, '');
      lines.push(l);
      if (l === 'END' || l.startsWith('ERROR') || l.startsWith('SERVER_ERROR') || l.startsWith('CLIENT_ERROR')) return lines.join('|');
    }
  }
  close(): void {
    this.conn.close();
  }
}

describe('memcached -t 4 as leader and follower (end to end)', function () {
  this.timeout(180_000);
  let dir: string;
  let proc: ChildProcess | undefined;

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    if (spawnSync('memcached', ['-V'], { encoding: 'utf8' }).status !== 0) throw new Error('memcached is required: run scripts/install-deps.sh');
    dir = tempDir('mvrc-memcached-');
  });
  after(() => {
    if (proc && proc.exitCode === null) proc.kill('SIGTERM');
  });

  it('answers 8 connections on shared keys exactly, with the follower reconciling every event', async () => {
    const port = await freePort();
    const sock = join(dir, 'ctl.sock');
    const log = join(dir, 'follower.log');
    // memcached names its threads through /proc/self/task/<tid>/comm: the tids differ.
    const rules = join(REPO, 'examples', 'memcached', 'memcached.mvr');
    // As root memcached wants -u; it stays root then.
    const server = ['memcached', '-t', '4', '-p', String(port), '-U', '0', '-l', '127.0.0.1', ...(process.getuid?.() === 0 ? ['-u', 'root'] : [])];
    proc = spawn(process.execPath, [CLI, 'run', '--rules', rules, '--control', sock, '--follower-log', log, '--', ...server, ':::', ...server], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdout!.resume();
    let first: Memcache | undefined;
    await eventually(async () => {
      try {
        first = await Memcache.open(port);
        return true;
      } catch {
        return proc!.exitCode !== null;
      }
    }, 'memcached under mvrc run to listen');
    expect(first, stderr).to.not.equal(undefined);
    // Every key set once and answered before the load: a key's value never changes afterwards, so
    // what a get answers does not depend on which connection's request on that key came first.
    const keys = 16;
    const val = (k: number): string => `value-${k}-${'x'.repeat(k * 3)}`;
    for (let k = 0; k < keys; k++) expect(await first!.set(`key${k}`, val(k))).to.equal('STORED\r');
    first!.close();
    const mismatches: string[] = [];
    const perClient = 300;
    await Promise.all(Array.from({ length: 8 }, async (_, id) => {
      const c = await Memcache.open(port);
      const r = rng(500 + id);
      try {
        for (let i = 0; i < perClient; i++) {
          const k = Math.floor(r() * keys);
          if (r() < 0.3) {
            const got = await c.set(`key${k}`, val(k));
            if (got !== 'STORED\r') mismatches.push(`client ${id} set key${k}: ${JSON.stringify(got)}`);
          } else {
            const got = await c.get(`key${k}`);
            const want = `VALUE key${k} 0 ${val(k).length}|${val(k)}|END`;
            if (got !== want) mismatches.push(`client ${id} get key${k}: ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
          }
        }
      } finally {
        c.close();
      }
    }));
    expect(mismatches, mismatches.slice(0, 5).join('\n')).to.deep.equal([]);
    // The follower must have reconciled everything the leader did (it may lag a moment).
    let st: MonitorStatus | undefined;
    await eventually(async () => {
      st = JSON.parse(await query(sock, 'status')) as MonitorStatus;
      return st.events.consumed === st.events.recorded || st.retirements.length > 0;
    }, 'the follower to consume every event');
    const report = st!.retirements.map((r) => r.report).join('\n') + stderr + readFileSync(log, 'utf8').slice(-2000);
    expect(st!.retirements, report).to.deep.equal([]);
    expect(st!.follower?.state, report).to.equal('following');
    expect(st!.events.recorded).to.be.greaterThan(8 * perClient * 2);
  });
});
