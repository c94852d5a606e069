// Live update by state handoff under multi-version execution (docs/handoff.md, "Under
// multi-version execution"): kv-v1 runs as a single leader under `mvrc run --control`;
// `mvrc ctl update --state handoff` makes it fork at its next update point; the child serialises
// the store and execs kv-v2, which loads it (the transformation gives old values the type string)
// and then follows kv-v1 from the fork point, connections included. Concurrent clients check every
// answer against a model of the store; bulk-loaded keys are read back afterwards. The
// error-injection cases of the issue that need a handoff: a transformation that crashes, one that
// drops a field (seen as a divergence), a program without update points.
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, eventually, REPO } from './helpers/cli.ts';
import { clean, ctl, ctlAsync, events, KV, prepareKv, status, until } from './helpers/ctl.ts';
import { serverHasRead } from './helpers/kv.ts';
import { bulkValue, checkKeys, LineConn, loadKeys, runLoad, startKv, type KvServer, type LoadResult } from '../examples/kv/client.ts';

const { v1: V1, v2: V2, forward: FORWARD, backward: BACKWARD } = KV;

describe('live update by state handoff under MVE: kv-v1 -> kv-v2', function () {
  this.timeout(120_000);
  let dir: string;
  let faultSo: string;
  let n = 0;
  const running: KvServer[] = [];

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    ({ dir, faultSo } = prepareKv('mvrc-handoff-'));
  });
  afterEach(async () => {
    for (const kv of running.splice(0)) await kv.stop();
  });

  async function single(extra: string[] = [], cmd: string[] = [V1]): Promise<{ kv: KvServer; sock: string }> {
    const sock = join(dir, `h${++n}.sock`);
    const kv = await startKv(process.execPath, [CLI, 'run', '--control', sock, '--state-dir', dir, ...extra, '--', ...cmd, '--port', '0'], {
      cwd: REPO,
    });
    running.push(kv);
    return { kv, sock };
  }

  function handoff(sock: string, extra: string[] = [], newCmd: string[] = [V2]): { status: number | null; stdout: string; stderr: string } {
    return ctl(sock, ['update', '--state', 'handoff', '--rules', FORWARD, '--back', BACKWARD, ...extra, '--', ...newCmd]);
  }

  /** Rounds of concurrent checked clients until stop() resolves them. */
  function background(port: number, clients: number, requests: number, prefix: string): { stop: () => Promise<LoadResult[]> } {
    let stopped = false;
    const rounds = (async () => {
      const out: LoadResult[] = [];
      for (let seed = 1; !stopped; seed++) out.push(await runLoad({ port, clients, requests, seed, keyPrefix: `${prefix}${seed}-` }));
      return out;
    })();
    return {
      stop: async () => {
        stopped = true;
        return rounds;
      },
    };
  }

  it('update -> promote -> commit under load: 10k keys handed over, connections open at the fork point keep working', async () => {
    const { kv, sock } = await single();
    await loadKeys(kv.port, 10_000);
    // Open across the fork point: one idle connection, one with half a request buffered.
    const idle = await LineConn.open(kv.port);
    const partial = await LineConn.open(kv.port);
    expect(await idle.request('PUT idle 1')).to.equal('OK');
    await partial.send('PUT split ');
    await serverHasRead(idle); // kv holds the half request in its buffer from now on, so at the fork point
    const load = background(kv.port, 8, 60, 'h');
    const up = handoff(sock);
    expect(up.status, up.stderr).to.equal(0);
    expect(up.stdout).to.match(/loaded 10\d\d\d entries .* it follows version 1 from the fork point/);
    expect(up.stdout).to.match(/stage: outdated leader/);
    const st = status(sock);
    expect(st).to.deep.include({ stage: 'outdated leader', leads: 'old' });
    expect(st.follower).to.deep.include({ version: 2, state: 'following' });
    expect(st.update).to.deep.include({ state: 'handoff' });
    // Both connections are followed by the new version too: their next requests are compared.
    expect(await partial.request('value')).to.equal('OK');
    expect(await idle.request('GET split')).to.equal('VALUE value');
    await until(sock, (s) => s.events.consumed > 0 && s.events.consumed === s.events.recorded, 'the follower to catch up');
    const pro = ctl(sock, ['promote']);
    expect(pro.status, pro.stderr).to.equal(0);
    expect(await idle.request('PUT idle 2')).to.equal('OK'); // v2 answers; v1 follows it
    const com = ctl(sock, ['commit']);
    expect(com.status, com.stderr).to.equal(0);
    expect(await idle.request('PUT-number idle 3')).to.equal('OK');
    expect(await partial.request('TYPE idle')).to.equal('TYPE number');
    const rounds = await load.stop();
    for (const r of rounds) clean(r, 8 * 60);
    idle.close();
    partial.close();
    const fin = status(sock);
    expect(fin).to.deep.include({ stage: 'single leader' });
    expect(fin.leader.version).to.equal(2);
    expect(fin.retirements).to.deep.equal([]);
    expect(events(fin)).to.include.members(['update', 'handoff', 'loaded', 'promote', 'commit']);
    expect((await checkKeys(kv.port, 10_000)).mismatches).to.deep.equal([]);
    const c = await LineConn.open(kv.port);
    expect(await c.request('TYPE key:9999')).to.equal('TYPE string'); // the transformation's default
    c.close();
    expect(await kv.stop(), kv.stderr()).to.equal(0);
  });

  it('mvrc run --state handoff: no journal (the leader runs untrapped), and `ctl update` hands off by default; a replay is refused', async () => {
    const { kv, sock } = await single(['--state', 'handoff']);
    await loadKeys(kv.port, 2000);
    expect(status(sock).journal).to.deep.include({ enabled: false });
    const replay = ctl(sock, ['update', '--state', 'replay', '--', V2]);
    expect(replay.status).to.equal(1);
    expect(replay.stderr).to.match(/the journal is off/);
    const load = background(kv.port, 6, 50, 'nj');
    const up = ctl(sock, ['update', '--rules', FORWARD, '--back', BACKWARD, '--', V2]); // no --state
    expect(up.stdout).to.match(/loaded 2\d\d\d entries/);
    expect(up.status, up.stderr).to.equal(0);
    expect(ctl(sock, ['promote']).status).to.equal(0);
    expect(ctl(sock, ['commit']).status).to.equal(0);
    for (const r of await load.stop()) clean(r, 6 * 50);
    expect(status(sock).leader.version).to.equal(2);
    expect((await checkKeys(kv.port, 2000)).mismatches).to.deep.equal([]);
  });

  it('a transformation that crashes is rolled back automatically; a second attempt without the fault succeeds', async () => {
    const { kv, sock } = await single();
    await loadKeys(kv.port, 3000);
    const load = background(kv.port, 8, 50, 'tc');
    const up = handoff(sock, [], [V2, '--fault', 'transform-crash']);
    expect(up.status).to.equal(1);
    expect(up.stderr).to.match(/the new version was retired before it finished loading \(crash\).*version 1 keeps serving/);
    let st = status(sock);
    expect(st).to.deep.include({ stage: 'single leader' });
    expect(st.leader.version).to.equal(1);
    expect(st.retirements.map((r) => r.reason)).to.deep.equal(['crash']);
    expect(st.retirements[0]!.report).to.match(/killed by signal 11/);
    // The fork point started a fresh stream: the journal is over, a replay is refused, a handoff is not.
    const replay = ctl(sock, ['update', '--state', 'replay', '--', V2, '--port', '0']);
    expect(replay.status).to.equal(1);
    expect(replay.stderr).to.match(/the journal ended at an earlier handoff .*use --state handoff/);
    expect(ctl(sock, ['status']).stdout).to.match(/journal: +ended at a handoff/);
    const again = handoff(sock);
    expect(again.status, again.stderr).to.equal(0);
    expect(ctl(sock, ['promote']).status).to.equal(0);
    expect(ctl(sock, ['commit']).status).to.equal(0);
    for (const r of await load.stop()) clean(r, 8 * 50);
    st = status(sock);
    expect(st.leader.version).to.equal(3); // every program started is numbered: the failed attempt was 2
    expect((await checkKeys(kv.port, 3000)).mismatches).to.deep.equal([]);
    const c = await LineConn.open(kv.port);
    expect(await c.request('TYPE key:1')).to.equal('TYPE string');
    c.close();
  });

  it('a transformation that drops a field is caught as a divergence when the field is read; clients get the right value', async () => {
    const { kv, sock } = await single();
    await loadKeys(kv.port, 1000);
    const up = handoff(sock, [], [V2, '--fault', 'transform-drop-field=key:7']);
    expect(up.status, up.stderr).to.equal(0); // it loads: only comparing it with the old version finds the fault
    const load = background(kv.port, 6, 50, 'df');
    const c = await LineConn.open(kv.port);
    expect(await c.request('GET key:7')).to.equal(`VALUE ${bulkValue(7)}`); // the old version answers
    c.close();
    const st = await until(sock, (s) => s.stage === 'single leader', 'the automatic rollback');
    for (const r of await load.stop()) clean(r, 6 * 50);
    expect(st.leader.version).to.equal(1);
    expect(st.retirements.map((r) => r.reason)).to.deep.equal(['divergence']);
    expect(st.retirements[0]!.report).to.match(/write\(\d+, "VALUE /);
    expect((await checkKeys(kv.port, 1000)).mismatches).to.deep.equal([]);
  });

  it('a divergence that depends on what arrives while it follows succeeds on retry (--retries), from a later fork point', async () => {
    const { kv, sock } = await single(['--journal-size', '0']);
    await loadKeys(kv.port, 1000);
    const up = handoff(sock, ['--retries', '2', '--env', `LD_PRELOAD=${faultSo}`, '--env', 'MVR_TEST_FAULT=diverge-on', '--env', 'MVR_TEST_FAULT_TEXT=flaky']);
    expect(up.status, up.stderr).to.equal(0);
    const load = background(kv.port, 6, 50, 'rt');
    // The request the first attempt cannot handle: the old version answers it.
    const c = await LineConn.open(kv.port);
    expect(await c.request('GET flaky')).to.equal('NOTFOUND');
    c.close();
    const st = await until(sock, (s) => (s.update?.attempt ?? 0) === 2 && s.stage === 'outdated leader' && events(s).includes('loaded'), 'the second attempt');
    expect(st.retirements.map((r) => r.reason)).to.deep.equal(['divergence']);
    expect(events(st).filter((e) => e === 'retry')).to.have.length(1);
    expect(ctl(sock, ['promote']).status).to.equal(0);
    expect(ctl(sock, ['commit']).status).to.equal(0);
    for (const r of await load.stop()) clean(r, 6 * 50);
    const fin = status(sock);
    expect(fin.leader.version).to.equal(2); // a retry starts the same update's version again
    expect(fin.retirements).to.have.length(1);
    expect((await checkKeys(kv.port, 1000)).mismatches).to.deep.equal([]);
  });

  it('new code that crashes on one command is rolled back at the first such request; the old version answers it', async () => {
    const { kv, sock } = await single();
    await loadKeys(kv.port, 1000);
    const up = handoff(sock, [], [V2, '--fault', 'crash-on-cmd=GET']);
    expect(up.status, up.stderr).to.equal(0);
    clean(await runLoad({ port: kv.port, clients: 8, requests: 80, seed: 31 }), 8 * 80);
    const st = await until(sock, (s) => s.stage === 'single leader', 'the automatic rollback');
    expect(st.leader.version).to.equal(1);
    expect(st.retirements.map((r) => r.reason)).to.deep.equal(['crash']);
    expect(st.retirements[0]!.report).to.match(/killed by signal 11/);
    expect((await checkKeys(kv.port, 1000)).mismatches).to.deep.equal([]);
  });

  it('an old-version crash after a handoff promotes the new version, which serves every key', async () => {
    const { kv, sock } = await single();
    await loadKeys(kv.port, 1000);
    expect(handoff(sock).status).to.equal(0);
    process.kill(status(sock).leader.pid, 'SIGSEGV');
    const st = await until(sock, (s) => s.stage === 'single leader' && s.leader.version === 2, 'the failover');
    expect(events(st)).to.include.members(['handoff', 'loaded', 'crash', 'failover']);
    clean(await runLoad({ port: kv.port, clients: 8, requests: 80, seed: 32, typed: true }), 8 * 80);
    expect((await checkKeys(kv.port, 1000)).mismatches).to.deep.equal([]);
    expect(await kv.stop(), kv.stderr()).to.equal(0);
  });

  it('a ring that fills while the new version loads retires it at once: the leader never waits for it', async () => {
    // 64 KiB of ring and a transformation 1.5 s slower than it should be: the old version's events
    // under 8 clients fill the ring long before the new version starts consuming them.
    const { kv, sock } = await single(['--state', 'handoff', '--ring-size', '65536']);
    await loadKeys(kv.port, 2000);
    const load = background(kv.port, 8, 50, 'rf');
    const up = await ctlAsync(sock, ['update', '--rules', FORWARD, '--back', BACKWARD, '--', V2, '--fault', 'transform-slow=1500']);
    for (const r of await load.stop()) clean(r, 8 * 50);
    expect(up.status).to.equal(1);
    expect(up.stderr).to.match(/retired before it finished loading \(ring-full\)/);
    const st = status(sock);
    expect(st).to.deep.include({ stage: 'single leader' });
    expect(st.leader.version).to.equal(1);
    expect(st.retirements.map((r) => r.reason)).to.deep.equal(['ring-full']);
    expect(st.retirements[0]!.report).to.match(/filled while the new version was still loading the handed-off state .* larger --ring-size/);
    expect(st.ring.leaderWaitMs).to.equal(0);
    expect((await checkKeys(kv.port, 2000)).mismatches).to.deep.equal([]);
  });

  it('a new version that cannot load the state is retired with its own reason', async () => {
    const { kv, sock } = await single();
    await loadKeys(kv.port, 100);
    // A program that does not use the handoff library ends without loading anything.
    const up = handoff(sock, [], ['/bin/true']);
    expect(up.status).to.equal(1);
    expect(up.stderr).to.match(/retired before it finished loading \(load-failed\)/);
    const st = status(sock);
    expect(st).to.deep.include({ stage: 'single leader' });
    expect(st.retirements.map((r) => r.reason)).to.deep.equal(['load-failed']);
    expect((await checkKeys(kv.port, 100)).mismatches).to.deep.equal([]);
  });

  it('a second update after a commit, by handoff: v2 back to v1 (with the backward rules as its forward rules)', async () => {
    const { kv, sock } = await single();
    await loadKeys(kv.port, 1000);
    expect(handoff(sock).status).to.equal(0);
    expect(ctl(sock, ['promote']).status).to.equal(0);
    expect(ctl(sock, ['commit']).status).to.equal(0);
    const c = await LineConn.open(kv.port);
    expect(await c.request('PUT-number n 12')).to.equal('OK');
    const load = background(kv.port, 6, 50, 'back');
    const down = ctl(sock, ['update', '--state', 'handoff', '--rules', BACKWARD, '--back', FORWARD, '--', V1]);
    expect(down.status, down.stderr).to.equal(0);
    expect(down.stdout).to.match(/version 3 .* loaded/);
    expect(ctl(sock, ['promote']).status).to.equal(0);
    expect(ctl(sock, ['commit']).status).to.equal(0);
    for (const r of await load.stop()) clean(r, 6 * 50);
    const st = status(sock);
    expect(st.leader.version).to.equal(3);
    expect(st.retirements).to.deep.equal([]);
    // Version 3 is kv-v1: it answers the typed value's GET as v2 did, and knows no TYPE.
    expect(await c.request('GET n')).to.equal('VALUE 12');
    expect(await c.request('TYPE n')).to.equal('ERROR unknown command');
    c.close();
    expect((await checkKeys(kv.port, 1000)).mismatches).to.deep.equal([]);
  });

  it('the same handoff with the checking build of the runtime (monitor under ASan + UBSan, agent under UBSan)', async function () {
    const san = join(dir, 'runtime-san');
    execFileSync('make', ['-C', join(REPO, 'runtime-c'), '-s', '--no-print-directory', 'sanitize', `SAN_OUT=${san}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    const sock = join(dir, `h${++n}.sock`);
    const kv = await startKv(process.execPath, [CLI, 'run', '--control', sock, '--state-dir', dir, '--', V1, '--port', '0'], {
      cwd: REPO,
      env: { ...process.env, MVRC_RUNTIME_DIR: san },
    });
    running.push(kv);
    await loadKeys(kv.port, 2000);
    const load = background(kv.port, 6, 50, 'san');
    const up = handoff(sock, [], [V2, '--fault', 'transform-crash']);
    expect(up.status).to.equal(1); // a crash in the new version: the monitor's report path, checked too
    expect(handoff(sock).status).to.equal(0);
    expect(ctl(sock, ['promote']).status).to.equal(0);
    expect(ctl(sock, ['commit']).status).to.equal(0);
    for (const r of await load.stop()) clean(r, 6 * 50);
    expect((await checkKeys(kv.port, 2000)).mismatches).to.deep.equal([]);
    expect(await kv.stop(), kv.stderr()).to.equal(0);
    expect(kv.stderr()).to.not.match(/AddressSanitizer|runtime error/);
  });

  it('a program without update points: the request is withdrawn after the deadline, the leader keeps running', async () => {
    const sock = join(dir, `h${++n}.sock`);
    // `sleep` does not use the handoff library: it never reads the request.
    const proc = spawn(process.execPath, [CLI, 'run', '--control', sock, '--deadline-ms', '400', '--', 'sleep', '60'], { cwd: REPO, stdio: 'ignore' });
    try {
      await eventually(() => existsSync(sock), `the control socket ${sock}`);
      const up = ctl(sock, ['update', '--state', 'handoff', '--', V2]);
      expect(up.status).to.equal(1);
      expect(up.stderr).to.match(/did not reach an update point within 400 ms .*mvr_dsu_update_point/);
      const st = status(sock);
      expect(st).to.deep.include({ stage: 'single leader', follower: null });
      expect(st.leader.state).to.equal('running');
      const again = ctl(sock, ['update', '--state', 'handoff', '--', V2]);
      expect(again.status).to.equal(1);
      expect(again.stderr).to.match(/has no handoff channel/);
    } finally {
      proc.kill('SIGTERM');
    }
  });
});
