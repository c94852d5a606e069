// The journal on disk (docs/lifecycle.md, "The journal"): an updatable single leader's journal is
// a file in the state directory, not memory; it lasts past the old in-memory bound (64 MiB), and
// when its filesystem has no room left (--journal-min-free) it ends: a replay is refused naming
// the flag, and the leader and its clients see nothing of it.
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseRunArgs } from '../compiler/cli/run.ts';
import { CLI, REPO } from './helpers/cli.ts';
import { clean, ctl, KV, prepareKv, status, until } from './helpers/ctl.ts';
import { checkKeys, LineConn, loadKeys, runLoad, startKv, type KvServer } from '../examples/kv/client.ts';

const { v1: V1, v2: V2, forward: FORWARD, backward: BACKWARD } = KV;
const MiB = 1 << 20;

/** Memory a process holds that the kernel cannot reclaim by writing it back: anonymous pages and
 * shared memory (a memfd's pages are the latter), in bytes. */
function heldMemory(pid: number): number {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(st)?.[1] ?? NaN);
  return (kb('RssAnon') + kb('RssShmem')) * 1024;
}

/** The monitor: the child of `mvrc run` named mvr-monitor. */
function monitorPid(kv: KvServer): number {
  const pid = kv.proc.pid!;
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  const m = kids.find((k) => readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'mvr-monitor');
  if (!m) throw new Error('no mvr-monitor child');
  return m;
}

/** `rounds` PUTs of `size`-byte values onto `keys` keys (overwritten: the store stays small while
 * the journal grows by every byte); the value of round i is `${i}-xxx...`. */
async function putBig(port: number, rounds: number, keys: number, size: number): Promise<void> {
  const conn = await LineConn.open(port);
  try {
    const pad = 'x'.repeat(size);
    for (let i = 0; i < rounds; i++) {
      const a = await conn.request(`PUT big:${i % keys} ${i}-${pad}`);
      if (a !== 'OK') throw new Error(`PUT big:${i % keys}: ${a}`);
    }
  } finally {
    conn.close();
  }
}

/** Every big:k holds the value of the last round that wrote it. */
async function checkBig(port: number, rounds: number, keys: number, size: number): Promise<void> {
  const conn = await LineConn.open(port);
  try {
    const pad = 'x'.repeat(size);
    for (let k = 0; k < keys; k++) {
      let last = rounds - 1;
      while (last % keys !== k) last--;
      expect(await conn.request(`GET big:${k}`)).to.equal(`VALUE ${last}-${pad}`);
    }
  } finally {
    conn.close();
  }
}

describe('mvrc run: the journal flags', () => {
  it('--journal-min-free takes a number of bytes, passed on; anything else is a usage error', () => {
    expect(parseRunArgs(['--control', 's', '--journal-min-free', '1048576', '--', 'a']).journalMinFree).to.equal(1048576);
    expect(() => parseRunArgs(['--control', 's', '--journal-min-free', '1G', '--', 'a'])).to.throw(/--journal-min-free expects a number of bytes, got '1G'/);
  });
  it('--journal-size is at most a ring (4 GiB - 4 KiB): a PAD record\'s size is 32 bits', () => {
    expect(parseRunArgs(['--control', 's', '--journal-size', String(0xfffff000), '--', 'a']).journalSize).to.equal(0xfffff000);
    expect(() => parseRunArgs(['--control', 's', '--journal-size', String(2 ** 32), '--', 'a'])).to.throw(/--journal-size is at most 4294963200 bytes/);
  });
});

describe('the journal on disk', function () {
  this.timeout(180_000);
  let dir: string;
  let n = 0;
  const running: KvServer[] = [];

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    ({ dir } = prepareKv('mvrc-journal-'));
  });
  afterEach(async () => {
    for (const kv of running.splice(0)) await kv.stop();
  });

  async function single(extra: string[] = []): Promise<{ kv: KvServer; sock: string; state: string }> {
    const sock = join(dir, `j${++n}.sock`);
    const state = join(dir, `state${n}`);
    const kv = await startKv(process.execPath, [CLI, 'run', '--control', sock, '--state-dir', state, ...extra, '--', V1, '--port', '0'], { cwd: REPO });
    running.push(kv);
    return { kv, sock, state };
  }

  function update(sock: string): { status: number | null; stdout: string; stderr: string } {
    return ctl(sock, ['update', '--rules', FORWARD, '--back', BACKWARD, '--state', 'replay', '--', V2, '--port', '0']);
  }

  it('is a file in the private state directory that grows on disk while no process holds it in memory; it goes with the monitor', async () => {
    const { kv, sock, state } = await single();
    expect(statSync(state).mode & 0o777).to.equal(0o700);
    await loadKeys(kv.port, 1000);
    const st0 = status(sock);
    const file = st0.journal?.file;
    expect(file, 'the status names the file').to.be.a('string');
    expect(file!.startsWith(state + '/')).to.equal(true);
    expect(existsSync(file!)).to.equal(true);
    const leader = st0.leader.pid;
    const monitor = monitorPid(kv);
    const before = { leader: heldMemory(leader), monitor: heldMemory(monitor), disk: st0.journal!.disk! };
    // 128 MiB of requests onto 4 keys: the journal holds all of them, the store 1 MiB.
    await putBig(kv.port, 512, 4, 256 * 1024);
    const st1 = status(sock);
    expect(st1.journal?.valid).to.equal(true);
    expect(st1.journal!.used).to.be.above(128 * MiB);
    expect(st1.journal!.disk! - before.disk, 'the file grew on disk').to.be.above(64 * MiB);
    // In memory (anonymous or shared: a memfd's pages are the latter) neither grew with it.
    expect(heldMemory(leader) - before.leader, 'the leader').to.be.below(24 * MiB);
    expect(heldMemory(monitor) - before.monitor, 'the monitor').to.be.below(24 * MiB);
    await checkBig(kv.port, 512, 4, 256 * 1024);
    await kv.stop();
    running.splice(0);
    expect(existsSync(file!), 'removed when the monitor ends').to.equal(false);
  });

  it('an update by replay completes after more than the old in-memory bound (64 MiB) of journal', async () => {
    const { kv, sock } = await single();
    await loadKeys(kv.port, 2000);
    await putBig(kv.port, 384, 8, 256 * 1024); // 96 MiB
    expect(status(sock).journal!.used).to.be.above(96 * MiB);
    const up = update(sock);
    expect(up.status, up.stderr).to.equal(0);
    await until(sock, (s) => s.catchUp?.done === true, 'catch-up', 120_000);
    clean(await runLoad({ port: kv.port, clients: 4, requests: 50, seed: 3 }), 4 * 50);
    expect(ctl(sock, ['promote']).status).to.equal(0);
    expect(ctl(sock, ['commit']).status).to.equal(0);
    const st = status(sock);
    expect(st).to.deep.include({ stage: 'single leader' });
    expect(st.leader.version).to.equal(2);
    expect(st.retirements).to.deep.equal([]);
    expect((await checkKeys(kv.port, 2000)).mismatches).to.deep.equal([]);
    await checkBig(kv.port, 384, 8, 256 * 1024);
  });

  it('after a promotion the rings are ordinary rings of --ring-size: the old version follows 79 MiB of 900 KiB requests', async () => {
    // The journal ends at the switch; ring 0 had taken only its first 1 MiB on disk, less than one
    // of these requests' records: it must get its floor (64 MiB), or the old version is retired;
    // and the ring wraps around past it (a PAD record to the end of its 4 GiB data area).
    const { kv, sock } = await single();
    await loadKeys(kv.port, 100);
    expect(update(sock).status).to.equal(0);
    await until(sock, (s) => s.catchUp?.done === true, 'catch-up');
    expect(ctl(sock, ['promote']).status).to.equal(0);
    await putBig(kv.port, 90, 3, 900 * 1024);
    const st = await until(sock, (s) => s.events.consumed === s.events.recorded, 'the old version to follow everything');
    expect(st.retirements).to.deep.equal([]);
    expect(st.follower).to.deep.include({ version: 1, state: 'following' });
    expect(ctl(sock, ['commit']).status).to.equal(0);
    await checkBig(kv.port, 90, 3, 900 * 1024);
    expect((await checkKeys(kv.port, 100)).mismatches).to.deep.equal([]);
  });

  it('a filesystem without room ends the journal: a replay is refused naming --journal-min-free, and the leader serves on', async () => {
    // A full disk, simulated: the journal may leave no less free than there is now, minus 8 MiB.
    // (Whatever else writes to this filesystem meanwhile only moves the end earlier.)
    const fs = statfsSync(dir);
    const minFree = fs.bavail * fs.bsize - 8 * MiB;
    const { kv, sock } = await single(['--ring-size', '65536', '--journal-min-free', String(minFree)]);
    await loadKeys(kv.port, 1000);
    const load = runLoad({ port: kv.port, clients: 4, requests: 200, seed: 5 });
    await putBig(kv.port, 96, 4, 256 * 1024); // 24 MiB: three times the room
    clean(await load, 4 * 200);
    const st = status(sock);
    expect(st.journal).to.deep.include({ valid: false, endedBySpace: true });
    const up = update(sock);
    expect(up.status).to.equal(1);
    expect(up.stderr).to.match(/cannot replay: the journal ended at leader event #\d+, when its file in the state directory \(--state-dir\) could not grow .*\(--journal-min-free\).*nothing changed/);
    expect(status(sock)).to.deep.include({ stage: 'single leader', follower: null });
    // Nothing changed for the leader or its clients.
    clean(await runLoad({ port: kv.port, clients: 4, requests: 200, seed: 6, keyPrefix: 'after' }), 4 * 200);
    expect((await checkKeys(kv.port, 1000)).mismatches).to.deep.equal([]);
    await checkBig(kv.port, 96, 4, 256 * 1024);
    expect(ctl(sock, ['status']).stdout).to.match(/journal: +ended at event #\d+: no room left in the state directory/);
  });

  it('--journal-size 0: no journal file', async () => {
    const { kv, sock, state } = await single(['--journal-size', '0']);
    await loadKeys(kv.port, 100);
    expect(status(sock).journal).to.deep.include({ enabled: false });
    expect(readdirSync(state).filter((f) => f.startsWith('journal-'))).to.deep.equal([]);
  });
});
