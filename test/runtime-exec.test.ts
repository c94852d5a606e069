// End-to-end: tasks that exec under `mvrc run` (docs/runtime.md, "Exec, wrappers and valgrind"),
// and sanitized followers. examples/kv serves a checked load in every case (every answer compared
// with a model of the store); what changes is how each version gets to kv:
// - a start-up that re-execs itself and then execs kv (test/fixtures/mvr-reexec.c), on both sides:
//   the exec'd images keep their agent and their pairing;
// - a follower wrapped in a script (test/fixtures/mvr-wrap.sh, as Debian's /usr/bin/valgrind is
//   one) with MVR_WRAPPER_EXECS=1: the wrapper's start-up is not the program's;
// - a follower under valgrind: retired with a report that says why it cannot be followed;
// - an AddressSanitizer build of kv as follower (std/asan), and one with a use-after-free on one
//   command, retired at that command while the clients see nothing.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, REPO, tempDir } from './helpers/cli.ts';
import { LineConn, runLoad, startKv, type KvServer } from '../examples/kv/client.ts';
import type { MonitorStatus } from '../compiler/cli/ctl.ts';

const KV_DIR = join(REPO, 'examples', 'kv');
const V1 = join(KV_DIR, 'kv-v1');
const WRAP = join(REPO, 'test', 'fixtures', 'mvr-wrap.sh');
const CFLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE'];

function status(sock: string): MonitorStatus {
  const r = spawnSync(process.execPath, [CLI, 'ctl', sock, 'status', '--json'], { cwd: REPO, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mvrc ctl failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as MonitorStatus;
}

/** Polls `f` until `ok` holds and returns its last value (after `ms` anyway, so that the assertions
 *  on it fail with the details; no speed requirement). */
async function until<T>(f: () => T, ok: (x: T) => boolean, ms = 90_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const x = f();
    if (ok(x) || Date.now() - t0 > ms) return x;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

describe('runtime: exec (re-exec, wrappers, valgrind) and sanitized followers', function () {
  this.timeout(240_000);
  let dir: string;
  let reexec: string;
  let libasan: string;

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' (npm test does it)`);
    execFileSync('make', ['-C', KV_DIR, '--no-print-directory', '-s'], { stdio: ['ignore', 'ignore', 'inherit'] });
    dir = tempDir('mvrc-exec-');
    reexec = join(dir, 'mvr-reexec');
    execFileSync('cc', [...CFLAGS, '-O1', '-o', reexec, join(REPO, 'test', 'fixtures', 'mvr-reexec.c')]);
    libasan = execFileSync('cc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
  });

  async function start(name: string, args: string[]): Promise<{ kv: KvServer; sock: string; log: string }> {
    const sock = join(dir, `${name}.sock`);
    const log = join(dir, `${name}.log`);
    const kv = await startKv(process.execPath, [CLI, 'run', '--control', sock, '--follower-log', log, ...args], { cwd: REPO, timeoutMs: 90_000 });
    return { kv, sock, log };
  }

  /** A checked load, then: every event consumed, no retirement. */
  async function followsCleanly(kv: KvServer, sock: string, seed: number): Promise<MonitorStatus> {
    const load = await runLoad({ port: kv.port, clients: 8, requests: 60, seed });
    expect(load.errors).to.deep.equal([]);
    expect(load.mismatches).to.deep.equal([]);
    expect(load.answered).to.equal(8 * 60);
    const st = await until(() => status(sock), (s) => s.events.consumed === s.events.recorded || s.retirements.length > 0);
    expect(st.retirements).to.deep.equal([]);
    expect(st.follower?.state).to.equal('following');
    expect(st.events.recorded).to.be.above(8 * 60);
    expect(st.events.consumed).to.equal(st.events.recorded);
    return st;
  }

  /** A checked load while the follower is (or gets) retired: the clients see nothing of it. */
  async function retiredUnseen(kv: KvServer, sock: string, seed: number): Promise<MonitorStatus> {
    const load = await runLoad({ port: kv.port, clients: 4, requests: 40, seed });
    expect(load.errors).to.deep.equal([]);
    expect(load.mismatches).to.deep.equal([]);
    const st = await until(() => status(sock), (s) => s.retirements.length > 0);
    expect(st.retirements).to.have.length(1);
    return st;
  }

  it('follows a start-up that re-execs itself and then execs the server, on both sides', async () => {
    const { kv, sock, log } = await start('reexec', ['--', reexec, V1, '--port', '0', ':::', reexec, V1, '--port', '0']);
    let code: number | null;
    let leaderPid = 0;
    try {
      leaderPid = (await followsCleanly(kv, sock, 3)).leader.pid;
    } finally {
      code = await kv.stop();
    }
    expect(code).to.equal(0);
    expect(kv.stderr()).to.not.match(/retired/);
    // The follower's earlier images ran as the leader's did: the first printed the leader's pid
    // (its getpid matched the leader's; an exec keeps the pid), and kv behind them got the
    // leader's port (its getsockname matched).
    expect(readFileSync(log, 'utf8')).to.match(new RegExp(`^stage 1 pid ${leaderPid}\nstage 2\nlistening on ${kv.port}\n`));
  });

  it('a follower whose exec differs from the leader\'s is retired at that exec; clients see nothing', async () => {
    // The follower's stage 2 execs another program (kv-v2) where the leader's execs kv-v1.
    const { kv, sock } = await start('reexec-diff', ['--', reexec, V1, '--port', '0', ':::', reexec, '--to', join(KV_DIR, 'kv-v2'), V1, '--port', '0']);
    try {
      const st = await retiredUnseen(kv, sock, 4);
      const r = st.retirements[0]!;
      expect(r.reason).to.equal('divergence');
      expect(r.report).to.match(/leader: +execve\("[^"]*kv-v1"/);
      expect(r.report).to.match(/follower: +execve\("[^"]*kv-v2"/);
    } finally {
      await kv.stop();
    }
  });

  it('follows a server behind a wrapper script (MVR_WRAPPER_EXECS=1): the wrapper\'s start-up is its own', async () => {
    const { kv, sock, log } = await start('wrap', ['--follower-env', 'MVR_WRAPPER_EXECS=1', '--', V1, '--port', '0', ':::', WRAP, V1, '--port', '0']);
    try {
      await followsCleanly(kv, sock, 5);
    } finally {
      expect(await kv.stop()).to.equal(0);
    }
    expect(readFileSync(log, 'utf8')).to.contain(`listening on ${kv.port}\n`);
  });

  it('without MVR_WRAPPER_EXECS, the wrapper script is taken for the program and diverges at its first call', async () => {
    const { kv, sock } = await start('wrap-unsaid', ['--', V1, '--port', '0', ':::', WRAP, V1, '--port', '0']);
    try {
      const st = await retiredUnseen(kv, sock, 6);
      const r = st.retirements[0]!;
      expect(r.reason).to.equal('divergence');
      expect(r.event).to.equal(0);
      expect(r.report).to.match(/leader: +signalfd4\(/); // kv's first call
    } finally {
      await kv.stop();
    }
  });

  it('valgrind as follower: reaches the guest through the wrapper, and is retired saying why it cannot be followed', async function () {
    const valgrind = which('valgrind');
    if (!valgrind) {
      console.log('    (skipped: valgrind is not installed; scripts/install-deps.sh installs it)');
      this.skip();
    }
    // Debian's valgrind: a shell script, then valgrind.bin (the launcher), then the static tool that
    // loads the guest with LD_PRELOAD (the agent included): two wrapper images before the program.
    const { kv, sock, log } = await start('valgrind', ['--deadline-ms', '120000', '--rules', join(REPO, 'stdlib-rules', 'valgrind.mvr'),
      '--follower-env', 'MVR_WRAPPER_EXECS=2', '--', V1, '--port', '0', ':::', valgrind!, '-q', V1, '--port', '0']);
    try {
      const st = await retiredUnseen(kv, sock, 7);
      const r = st.retirements[0]!;
      expect(r.reason).to.equal('unsupported');
      expect(r.report).to.contain('the program runs under valgrind');
      expect(r.report).to.match(/follower: +prctl\(PR_SET_SYSCALL_USER_DISPATCH/);
      expect(readFileSync(log, 'utf8')).to.contain('runs under valgrind');
    } finally {
      await kv.stop();
    }
  });

  it('mvrc record follows execs too: the trace goes on in each new image', () => {
    const out = join(dir, 'reexec.jsonl');
    const r = spawnSync(process.execPath, [CLI, 'record', '-o', out, '--', reexec, '/bin/echo', 'hi'], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`stage 1 pid ${r.stdout.match(/pid (\d+)/)?.[1]}\nstage 2\nhi\n`);
    const events = readFileSync(out, 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l) as { name?: string; bufs?: Record<string, string> });
    const names = events.map((e) => e.name);
    const writes = events.filter((e) => e.name === 'write').map((e) => Buffer.from(e.bufs!['1']!, 'hex').toString());
    // Before, the trace ended at the first exec; now each image's calls follow its exec.
    expect(names.filter((n) => n === 'execve')).to.have.length(2);
    expect(writes).to.deep.equal([writes[0], 'stage 2\n', 'hi\n']);
    expect(names.indexOf('execve')).to.be.below(names.lastIndexOf('write'));
  });

  describe('an AddressSanitizer build of kv as follower (std/asan)', () => {
    let asan: string;
    let uaf: string;

    before(() => {
      const src = readFileSync(join(KV_DIR, 'kv-v1.c'), 'utf8');
      const dsu = join(REPO, 'runtime-c', 'dsu');
      const san = ['-O1', '-g', '-fsanitize=address', '-fno-omit-frame-pointer', `-I${dsu}`];
      asan = join(dir, 'kv-asan');
      execFileSync('cc', [...CFLAGS, ...san, '-o', asan, join(KV_DIR, 'kv-v1.c'), join(dsu, 'mvr_dsu.c')]);
      // The same server with a use-after-free on one command, `GET uaf` (a freed block written).
      const hook = '\tstruct entry *e = dict_get(&store, key, klen);';
      expect(src).to.contain(hook);
      const bad = src.replace(hook, '\tif (klen == 3 && memcmp(key, "uaf", 3) == 0) {\n\t\tuaf_block = xmalloc(8);\n\t\tfree(uaf_block);\n\t\tuaf_block[0] = 1;\n\t}\n' + hook)
        .replace('static void cmd_get(', 'static char *volatile uaf_block;\n\nstatic void cmd_get(');
      const badSrc = join(dir, 'kv-uaf.c');
      writeFileSync(badSrc, bad);
      uaf = join(dir, 'kv-uaf');
      execFileSync('cc', [...CFLAGS, ...san, '-o', uaf, badSrc, join(dsu, 'mvr_dsu.c')]);
    });

    // libasan must come first in the process (the agent is preloaded): the runtime keeps a user's
    // LD_PRELOAD before its agent. LeakSanitizer's exit-time check and colours are off (std/asan's header).
    const asanEnv = (rules = join(REPO, 'stdlib-rules', 'asan.mvr')): string[] => ['--rules', rules, '--follower-env', `LD_PRELOAD=${libasan}`,
      '--follower-env', 'ASAN_OPTIONS=detect_leaks=0:color=never'];

    it('native kv leads, ASan kv follows under a checked load: no retirement', async () => {
      const { kv, sock } = await start('asan', [...asanEnv(), '--', V1, '--port', '0', ':::', asan, '--port', '0']);
      try {
        await followsCleanly(kv, sock, 8);
      } finally {
        expect(await kv.stop()).to.equal(0);
      }
      expect(kv.stderr()).to.not.match(/retired/);
    });

    it('without std/asan, the ASan run-time\'s own start-up calls diverge', async () => {
      const { kv, sock } = await start('asan-norules', ['--follower-env', `LD_PRELOAD=${libasan}`, '--', V1, '--port', '0', ':::', asan, '--port', '0']);
      try {
        const st = await retiredUnseen(kv, sock, 9);
        expect(st.retirements[0]!.reason).to.equal('divergence');
      } finally {
        await kv.stop();
      }
    });

    it('an ASan follower with a use-after-free is retired at the request that triggers it; every answer is right', async () => {
      // std/asan, and ASan's report let through to the follower's log (std/asan's header).
      const rules = join(dir, 'asan-report.mvr');
      writeFileSync(rules, 'import "std/asan"\nnothing => write(2, _, _)\n');
      const { kv, sock, log } = await start('uaf', [...asanEnv(rules), '--', V1, '--port', '0', ':::', uaf, '--port', '0']);
      try {
        await followsCleanly(kv, sock, 10);
        const c = await LineConn.open(kv.port);
        await c.send('PUT uaf 1\n');
        expect(await c.nextLine()).to.equal('OK');
        await c.send('GET uaf\n');
        expect(await c.nextLine()).to.equal('VALUE 1'); // the leader's answer
        const st = await until(() => status(sock), (s) => s.retirements.length > 0);
        expect(st.retirements).to.have.length(1);
        const r = st.retirements[0]!;
        // The follower's ASan reports the error to its log (the rule file lets it write there) instead
        // of its reply: retired at the leader's reply to `GET uaf`, where ASan went on with a call
        // of its own (std/asan's header).
        expect(r.reason).to.equal('divergence');
        expect(r.report).to.match(/leader: +write\(\d+, "VALUE 1\\n", 8\) = 8/);
        expect(r.report).to.match(/follower: +open\("\/proc\/self\/maps"/);
        expect(readFileSync(log, 'utf8')).to.match(/ERROR: AddressSanitizer: heap-use-after-free.*\nWRITE of size 1/);
        // The leader keeps serving with its state.
        await c.send('GET uaf\n');
        expect(await c.nextLine()).to.equal('VALUE 1');
        c.close();
        const after = await runLoad({ port: kv.port, clients: 4, requests: 40, seed: 11, keyPrefix: 'after-' });
        expect(after.errors).to.deep.equal([]);
        expect(after.mismatches).to.deep.equal([]);
      } finally {
        await kv.stop();
      }
    });
  });
});
