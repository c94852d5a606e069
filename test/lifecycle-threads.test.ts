// Role switches of a multi-threaded program (docs/lifecycle.md, "Role switch"): the fixture
// test/fixtures/mvr-mtkv.c serves examples/kv's protocol from its main thread while two worker
// threads sleep on a condition variable and write a line for every 16th PUT. Each switch is a cut
// across all three threads; the checked clients of examples/kv run across it (ctl is called
// asynchronously, so the clients keep going while the switch happens) and no answer may be
// wrong or missing, and no key lost.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, REPO, tempDir } from './helpers/cli.ts';
import { clean, ctl, ctlAsync, events, status, until } from './helpers/ctl.ts';
import { loadInRounds } from './helpers/kv.ts';
import { checkKeys, LineConn, loadKeys, startKv, type KvServer } from '../examples/kv/client.ts';

describe('role switches of a multi-threaded program (mvr-mtkv: main thread + 2 workers)', function () {
  this.timeout(120_000);
  let dir: string;
  let bin: string;
  let same: string;
  let n = 0;
  const running: KvServer[] = [];

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    dir = tempDir('mvrc-mt-switch-');
    bin = join(dir, 'mtkv');
    execFileSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-O2', '-pthread', '-o', bin, join(REPO, 'test', 'fixtures', 'mvr-mtkv.c')]);
    same = join(dir, 'same.mvr'); // both versions are the same program: nothing differs, either way
    writeFileSync(same, '// the same program: no difference to allow\n');
  });
  afterEach(async () => {
    for (const kv of running.splice(0)) await kv.stop();
  });

  async function single(extra: string[] = []): Promise<{ kv: KvServer; sock: string }> {
    const sock = join(dir, `c${++n}.sock`);
    const kv = await startKv(process.execPath, [CLI, 'run', '--control', sock, '--state-dir', dir, ...extra, '--', bin, '--port', '0'], { cwd: REPO, timeoutMs: 60_000 });
    running.push(kv);
    return { kv, sock };
  }

  /** Loads keys, updates by replay (the same program, following with no rules) and waits for the catch-up. */
  async function updated(kv: KvServer, sock: string, keys: number): Promise<void> {
    await loadKeys(kv.port, keys);
    const up = ctl(sock, ['update', '--rules', same, '--back', same, '--state', 'replay', '--', bin, '--port', '0']);
    expect(up.status, up.stderr).to.equal(0);
    await until(sock, (s) => s.catchUp?.done === true, 'catch-up');
    expect(status(sock).threads, 'main thread + 2 workers').to.equal(3);
  }

  it('update -> promote -> commit under load: every answer right, every key kept', async () => {
    const { kv, sock } = await single();
    await updated(kv, sock, 2000);
    const load = loadInRounds({ port: kv.port, clients: 8, requests: 60 }, 'p', 1);
    await load.answered(200);
    const pro = await ctlAsync(sock, ['promote']);
    expect(pro.status, pro.stderr).to.equal(0);
    expect(pro.stdout).to.match(/^promote: version 2 \(pid \d+\) leads; version 1 \(pid \d+\) follows with the backward rules \(switched at event #\d+, leader paused \d+ ms\)$/m);
    await load.nextRound(); // a whole round served by the promoted version, which the old one follows
    expect(status(sock)).to.deep.include({ stage: 'updated leader' });
    expect(status(sock).follower?.version, 'the old version still follows, threads and all').to.equal(1);
    const com = await ctlAsync(sock, ['commit']);
    expect(com.status, com.stderr).to.equal(0);
    await load.nextRound();
    for (const r of await load.stop()) clean(r, 8 * 60);
    expect((await checkKeys(kv.port, 2000)).mismatches).to.deep.equal([]);
    const st = status(sock);
    expect(st).to.deep.include({ stage: 'single leader' });
    expect(st.leader.version).to.equal(2);
    expect(events(st)).to.include.members(['update', 'caught-up', 'promote', 'commit']);
  });

  it('rolls back after a promotion under load: the old version, which followed the new one, leads with every key', async () => {
    const { kv, sock } = await single();
    await updated(kv, sock, 2000);
    const load = loadInRounds({ port: kv.port, clients: 8, requests: 60 }, 'r', 1);
    await load.answered(200);
    const pro = await ctlAsync(sock, ['promote']);
    expect(pro.status, pro.stderr).to.equal(0);
    await load.nextRound(); // writes made under the new version, which the old one must have followed
    const back = await ctlAsync(sock, ['rollback']);
    expect(back.status, back.stderr).to.equal(0);
    expect(back.stdout).to.match(/rollback: version 1 \(pid \d+\) leads alone again with its state; version 2 retired/);
    await load.nextRound();
    for (const r of await load.stop()) clean(r, 8 * 60);
    expect((await checkKeys(kv.port, 2000)).mismatches).to.deep.equal([]);
    const st = status(sock);
    expect(st.leader.version).to.equal(1);
    expect(events(st)).to.include.members(['promote', 'rollback']);
  });

  it('fails over to the new version, threads and all, when the old one is killed (SIGKILL) under load', async () => {
    const { kv, sock } = await single();
    await updated(kv, sock, 2000);
    const load = loadInRounds({ port: kv.port, clients: 8, requests: 60 }, 'f', 1);
    await load.answered(200);
    process.kill(status(sock).leader.pid, 'SIGKILL');
    const st = await until(sock, (s) => s.stage === 'single leader' && s.leader.version === 2, 'the failover');
    expect(events(st)).to.include.members(['crash', 'failover']);
    await load.nextRound(); // served by the survivor alone
    for (const r of await load.stop()) clean(r, 8 * 60);
    expect((await checkKeys(kv.port, 2000)).mismatches).to.deep.equal([]);
  });

  it('refuses a promotion while a thread stays inside a recorded call, naming it; nothing changes, and it succeeds once the thread is out', async () => {
    const { kv, sock } = await single(['--deadline-ms', '2000']);
    await updated(kv, sock, 500);
    // No load while the promotion is asked for: the follower is then within reach at once, and
    // only the stuck thread can hold the cut.
    // Worker 1 (ring 2) spends 6 s inside vfork (its child sleeps): no signal takes it out.
    const c = await LineConn.open(kv.port);
    expect(await c.request('STALL 6000')).to.equal('OK');
    c.close();
    const pro = await ctlAsync(sock, ['promote']);
    expect(pro.status, pro.stdout).to.equal(1);
    expect(pro.stderr, pro.stderr).to.match(/promote aborted: the versions did not reach a consistent point within 2000 ms \(--deadline-ms\): (.*; )?the leader's thread of ring 2 \(tid \d+\) stayed inside vfork\(\); nothing changed, version 1 keeps serving/);
    const load = loadInRounds({ port: kv.port, clients: 4, requests: 60 }, 's', 1);
    await load.nextRound(); // served after the refusal by the old version, the new one still following
    const st = status(sock);
    expect(st).to.deep.include({ stage: 'outdated leader' });
    expect(st.leader.version).to.equal(1);
    expect(st.follower?.version).to.equal(2);
    // Once the worker is out of vfork, the same promotion goes through.
    let again = await ctlAsync(sock, ['promote']);
    for (let i = 0; i < 20 && again.status !== 0 && /stayed inside vfork/.test(again.stderr); i++) again = await ctlAsync(sock, ['promote']);
    expect(again.status, again.stderr).to.equal(0);
    await load.nextRound();
    for (const r of await load.stop()) clean(r, 4 * 60);
    expect((await checkKeys(kv.port, 500)).mismatches).to.deep.equal([]);
    expect(status(sock).leader.version).to.equal(2);
  });
});
