// A real program nobody here wrote: Debian's redis-server as leader and follower under `mvrc run`,
// with concurrent clients whose every answer is checked against a model. No divergence allowed.
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { query, type MonitorStatus } from '../compiler/cli/ctl.ts';
import { ctl, ctlAsync, until } from './helpers/ctl.ts';
import { CLI, REPO } from './helpers/cli.ts';
import { rng } from '../examples/kv/client.ts';
import { Resp, type Reply } from './helpers/resp.ts';
import { freePort } from './helpers/processes.ts';

/** Random SET/GET/INCR/RPUSH/LRANGE/DEL on keys this client owns, checked against a model. */
async function client(port: number, id: number, requests: number, mismatches: string[]): Promise<number> {
  const c = await Resp.open(port);
  const r = rng(1000 + id);
  const strings = new Map<string, string>();
  const lists = new Map<string, string[]>();
  let answered = 0;
  try {
    for (let i = 0; i < requests; i++) {
      const k = `c${id}:${Math.floor(r() * 12)}`;
      const op = Math.floor(r() * 6);
      let want: Reply;
      let got: Reply;
      if (op === 0) {
        const v = `v${Math.floor(r() * 1e6)}`;
        got = await c.call('SET', `s:${k}`, v);
        strings.set(`s:${k}`, v);
        want = 'OK';
      } else if (op === 1) {
        got = await c.call('GET', `s:${k}`);
        want = strings.get(`s:${k}`) ?? null;
      } else if (op === 2) {
        const cur = Number(strings.get(`n:${k}`) ?? '0') + 1;
        got = await c.call('INCR', `n:${k}`);
        strings.set(`n:${k}`, String(cur));
        want = cur;
      } else if (op === 3) {
        const v = `e${i}`;
        const l = lists.get(`l:${k}`) ?? [];
        l.push(v);
        lists.set(`l:${k}`, l);
        got = await c.call('RPUSH', `l:${k}`, v);
        want = l.length;
      } else if (op === 4) {
        got = await c.call('LRANGE', `l:${k}`, '0', '-1');
        want = lists.get(`l:${k}`) ?? [];
      } else {
        const existed = (strings.has(`s:${k}`) ? 1 : 0) + (lists.has(`l:${k}`) ? 1 : 0);
        got = await c.call('DEL', `s:${k}`, `l:${k}`);
        strings.delete(`s:${k}`);
        lists.delete(`l:${k}`);
        want = existed;
      }
      answered++;
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`client ${id} request ${i}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
  } finally {
    c.close();
  }
  return answered;
}

/** Waits until redis-server, started under `mvrc run` by `proc`, answers PING (through the leader). */
async function untilPong(proc: ChildProcess, port: number): Promise<void> {
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout!.resume();
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const c = await Resp.open(port);
      const pong = await c.call('PING');
      c.close();
      if (pong === 'PONG') return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`redis under mvrc run did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100)); // the polling interval; nothing depends on it
  }
}

describe('redis-server as leader and follower (end to end)', function () {
  this.timeout(180_000);
  let dir: string;
  let proc: ChildProcess | undefined;

  before(function () {
    const have = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
    if (have.status !== 0) throw new Error('redis-server is required: run scripts/install-deps.sh');
    dir = mkdtempSync(join(tmpdir(), 'mvrc-redis-'));
  });
  after(() => {
    if (proc && proc.exitCode === null) proc.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 8 concurrent clients exactly like a model, with the follower reconciling every event', async () => {
    const port = await freePort();
    const sock = join(dir, 'ctl.sock');
    const log = join(dir, 'follower.log');
    const server = ['redis-server', '--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'];
    proc = spawn(process.execPath, [CLI, 'run', '--rules', join(REPO, 'examples', 'redis', 'redis.mvr'), '--control', sock, '--follower-log', log, '--', ...server, ':::', ...server], { stdio: ['ignore', 'pipe', 'pipe'] });
    await untilPong(proc, port);
    const mismatches: string[] = [];
    const answered = await Promise.all(Array.from({ length: 8 }, (_, i) => client(port, i, 400, mismatches)));
    expect(mismatches, mismatches.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(answered.reduce((a, b) => a + b, 0)).to.equal(8 * 400);

    // The follower must have reconciled everything the leader did (it may lag a moment). The
    // limit is no speed requirement, only a way to fail with the status below.
    let st: MonitorStatus | undefined;
    for (const t0 = Date.now(); Date.now() - t0 < 60_000; await new Promise((r) => setTimeout(r, 100))) {
      st = JSON.parse(await query(sock, 'status')) as MonitorStatus;
      if (st.events.consumed === st.events.recorded || st.retirements.length > 0) break;
    }
    const report = st!.retirements.map((r) => r.report).join('\n') + readFileSync(log, 'utf8').slice(-2000);
    expect(st!.retirements, report).to.deep.equal([]);
    expect(st!.follower?.state, report).to.equal('following');
    expect(st!.events.recorded).to.be.greaterThan(8 * 400);
    expect(st!.events.consumed).to.equal(st!.events.recorded);
    proc.kill('SIGTERM');
  });

  it('updates a running redis-server by replay, promotes it under checked load (5 threads: main, bio, jemalloc) and commits; every key stays', async () => {
    const port = await freePort();
    const sock = join(dir, 'update.sock');
    const rules = join(REPO, 'examples', 'redis', 'redis.mvr');
    const server = ['redis-server', '--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'];
    proc = spawn(process.execPath, [CLI, 'run', '--control', sock, '--state-dir', dir, '--', ...server], { stdio: ['ignore', 'pipe', 'pipe'] });
    await untilPong(proc, port);
    const bench = spawnSync('redis-benchmark', ['-p', String(port), '-t', 'set', '-n', '20000', '-r', '20000', '-P', '16', '-q'], { encoding: 'utf8' });
    expect(bench.status, bench.stderr).to.equal(0);
    const admin = await Resp.open(port);
    const loaded = await admin.call('DBSIZE');
    expect(loaded).to.be.greaterThan(10000);
    const up = ctl(sock, ['update', '--rules', rules, '--back', rules, '--state', 'replay', '--', ...server]);
    expect(up.status, up.stderr).to.equal(0);
    const caught = await until(sock, (s) => s.catchUp?.done === true || s.stage === 'single leader', 'catch-up');
    expect(caught.stage, JSON.stringify(caught.timeline)).to.equal('outdated leader');
    expect(caught.threads, 'redis-server runs a main thread and background threads').to.be.greaterThan(1);
    // Checked clients across the promotion and the commit.
    const mismatches: string[] = [];
    const clients = Promise.all(Array.from({ length: 8 }, (_, i) => client(port, 100 + i, 600, mismatches)));
    const pro = await ctlAsync(sock, ['promote']);
    expect(pro.status, pro.stderr + pro.stdout).to.equal(0);
    expect(pro.stdout).to.match(/^promote: version 2 \(pid \d+\) leads; version 1 \(pid \d+\) follows with the backward rules/m);
    const com = await ctlAsync(sock, ['commit']);
    expect(com.status, com.stderr).to.equal(0);
    const answered = await clients;
    expect(mismatches, mismatches.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(answered.reduce((a, b) => a + b, 0)).to.equal(8 * 600);
    // Every key the benchmark stored is still there, in the new version.
    expect(await admin.call('EVAL', "return #redis.call('keys', 'key:*')", '0')).to.equal(loaded);
    admin.close();
    const st = JSON.parse(await query(sock, 'status')) as MonitorStatus;
    expect(st.stage).to.equal('single leader');
    expect(st.leader.version).to.equal(2);
    proc.kill('SIGTERM');
  });
});
