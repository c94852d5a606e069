// End-to-end: the example key-value server under `mvrc run`, kv-v1 leading and kv-v2 following
// (kv-v2 answers every v1 request identically through the same calls, so no rules are needed),
// driven by many concurrent clients whose answers are checked against a model of the store.
// Faults are injected into the follower with a preload library (test/fixtures/kv-fault.c):
// whatever the follower does, every client request is still answered correctly by the leader.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI as BUNDLE, tempDir } from './helpers/cli.ts';
import { LineConn, runLoad, startKv, type KvServer } from '../examples/kv/client.ts';
import type { MonitorStatus } from '../compiler/cli/ctl.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const KV_DIR = join(REPO, 'examples', 'kv');
const V1 = join(KV_DIR, 'kv-v1');
const V2 = join(KV_DIR, 'kv-v2');
const CLI = [BUNDLE]; // the bundled CLI, as users run it (`npm test` builds it before mocha)

function status(sock: string): MonitorStatus {
  const r = spawnSync(process.execPath, [...CLI, 'ctl', sock, 'status', '--json'], { cwd: REPO, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mvrc ctl failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as MonitorStatus;
}

/** Polls `f` until `ok` holds, and returns its last value; after `ms` it returns that value anyway,
 *  so that the assertions on it fail with the details. The limit is no speed requirement: keep it
 *  well above what the slowest machine needs; nothing depends on the polling interval. */
async function until<T>(f: () => T, ok: (x: T) => boolean, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const x = f();
    if (ok(x) || Date.now() - t0 > ms) return x;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('runtime: kv-v1 leading, kv-v2 following', function () {
  this.timeout(180_000);
  let dir: string;
  let faultSo: string;

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run 'npm run build' (npm test does it)`);
    execFileSync('make', ['-C', KV_DIR, '--no-print-directory', '-s'], { stdio: ['ignore', 'ignore', 'inherit'] });
    dir = tempDir('mvrc-runtime-kv-');
    faultSo = join(dir, 'kv-fault.so');
    execFileSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-shared', '-fPIC', '-o', faultSo, join(REPO, 'test', 'fixtures', 'kv-fault.c')]);
  });

  async function start(name: string, extra: string[] = []): Promise<{ kv: KvServer; sock: string; log: string }> {
    const sock = join(dir, `${name}.sock`);
    const log = join(dir, `${name}.log`);
    const kv = await startKv(process.execPath, [...CLI, 'run', '--control', sock, '--follower-log', log, ...extra,
      '--', V1, '--port', '0', ':::', V2, '--port', '0'], { cwd: REPO });
    return { kv, sock, log };
  }

  it('answers many concurrent clients exactly as the model, with no divergence', async () => {
    const { kv, sock, log } = await start('clean');
    let code: number | null = null;
    try {
      const load = await runLoad({ port: kv.port, clients: 24, requests: 120, seed: 42 });
      expect(load.errors).to.deep.equal([]);
      expect(load.mismatches).to.deep.equal([]);
      expect(load.answered).to.equal(24 * 120);
      const st = await until(() => status(sock), (s) => s.events.consumed === s.events.recorded);
      expect(st.retirements).to.deep.equal([]);
      expect(st.stage).to.equal('outdated leader');
      expect(st.follower?.state).to.equal('following');
      expect(st.events.recorded).to.be.above(24 * 120); // at least a read per request
      expect(st.events.consumed).to.equal(st.events.recorded);
    } finally {
      code = await kv.stop();
    }
    // SIGTERM reaches kv-v1 through its signalfd (a recorded read): a clean exit, followed by v2.
    expect(code).to.equal(0);
    expect(kv.stderr()).to.not.match(/retired/);
    // The follower got the leader's port from the matched getsockname().
    expect(readFileSync(log, 'utf8')).to.contain(`listening on ${kv.port}\n`);
  });

  it('without the forward rules, a typed PUT is a divergence reported at the reply that differs', async () => {
    const { kv, sock } = await start('norules');
    try {
      const c = await LineConn.open(kv.port);
      await c.send('PUT a 1\n');
      expect(await c.nextLine()).to.equal('OK');
      await c.send('PUT-number b 5\n');
      // The leader (v1) answers; the client never sees the follower's different answer.
      expect(await c.nextLine()).to.equal('ERROR unknown command');
      await c.send('GET a\n');
      expect(await c.nextLine()).to.equal('VALUE 1');
      c.close();
      const st = await until(() => status(sock), (s) => s.retirements.length > 0);
      expect(st.retirements).to.have.length(1);
      const r = st.retirements[0]!;
      expect(r.reason).to.match(/divergence/);
      // The event is the old version's reply to the typed PUT; the follower's call is the new reply.
      expect(r.report).to.match(/leader: +write\(\d+, "ERROR unknown command\\n", 22\) = 22/);
      expect(r.report).to.match(/follower: +write\(\d+, "OK\\n", 3\)/);
      expect(r.event).to.be.a('number').and.to.be.above(0);
    } finally {
      await kv.stop();
    }
  });

  it('follows typed (v2-only) requests with the forward rules (examples/kv/forward.mvr)', async () => {
    const { kv, sock } = await start('forward', ['--rules', join(KV_DIR, 'forward.mvr')]);
    let code: number | null = null;
    try {
      // The old leader answers typed requests `ERROR unknown command`; the rules hand the new
      // follower an unknown command in their place, so it answers the same.
      const load = await runLoad({ port: kv.port, clients: 12, requests: 80, seed: 11, typed: true, expect: 'v1' });
      expect(load.errors).to.deep.equal([]);
      expect(load.mismatches).to.deep.equal([]);
      const st = await until(() => status(sock), (s) => s.events.consumed === s.events.recorded);
      expect(st.retirements).to.deep.equal([]);
      expect(st.follower?.state).to.equal('following');
      expect(st.events.consumed).to.equal(st.events.recorded);
    } finally {
      code = await kv.stop();
    }
    expect(code).to.equal(0);
    expect(kv.stderr()).to.not.match(/retired/);
  });

  for (const fault of ['crash', 'hang'] as const) {
    it(`keeps answering every request correctly when the follower ${fault === 'crash' ? 'crashes' : 'hangs'}`, async () => {
      const { kv, sock } = await start(fault, ['--deadline-ms', '400', '--follower-env', `LD_PRELOAD=${faultSo}`,
        '--follower-env', `MVR_TEST_FAULT=${fault}`, '--follower-env', 'MVR_TEST_FAULT_AFTER=300']);
      let code: number | null = null;
      try {
        const load = await runLoad({ port: kv.port, clients: 16, requests: 100, seed: 7 });
        expect(load.errors).to.deep.equal([]);
        expect(load.mismatches).to.deep.equal([]);
        expect(load.answered).to.equal(16 * 100);
        const st = await until(() => status(sock), (s) => s.retirements.length > 0);
        expect(st.retirements.map((r) => r.reason)).to.deep.equal([fault === 'crash' ? 'crash' : 'hang']);
        expect(st.stage).to.equal('single leader');
        // Still serving after the retirement.
        const more = await runLoad({ port: kv.port, clients: 4, requests: 50, seed: 8, keyPrefix: 'after' });
        expect(more.mismatches).to.deep.equal([]);
        expect(more.errors).to.deep.equal([]);
      } finally {
        code = await kv.stop();
      }
      expect(code).to.equal(0);
      expect(kv.stderr()).to.match(new RegExp(`retired: ${fault}`));
      expect(existsSync(sock)).to.equal(false);
    });
  }
});
