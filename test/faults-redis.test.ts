// Faults on a real server during an update (MVEDSUA §6.2), with Debian's redis deb12u7 -> deb12u10
// under 8 checked clients and 3,000 loaded keys. A fault injector (examples/redis/fault-inject.c,
// built here) is preloaded into one version only; it wraps read() and crashes (a null write,
// SIGSEGV) or spins forever when the data read holds HMGET, as Redis 7fb16bac crashed on HMGET.
// A divergence from timing (MVR_FAULT=diverge on the first try only) is got past with --retries.
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
    retries?: number;
    fault: (s: Session, caught: Status) => Promise<void>;
    settled: (st: Status) => boolean;
    /** After the outcome, under the same load: e.g. promote and commit. */
    then?: (s: Session) => Promise<void>;
  }): Promise<{ fin: Status; text: string }> {
    const extra = o.extra ?? [];
    const s = await Session.start(redis, (p) => [oldBin, ...redisArgs(p), ...extra], o.runArgs ?? []);
    try {
      await redis.loadKeys(s.port, KEYS);
      const stopLoad = s.load();
      const env = (o.env ?? []).flatMap((e) => ['--env', e]);
      const retries = o.retries === undefined ? [] : ['--retries', String(o.retries)];
      const up = s.ctl(['update', '--rules', REDIS_RULES, '--back', REDIS_RULES, '--state', 'replay', ...retries, ...env, '--', newBin, ...redisArgs(s.port), ...extra]);
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
      }, 60_000).catch((e: Error) => {
        throw new Error(`${e.message}; the status:\n${s.ctl(['status']).out}`);
      });
      if (o.then) await o.then(s);
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

  // A divergence from timing (MVEDSUA §6.2): the new version makes a call the old one did not at
  // HMGET — as a timer firing at another event would — on its first try only (MVR_FAULT_ATTEMPTS=1
  // against the MVR_UPDATE_ATTEMPT the monitor gives each try).
  const divergeOnce = () => [`LD_PRELOAD=${inject}`, 'MVR_FAULT=diverge', 'MVR_FAULT_ATTEMPTS=1']; // inject is set in before()
  const update = (st: Status) => (st as Status & { update: { attempt: number; retries: number } }).update;

  it('the new version diverges once from timing: --retries 1 starts it again, it replays the journal (HMGET included), catches up, and the update completes', async () => {
    const { fin, text } = await scenario({
      env: divergeOnce(),
      retries: 1,
      fault: (s) => hmget(s.port),
      settled: (st) => update(st).attempt === 2 && st.catchUp?.done === true && st.follower?.state !== 'retired',
      then: async (s) => {
        await sleep(300); // the second try follows live under load
        const pro = s.ctl(['promote']);
        expect(pro.status, pro.out).to.equal(0);
        const com = s.ctl(['commit']);
        expect(com.status, com.out).to.equal(0);
      },
    });
    expect(fin.retirements.map((r) => r.reason)).to.deep.equal(['divergence']);
    expect(fin.retirements[0]!.report).to.contain('getpeername');
    expect(text).to.match(/leader: +pid \d+ .*version 2/); // promoted and committed
    expect(text).to.match(/retry: attempt 2 of 2 in 300 ms/);
    expect(text).to.match(/update: attempt 2: version 2/);
  });

  it('the same divergence with --retries 0: rolled back, no second try, the status says why', async () => {
    const { fin, text } = await scenario({
      env: divergeOnce(),
      retries: 0,
      fault: (s) => hmget(s.port),
      settled: retired('divergence'),
    });
    expect(fin.leader?.version).to.equal(1);
    expect(update(fin).attempt).to.equal(1);
    expect(fin.retirements.map((r) => r.reason)).to.deep.equal(['divergence']);
    expect(text).to.match(/rollback: automatic: the new version \(pid \d+\) was retired \(divergence\)/);
    expect(text).not.to.contain('retry:');
  });

  it('a new version that diverges on every try: rolled back after --retries 1 + 1 tries', async () => {
    const { fin, text } = await scenario({
      env: [`LD_PRELOAD=${inject}`, 'MVR_FAULT=diverge'],
      retries: 1,
      fault: (s) => hmget(s.port),
      settled: (st) => st.retirements.length === 2 && (!st.follower || st.follower.state === 'retired'),
    });
    const st = fin;
    expect(st.leader?.version).to.equal(1);
    expect(update(st).attempt).to.equal(2);
    expect(st.retirements.map((r) => r.reason)).to.deep.equal(['divergence', 'divergence']);
    expect(text).to.match(/retry: attempt 2 of 2 in 300 ms/);
    expect(text).not.to.match(/attempt 3/); // the status is read after 500 ms more of load: no third try came
  });
});
