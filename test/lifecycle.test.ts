// End-to-end live update of the example key-value server (examples/kv) under `mvrc run --control`:
// kv-v1 starts as a single leader (journaling its events); `mvrc ctl update --state replay` starts
// kv-v2 beside it, which replays the journal through the forward rules and then follows live;
// promote / commit / rollback switch the roles. Concurrent clients check every answer against a
// model of the store, and bulk-loaded keys are read back afterwards: no request may fail and no key
// may be lost, whatever happens to either version (docs/lifecycle.md).
import { expect } from 'chai';
import { symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { MonitorStatus } from '../compiler/cli/ctl.ts';
import { CLI, REPO } from './helpers/cli.ts';
import { clean, ctl, events, KV, prepareKv, raw, status, until } from './helpers/ctl.ts';
import { loadInRounds } from './helpers/kv.ts';
import { checkKeys, LineConn, loadKeys, runLoad, startKv, type KvServer } from '../examples/kv/client.ts';

const { v1: V1, v2: V2, forward: FORWARD, backward: BACKWARD } = KV;

describe('live update lifecycle: kv-v1 -> kv-v2', function () {
  this.timeout(120_000);
  let dir: string;
  let faultSo: string;
  let n = 0;
  const running: KvServer[] = [];

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    ({ dir, faultSo } = prepareKv('mvrc-lifecycle-'));
  });
  afterEach(async () => {
    for (const kv of running.splice(0)) await kv.stop();
  });

  async function single(extra: string[] = []): Promise<{ kv: KvServer; sock: string }> {
    const sock = join(dir, `c${++n}.sock`);
    const kv = await startKv(process.execPath, [CLI, 'run', '--control', sock, '--state-dir', dir, ...extra, '--', V1, '--port', '0'], { cwd: REPO });
    running.push(kv);
    return { kv, sock };
  }

  function update(sock: string, extra: string[] = []): { status: number | null; stdout: string; stderr: string } {
    return ctl(sock, ['update', '--rules', FORWARD, '--back', BACKWARD, '--state', 'replay', ...extra, '--', V2, '--port', '0']);
  }

  it('update -> promote -> commit under load: 5k replayed keys, then v2 serves every key and TYPE', async () => {
    const { kv, sock } = await single();
    expect(status(sock)).to.deep.include({ stage: 'single leader', follower: null });
    await loadKeys(kv.port, 5000);
    const up = update(sock);
    expect(up.status, up.stderr).to.equal(0);
    expect(up.stdout).to.match(/stage: outdated leader/);
    // Clients keep coming while the new version catches up, is promoted and committed.
    // Rounds of 12 concurrent clients, one after another until the commit is done: clients are
    // connected across every switch.
    const load = loadInRounds({ port: kv.port, clients: 12, requests: 60 }, 'r', 100);
    const caught = await until(sock, (s) => s.catchUp?.done === true, 'catch-up');
    expect(caught.catchUp!.target).to.be.above(10); // the pipelined loads: a few large reads
    expect(caught.catchUp!.eventsPerSec).to.be.above(0);
    await load.answered(); // the promotion happens under load
    const pro = ctl(sock, ['promote']);
    expect(pro.status, pro.stderr).to.equal(0);
    // How long the old leader waited is reported (bench/update-bench.mjs measures it).
    expect(pro.stdout).to.match(/^promote: version 2 \(pid \d+\) leads; version 1 \(pid \d+\) follows with the backward rules \(switched at event #\d+, leader paused \d+ ms\)$/m);
    const up2 = status(sock);
    expect(up2).to.deep.include({ stage: 'updated leader', leads: 'new' });
    expect(up2.leader.version).to.equal(2);
    expect(up2.follower).to.deep.include({ version: 1, state: 'following' });
    await load.nextRound(); // a whole round of clients served by the new leader
    const com = ctl(sock, ['commit']);
    expect(com.status, com.stderr).to.equal(0);
    const rounds = await load.stop();
    expect(rounds.length).to.be.at.least(2);
    for (const r of rounds) clean(r, 12 * 60);
    const fin = status(sock);
    expect(fin).to.deep.include({ stage: 'single leader' });
    expect(fin.leader.version).to.equal(2);
    const steps = ['start', 'update', 'caught-up', 'promote', 'commit'];
    expect(events(fin).filter((e) => steps.includes(e)), 'the timeline, in order').to.deep.equal(steps);
    expect(fin.retirements).to.deep.equal([]);
    // v2 serves: typed values and TYPE work, and every key loaded into v1 is there.
    const c = await LineConn.open(kv.port);
    try {
      expect(await c.request('PUT-number n1 42')).to.equal('OK');
      expect(await c.request('TYPE n1')).to.equal('TYPE number');
      expect(await c.request('TYPE key:7')).to.equal('TYPE string');
    } finally {
      c.close();
    }
    expect((await checkKeys(kv.port, 5000)).mismatches).to.deep.equal([]);
    clean(await runLoad({ port: kv.port, clients: 6, requests: 60, seed: 4, typed: true, keyPrefix: 'after' }), 6 * 60);
    // SIGTERM reaches v2 through its signalfd, registered again in its own context at promotion.
    expect(await kv.stop(), kv.stderr()).to.equal(0);
  });

  it('a connection open across the update keeps working, even when an earlier closed one had its descriptor number', async () => {
    const { kv, sock } = await single();
    // A closes before B connects, so B gets A's descriptor number in the leader; the journal must
    // hand the new version B's socket, not the placeholder for A's closed one.
    const a = await LineConn.open(kv.port);
    expect(await a.request('PUT before-a 1')).to.equal('OK');
    // A half-closes; kv closes A's descriptor when it reads the end of A's input, and only then
    // does A see the server's FIN: from there on, B's accept() reuses A's descriptor number.
    a.socket.end();
    expect(await a.waitClosed(), 'kv closed A').to.equal(true);
    // B connects at once, possibly before the monitor has looked at A's close (it scans when
    // woken): the journal must be right either way.
    const b = await LineConn.open(kv.port);
    try {
      expect(await b.request('PUT before-b 2')).to.equal('OK');
      const up = update(sock);
      expect(up.status, up.stderr).to.equal(0);
      await until(sock, (s) => s.catchUp?.done === true, 'catch-up');
      expect(await b.request('GET before-a')).to.equal('VALUE 1');
      expect(ctl(sock, ['promote']).status).to.equal(0);
      // The new version now leads and serves B's connection itself (v1 follows it).
      expect(await b.request('PUT on-b 7')).to.equal('OK');
      expect(ctl(sock, ['commit']).status).to.equal(0);
      expect(await b.request('GET before-b')).to.equal('VALUE 2');
      expect(await b.request('PUT-number on-b 8')).to.equal('OK');
      expect(await b.request('TYPE on-b')).to.equal('TYPE number');
    } finally {
      b.close();
    }
    const fin = status(sock);
    expect(fin).to.deep.include({ stage: 'single leader' });
    expect(fin.leader.version).to.equal(2);
    expect(fin.retirements).to.deep.equal([]);
  });

  it('a single leader keeping its journal still shuts connections down when it closes them', async () => {
    const { kv, sock } = await single();
    const answer = await new Promise<string>((resolve, reject) => {
      const c = connect({ port: kv.port, host: '127.0.0.1', allowHalfOpen: true });
      let data = '';
      // A wait for the FIN that fails with a message rather than at mocha's timeout: no duration is asserted.
      const t = setTimeout(() => reject(new Error(`no FIN from the server within 30 s (got ${JSON.stringify(data)})`)), 30_000);
      c.setEncoding('utf8');
      c.on('connect', () => c.end('PUT half 1\n')); // half-close: kv answers, then closes
      c.on('data', (d: string) => (data += d));
      c.on('end', () => {
        clearTimeout(t);
        c.destroy();
        resolve(data);
      });
      c.on('error', reject);
    });
    expect(answer).to.equal('OK\n');
    const st = status(sock);
    expect(st.journal).to.deep.include({ enabled: true, valid: true });
    // The journal still replays: the closed connection becomes a placeholder for the new version.
    expect(update(sock).status).to.equal(0);
    await until(sock, (s) => s.catchUp?.done === true, 'catch-up');
    const c = await LineConn.open(kv.port);
    expect(await c.request('GET half')).to.equal('VALUE 1');
    c.close();
    expect(status(sock).retirements).to.deep.equal([]);
  });

  it('promotes a new version started together with the old one (mvrc run -- OLD ::: NEW), then commits', async () => {
    const sock = join(dir, `c${++n}.sock`);
    const kv = await startKv(process.execPath, [CLI, 'run', '--control', sock, '--state-dir', dir, '--rules', FORWARD, '--back', BACKWARD,
      '--follower-log', join(dir, 'together.log'), '--', V1, '--port', '0', ':::', V2, '--port', '0'], { cwd: REPO });
    running.push(kv);
    expect(status(sock)).to.deep.include({ stage: 'outdated leader', leads: 'old' });
    const load = loadInRounds({ port: kv.port, clients: 8, requests: 150 }, 't', 21);
    await load.answered(); // the promotion happens under load
    expect(ctl(sock, ['promote']).status).to.equal(0);
    await load.nextRound(); // a whole round served by the promoted version
    expect(ctl(sock, ['commit']).status).to.equal(0);
    for (const r of await load.stop()) clean(r, 8 * 150);
    const st = status(sock);
    expect(st).to.deep.include({ stage: 'single leader' });
    expect(st.leader.version).to.equal(2);
    const c = await LineConn.open(kv.port);
    expect(await c.request('PUT-date d 2024-02-29')).to.equal('OK');
    expect(await c.request('TYPE d')).to.equal('TYPE date');
    c.close();
    expect(await kv.stop(), kv.stderr()).to.equal(0);
  });

  it('rollback from the outdated-leader stage: v1 keeps serving with all its keys', async () => {
    const { kv, sock } = await single();
    await loadKeys(kv.port, 1000);
    expect(update(sock).status).to.equal(0);
    const load = runLoad({ port: kv.port, clients: 8, requests: 100, seed: 5 });
    await until(sock, (s) => s.catchUp?.done === true, 'catch-up');
    const v1pid = status(sock).leader.pid;
    const rb = ctl(sock, ['rollback']);
    expect(rb.status, rb.stderr).to.equal(0);
    clean(await load, 8 * 100);
    const st = status(sock);
    expect(st).to.deep.include({ stage: 'single leader' });
    expect(st.leader).to.deep.include({ pid: v1pid, version: 1 });
    expect(events(st)).to.include('rollback');
    expect((await checkKeys(kv.port, 1000)).mismatches).to.deep.equal([]);
    // v1 answers typed requests as v1 does.
    const c = await LineConn.open(kv.port);
    expect(await c.request('TYPE key:1')).to.equal('ERROR unknown command');
    c.close();
  });

  it('status --json keeps non-ASCII text intact (a new version whose path has UTF-8 in it)', async () => {
    // The monitor's JSON once turned every byte >= 0x7f into \u00XX, so "é" (C3 A9) came out as "Ã©".
    const v2 = join(dir, 'kv-v2-é-版本');
    symlinkSync(V2, v2);
    const { sock } = await single();
    const up = ctl(sock, ['update', '--rules', FORWARD, '--state', 'replay', '--', v2, '--port', '0']);
    expect(up.status, up.stderr).to.equal(0);
    const r = ctl(sock, ['status', '--json']);
    expect(r.status, r.stderr).to.equal(0);
    const st = JSON.parse(r.stdout) as MonitorStatus;
    const reason = (st.timeline ?? []).find((t) => t.event === 'update')?.reason ?? '';
    expect(reason).to.include(`${v2})`);
    expect(ctl(sock, ['rollback']).status).to.equal(0);
  });

  it('rollback from the updated-leader stage: v1 (following with the backward rules) takes over again', async () => {
    const { kv, sock } = await single();
    await loadKeys(kv.port, 1000);
    const v1pid = status(sock).leader.pid;
    expect(update(sock).status).to.equal(0);
    await until(sock, (s) => s.catchUp?.done === true, 'catch-up');
    const load = loadInRounds({ port: kv.port, clients: 8, requests: 150 }, 'u', 6);
    await load.answered(); // the promotion and the rollback happen under load
    expect(ctl(sock, ['promote']).status).to.equal(0);
    expect(status(sock)).to.deep.include({ stage: 'updated leader' });
    await load.nextRound(); // a whole round served by the promoted version, whose writes v1 must follow
    const rb = ctl(sock, ['rollback']);
    expect(rb.status, rb.stderr).to.equal(0);
    await load.nextRound(); // and one served by v1 again
    for (const r of await load.stop()) clean(r, 8 * 150);
    const st = status(sock);
    expect(st).to.deep.include({ stage: 'single leader', follower: null });
    expect(st.leader).to.deep.include({ pid: v1pid, version: 1 });
    expect((await checkKeys(kv.port, 1000)).mismatches).to.deep.equal([]);
  });

  // Faults injected into the new version with a preload library (test/fixtures/kv-fault.c): after
  // 300 reads it crashes (a NULL store) or spins without syscalls. (kv-v2's own
  // MVR_KV_FAULT=crash-on-cmd uses raise(), whose gettid/tgkill calls the leader never makes: under
  // MVE that is retired as a divergence before the signal, which is rolled back the same way.)
  for (const fault of ['crash', 'hang'] as const) {
    it(`a new version that ${fault === 'crash' ? 'crashes' : 'hangs'} is rolled back automatically, with the reason in the timeline`, async () => {
      const { kv, sock } = await single(['--deadline-ms', '500']);
      await loadKeys(kv.port, 500);
      const up = update(sock, ['--env', `LD_PRELOAD=${faultSo}`, '--env', `MVR_TEST_FAULT=${fault}`, '--env', 'MVR_TEST_FAULT_AFTER=300']);
      expect(up.status, up.stderr).to.equal(0);
      clean(await runLoad({ port: kv.port, clients: 8, requests: 80, seed: 8 }), 8 * 80);
      const st = await until(sock, (s) => s.stage === 'single leader', 'the automatic rollback');
      expect(st.leader.version).to.equal(1);
      expect(st.retirements.map((r) => r.reason)).to.deep.equal([fault]);
      const rb = (st.timeline ?? []).find((t) => t.event === 'rollback');
      expect(rb?.reason).to.match(new RegExp(`automatic: the new version .* was retired \\(${fault}\\)`));
      expect((await checkKeys(kv.port, 500)).mismatches).to.deep.equal([]);
      clean(await runLoad({ port: kv.port, clients: 4, requests: 40, seed: 18, keyPrefix: 'after' }), 4 * 40);
    });
  }

  it('an old-version crash during MVE promotes the new version, which serves every key', async () => {
    const { kv, sock } = await single();
    await loadKeys(kv.port, 1000);
    expect(update(sock).status).to.equal(0);
    await until(sock, (s) => s.catchUp?.done === true, 'catch-up');
    const v1pid = status(sock).leader.pid;
    process.kill(v1pid, 'SIGSEGV');
    const st = await until(sock, (s) => s.stage === 'single leader' && s.leader.version === 2, 'the failover');
    expect(events(st)).to.include.members(['crash', 'failover']);
    clean(await runLoad({ port: kv.port, clients: 8, requests: 80, seed: 9, typed: true }), 8 * 80);
    expect((await checkKeys(kv.port, 1000)).mismatches).to.deep.equal([]);
    expect(await kv.stop(), kv.stderr()).to.equal(0);
  });

  it('a crash of the promoted new version before commit returns to the old version (following with the backward rules)', async () => {
    const { kv, sock } = await single();
    await loadKeys(kv.port, 1000);
    const v1pid = status(sock).leader.pid;
    expect(update(sock).status).to.equal(0);
    await until(sock, (s) => s.catchUp?.done === true, 'catch-up');
    expect(ctl(sock, ['promote']).status).to.equal(0);
    const load = loadInRounds({ port: kv.port, clients: 8, requests: 100 }, 'p', 13);
    await load.answered(); // the crash happens under load
    process.kill(status(sock).leader.pid, 'SIGSEGV');
    const st = await until(sock, (s) => s.stage === 'single leader', 'the failover');
    await load.nextRound(); // a whole round served by v1 after the failover
    for (const r of await load.stop()) clean(r, 8 * 100);
    expect(st.leader).to.deep.include({ pid: v1pid, version: 1 });
    expect(events(st)).to.include.members(['promote', 'crash', 'failover']);
    expect((await checkKeys(kv.port, 1000)).mismatches).to.deep.equal([]);
    expect(await kv.stop(), kv.stderr()).to.equal(0);
  });

  it('retries an update that failed by divergence, each attempt in the timeline', async () => {
    const { kv, sock } = await single();
    // Port 1 instead of the leader's: the new version's bind() differs from the journal's.
    const up = ctl(sock, ['update', '--retries', '2', '--', V2, '--port', '1']);
    expect(up.status, up.stderr).to.equal(0);
    const st = await until(sock, (s) => s.stage === 'single leader' && (s.update?.attempt ?? 0) === 3 && !(s.timeline ?? []).slice(-1)[0]?.event.startsWith('update'), 'three attempts');
    expect(events(st).filter((e) => e === 'update')).to.have.length(3);
    expect(events(st).filter((e) => e === 'retry')).to.have.length(2);
    expect(st.retirements.map((r) => r.reason)).to.deep.equal(['divergence', 'divergence', 'divergence']);
    clean(await runLoad({ port: kv.port, clients: 4, requests: 40, seed: 10 }), 4 * 40);
  });

  it('keeps following when the journal bound is passed during MVE (the ring is then released as consumed)', async () => {
    // A 256 KiB ring: the journal fills it, then it wraps around many times (small pipelined
    // batches keep each read under the 4 KiB per-buffer cap of a 64 KiB --ring-size).
    const { kv, sock } = await single(['--journal-size', '262144', '--ring-size', '65536']);
    await loadKeys(kv.port, 1000, { window: 16 });
    expect(update(sock).status).to.equal(0);
    await until(sock, (s) => s.catchUp?.done === true, 'catch-up');
    clean(await runLoad({ port: kv.port, clients: 16, requests: 300, seed: 14 }), 16 * 300);
    const st = await until(sock, (s) => s.events.consumed === s.events.recorded, 'the follower to consume everything');
    expect(st.journal?.valid).to.equal(false); // passed while following
    expect(st.ring.size).to.be.below(st.events.recorded * 64); // so the ring really wrapped around
    expect(st.retirements).to.deep.equal([]);
    expect(ctl(sock, ['promote']).status).to.equal(0);
    expect(ctl(sock, ['commit']).status).to.equal(0);
    expect((await checkKeys(kv.port, 1000, { window: 16 })).mismatches).to.deep.equal([]);
  });

  it('refuses a replay once the journal bound was exceeded; the old version keeps serving', async () => {
    const { kv, sock } = await single(['--journal-size', '65536']);
    await loadKeys(kv.port, 3000);
    const up = update(sock);
    expect(up.status).to.equal(1);
    expect(up.stderr).to.match(/journal bound \(65536 bytes.*exceeded at leader event #\d+/);
    const st = status(sock);
    expect(st).to.deep.include({ stage: 'single leader', follower: null });
    expect(st.journal?.valid).to.equal(false);
    expect((await checkKeys(kv.port, 3000)).mismatches).to.deep.equal([]);
  });

  it('answers bad control input with clear errors and changes nothing', async () => {
    const { kv, sock } = await single();
    const before = status(sock);
    for (const [cmd, msg] of [['promote', /promote needs the outdated leader stage \(now: single leader\)/], ['commit', /commit needs the updated leader stage/], ['rollback', /nothing to roll back/]] as const) {
      const r = ctl(sock, [cmd]);
      expect(r.status, cmd).to.equal(1);
      expect(r.stderr).to.match(msg);
    }
    const bad = JSON.parse(await raw(sock, 'frobnicate now')) as { ok: boolean; error: string };
    expect(bad.ok).to.equal(false);
    expect(bad.error).to.match(/unknown command 'frobnicate'/);
    const noCmd = JSON.parse(await raw(sock, 'update state=replay')) as { ok: boolean; error: string };
    expect(noCmd.error).to.match(/needs the new version's command/);
    expect(ctl(sock, ['frobnicate']).status).to.equal(2); // a usage error, caught before the monitor
    expect(ctl(sock, ['update', '--', ]).stderr).to.match(/needs the new version's command/);
    expect(ctl(sock, ['update', '--retries', 'x', '--', V2]).status).to.equal(2);
    expect(ctl(sock, ['promote', 'now']).status).to.equal(2);
    expect(ctl(sock, ['update', '--state', 'start', '--', V2]).stderr).to.match(/--state start cannot update a running leader/);
    const r = ctl(sock, ['commit', '--json']);
    expect(r.status).to.equal(1);
    expect(JSON.parse(r.stdout)).to.deep.include({ ok: false, stage: 'single leader' });
    const after = status(sock);
    expect(after).to.deep.include({ stage: 'single leader', follower: null });
    expect(after.leader).to.deep.equal(before.leader);
    expect(after.timeline).to.deep.equal(before.timeline);
    clean(await runLoad({ port: kv.port, clients: 2, requests: 20, seed: 12 }), 40);
  });
});
