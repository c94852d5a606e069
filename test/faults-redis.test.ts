// Faults on a real server during an update (MVEDSUA §6.2), with Debian's redis deb12u7 -> deb12u10
// under 8 checked clients and 3,000 loaded keys. A fault injector (examples/redis/fault-inject.c,
// built here) is preloaded into one version only; it wraps read() and crashes (a null write,
// SIGSEGV) or spins forever when the data read holds HMGET, as Redis 7fb16bac crashed on HMGET.
// In every case no client sees a failed or wrong answer, the HMGET that set off the fault is
// answered, and every key is read back from the version left serving.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session, sleep, waitFor, type Status } from '../examples/lib/update.ts';
import { redis, RespConn } from '../examples/redis/client.ts';
import { fetchRedis, redisArgs, REDIS_RULES } from '../examples/redis/update.ts';
import { REPO } from './helpers/cli.ts';

const KEYS = 3000;

describe('faults on real servers: Redis deb12u7 -> deb12u10 with a fault injector in one version', function () {
  this.timeout(300_000);
  let dir = '';
  let inject = '';
  let oldBin = '';
  let newBin = '';

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    // The builds come from Debian's archive; on another distribution there is nothing to fetch.
    if (spawnSync('apt-get', ['--version']).status !== 0) this.skip();
    this.timeout(280_000);
    oldBin = fetchRedis('deb12u7');
    newBin = fetchRedis('deb12u10');
    dir = mkdtempSync(join(tmpdir(), 'mvrc-faults-'));
    inject = join(dir, 'fault-inject.so');
    const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-o', inject, join(REPO, 'examples', 'redis', 'fault-inject.c'), '-ldl'], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).to.equal(0);
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** HSET then HMGET on a connection of its own: the HMGET must be answered with both values. */
  async function hmget(port: number): Promise<void> {
    const c = await RespConn.open(port);
    try {
      expect(await c.request('HSET', 'fault:h', 'f1', 'v1', 'f2', 'v2')).to.equal(2);
      expect(await c.request('HMGET', 'fault:h', 'f1', 'f2')).to.deep.equal(['v1', 'v2']);
    } finally {
      c.close();
    }
  }

  /**
   * Redis `extra` (its own options, the same on both sides) leads with KEYS keys under checked load
   * (`runArgs`: mvrc run's options); the new build is started as its follower by replay (`env`:
   * its environment) and catches up; then `fault` runs and `settled` waits for its outcome. Checks
   * the clients and the keys; returns the final status and `ctl status`'s text.
   */
  async function scenario(o: {
    extra?: string[];
    runArgs?: string[];
    env?: string[];
    fault: (s: Session, caught: Status) => Promise<void>;
    settled: (st: Status) => boolean;
  }): Promise<{ fin: Status; text: string }> {
    const extra = o.extra ?? [];
    const s = await Session.start(redis, (p) => [oldBin, ...redisArgs(p), ...extra], o.runArgs ?? []);
    try {
      await redis.loadKeys(s.port, KEYS);
      const stopLoad = s.load();
      const env = (o.env ?? []).flatMap((e) => ['--env', e]);
      const up = s.ctl(['update', '--rules', REDIS_RULES, '--back', REDIS_RULES, '--state', 'replay', ...env, '--', newBin, ...redisArgs(s.port), ...extra]);
      expect(up.status, up.out).to.equal(0);
      const caught = await waitFor('the catch-up', () => {
        const st = s.status();
        return st.catchUp?.done || st.retirements.length ? st : undefined;
      });
      // The injector lies dormant until its command comes: the new build catches up and follows.
      expect(caught.retirements, JSON.stringify(caught.retirements)).to.deep.equal([]);
      expect(caught.catchUp?.done).to.equal(true);
      await sleep(300); // following live under load
      expect(s.status().retirements).to.deep.equal([]);
      await o.fault(s, caught);
      const fin = await waitFor('the fault to be handled', () => {
        const st = s.status();
        return o.settled(st) ? st : undefined;
      }, 60_000);
      await sleep(500); // the clients run on against the version left serving
      const load = await stopLoad();
      expect(load.answered).to.be.greaterThan(0);
      expect(load.errors, load.errors.join('\n')).to.deep.equal([]);
      expect(load.wrong, load.wrong.join('\n')).to.deep.equal([]);
      expect(await redis.checkKeys(s.port, KEYS)).to.deep.equal([]);
      const text = s.ctl(['status']).out;
      return { fin, text };
    } finally {
      await s.stop();
    }
  }

  const retired = (reason: string) => (st: Status) => st.retirements.some((r) => r.reason === reason) && (!st.follower || st.follower.state === 'retired');

  it('the new version crashes on HMGET (Redis prints its bug report): rolled back, clients see nothing, the status names the crash', async () => {
    const { fin, text } = await scenario({
      env: [`LD_PRELOAD=${inject}`, 'MVR_FAULT=crash'],
      fault: (s) => hmget(s.port),
      settled: retired('crash'),
    });
    expect(fin.stage).to.equal('single leader');
    expect(fin.leader?.version).to.equal(1);
    expect(fin.retirements.map((r) => r.reason)).to.deep.equal(['crash']);
    expect(text).to.match(/follower: +pid \d+ \(retired\) version 2/);
    expect(text).to.contain('the follower crashed: signal 11 (SIGSEGV) at address 0x0');
    expect(text).to.contain('REDIS BUG REPORT'); // the call its crash handler made
    expect(text).to.match(/rollback: automatic: the new version \(pid \d+\) was retired \(crash\)/);
  });

  it('the new version crashes on HMGET without a crash handler: rolled back, the status names the signal and its last call', async () => {
    const { fin, text } = await scenario({
      extra: ['--crash-log-enabled', 'no'],
      env: [`LD_PRELOAD=${inject}`, 'MVR_FAULT=crash'],
      fault: (s) => hmget(s.port),
      settled: retired('crash'),
    });
    expect(fin.leader?.version).to.equal(1);
    expect(text).to.contain('the follower was killed by signal 11');
    expect(text).to.match(/follower: read\(\d+, .*\(its last syscall/);
  });

  it('the old version crashes on HMGET during MVE (Redis prints its bug report): the new one takes over, answers it, and has every key', async () => {
    const { fin, text } = await scenario({
      // The old version's crash handler (its bug report, cancelling its threads) runs unrecorded:
      // its stream ends at the fault.
      runArgs: ['--leader-env', `LD_PRELOAD=${inject}`, '--leader-env', 'MVR_FAULT=crash'],
      fault: (s) => hmget(s.port),
      settled: (st) => st.leader?.version === 2 && !st.follower,
    });
    expect(fin.stage).to.equal('single leader');
    expect(text).to.match(/crash: the leader \(version 1, pid \d+\) was killed by signal 11/);
    expect(text).to.match(/failover: version 2 \(pid \d+\) took over/);
  });

  it('the old version is killed (SIGKILL) during MVE: the new one takes over with every key', async () => {
    const { fin, text } = await scenario({
      fault: async (_s, caught) => {
        process.kill(caught.leader!.pid, 'SIGKILL');
      },
      settled: (st) => st.leader?.version === 2 && !st.follower,
    });
    expect(fin.stage).to.equal('single leader');
    expect(text).to.match(/crash: the leader \(version 1, pid \d+\) was killed by signal 9/);
    expect(text).to.match(/failover: version 2 \(pid \d+\) took over/);
  });

  it('the new version hangs on HMGET: rolled back after the deadline, clients see nothing', async () => {
    const { fin, text } = await scenario({
      runArgs: ['--deadline-ms', '2000'],
      env: [`LD_PRELOAD=${inject}`, 'MVR_FAULT=hang'],
      fault: (s) => hmget(s.port),
      settled: retired('hang'),
    });
    expect(fin.leader?.version).to.equal(1);
    expect(fin.retirements.map((r) => r.reason)).to.deep.equal(['hang']);
    expect(text).to.match(/no progress for \d+ ms while the leader moved on/);
  });
});
