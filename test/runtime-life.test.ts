// End-to-end tests of a program's life under `mvrc run` (docs/runtime.md, "A program's life"):
// the operator's signals, the follower's process tree, threads over a long life, large reads and
// writes, and an address-space limit. Real processes; the fixture is test/fixtures/mvr-life.c.
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, eventually, tempDir } from './helpers/cli.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CFLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O1', '-pthread'];

function mvrcRun(args: string[], input = '') {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' (npm test does it)`);
  const r = spawnSync(process.execPath, [CLI, 'run', ...args], { cwd: REPO, input, encoding: 'utf8', timeout: 100_000, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** `mvrc run ARGS` in the background; waitFor(text) waits for it on stdout (or where `where` says). */
function startRun(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  const run = { child, out: '', err: '', closed: false, exited: new Promise<number | null>((res) => child.once('exit', (c) => res(c))) };
  child.stdout!.on('data', (d: Buffer) => (run.out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (run.err += d.toString()));
  child.once('close', () => (run.closed = true));
  const waitFor = async (text: string, where: () => string = () => run.out) => {
    await eventually(() => where().includes(text) || run.closed, JSON.stringify(text));
    expect(where(), run.err).to.contain(text);
  };
  return Object.assign(run, { waitFor });
}

function ctlStatus(sock: string) {
  const r = spawnSync(process.execPath, [CLI, 'ctl', sock, 'status', '--json'], { cwd: REPO, encoding: 'utf8' });
  return JSON.parse(r.stdout);
}

/** The pids of the running processes whose program is `exe` (zombies have no command line). */
function processesOf(exe: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0')[0] === exe) pids.push(Number(e));
    } catch { /* ended meanwhile */ }
  }
  return pids;
}

/** Whether `pid` is blocked in read(2) (its next signal then arrives between two events: a signal
 *  sent while the leader is between a call and its record is the signal mechanism's own matter,
 *  docs/runtime.md). */
function inRead(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0] === '0' && / S /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').match(/\) Z /);
  } catch {
    return false;
  }
}

describe('runtime: a program\'s life (signals, process trees, tasks, sizes, limits)', function () {
  this.timeout(120_000);
  let dir: string;
  let bin: string;
  let binF: string; // the same program under another name: the follower's processes are told apart by it

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    dir = tempDir('mvrc-life-');
    bin = join(dir, 'life');
    binF = join(dir, 'life-follower');
    execFileSync('cc', [...CFLAGS, '-o', bin, join(REPO, 'test', 'fixtures', 'mvr-life.c')]);
    copyFileSync(bin, binF);
  });

  afterEach(() => {
    for (const p of [...processesOf(bin), ...processesOf(binF)]) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  });

  it('passes SIGHUP, SIGUSR1 and SIGTERM sent to mvrc run to the program; the follower handles each at the same point', async () => {
    const log = join(dir, 'handlers.log');
    const run = startRun(['--follower-log', log, '--', bin, 'handlers', ':::', binF, 'handlers']);
    await run.waitFor('ready\n');
    const [leader] = processesOf(bin);
    const blocked = () => eventually(() => inRead(leader!), 'the leader blocked in read');
    await blocked();
    run.child.kill('SIGHUP');
    await run.waitFor('reload\n');
    await blocked();
    run.child.kill('SIGUSR1');
    await run.waitFor('usr1\n');
    run.child.stdin!.write('a\n');
    await run.waitFor('echo: a\n');
    await blocked();
    run.child.kill('SIGTERM'); // the program's handler makes it end with status 3
    expect(await run.exited, run.err).to.equal(3);
    expect(run.out).to.equal('ready\nreload\nusr1\necho: a\nstopping\n');
    expect(run.err).to.not.match(/retired|took over/);
    // The follower was sent nothing: it ran each handler where the leader's ran, and ended as it did.
    expect(readFileSync(log, 'utf8')).to.equal(run.out);
  });

  for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) {
    it(`a ${sig} that ends the leader is a stop: both versions end, no failover, mvrc run exits with the leader's status`, async () => {
      const sock = join(dir, `stop-${sig}.sock`);
      const run = startRun(['--control', sock, '--', bin, 'plain', ':::', binF, 'plain']);
      await run.waitFor('ready\n');
      run.child.stdin!.write('a\n');
      await run.waitFor('echo: a\n');
      const st = ctlStatus(sock);
      expect(st.stage).to.equal('outdated leader');
      run.child.kill(sig);
      const num = { SIGTERM: 15, SIGINT: 2, SIGQUIT: 3 }[sig];
      expect(await run.exited, run.err).to.equal(128 + num);
      expect(run.err).to.match(/stopped: .* ended the leader \(version 1\); the follower \(version 2, pid \d+\) had consumed all \d+ of its events/);
      expect(run.err).to.not.match(/retired|took over|failover/);
      expect(alive(st.follower.pid), 'the follower still runs').to.equal(false);
      expect(processesOf(binF)).to.deep.equal([]);
    });
  }

  // The other side of the stop: a crash of the leader (here kill -9 of its own pid, which no
  // operator signal to mvrc run explains) still makes the follower take over. It then reads its
  // own stdin (/dev/null), so it ends at once, as the leader with status 0.
  it('a SIGKILL of the leader\'s own pid is a crash: the follower takes over', async () => {
    const sock = join(dir, 'crash.sock');
    const log = join(dir, 'crash.log');
    const run = startRun(['--control', sock, '--follower-log', log, '--', bin, 'plain', ':::', binF, 'plain']);
    await run.waitFor('ready\n');
    const st = ctlStatus(sock);
    process.kill(st.leader.pid, 'SIGKILL');
    expect(await run.exited, run.err).to.equal(0);
    expect(run.err).to.match(new RegExp(`failover: version 2 \\(pid ${st.follower.pid}\\) took over`));
    expect(run.err).to.not.match(/stopped:|retired/);
    expect(readFileSync(log, 'utf8')).to.equal('ready\ndone\n');
  });

  it('ends a retired follower\'s whole process tree, a child that left its process group included', () => {
    // The follower's parent prints another line, so it is retired there; its child had left the
    // process group (setsid) and sleeps, as a daemon's connection handler would.
    const r = mvrcRun(['--', bin, 'forkchild', 'A', ':::', binF, 'forkchild', 'B']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('parent A\n');
    expect(r.stderr).to.match(/retired: divergence/);
    expect(processesOf(binF), 'the follower\'s child outlived mvrc run').to.deep.equal([]);
  });

  // The leader's parent kills its child (as servers end their workers): the child records no end,
  // and the follower's child, asleep in a call of its own, would never learn its pair is over.
  it('a leader child process killed by a signal ends its follower counterpart: no retirement, none left', () => {
    const r = mvrcRun(['--', bin, 'forkchild', 'A', ':::', binF, 'forkchild', 'A']);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.equal('parent A\n');
    expect(processesOf(binF), 'the follower\'s child outlived mvrc run').to.deep.equal([]);
  });

  // Rings are reused once a pair of tasks ended: a program's 16th thread no longer cuts the
  // follower off (16 rings by default, the main thread's included).
  it('follows 100 threads started and joined one after another (rings reused), each one\'s calls matched', () => {
    const log = join(dir, 'threads.log');
    const r = mvrcRun(['--follower-log', log, '--', bin, 'threads', '100', ':::', binF, 'threads', '100']);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    const want = Array.from({ length: 100 }, (_, i) => `thread ${i}\n`).join('') + 'joined 100\n';
    expect(r.stdout).to.equal(want);
    expect(readFileSync(log, 'utf8')).to.equal(want); // the follower's threads wrote the same, in order
  });

  it('more threads alive at once than --max-tasks allows: the follower is retired with an error naming the flag', () => {
    const over = mvrcRun(['--max-tasks', '8', '--', bin, 'together', '8', ':::', binF, 'together', '8']);
    expect(over.status).to.equal(0); // the leader is unaffected
    expect(over.stdout).to.contain('joined 8\n');
    expect(over.stderr).to.match(/retired: unsupported at leader event #\d+/);
    expect(over.stderr).to.contain('more threads and processes alive at once than --max-tasks allows (8, the main thread included)');
    const fits = mvrcRun(['--max-tasks', '9', '--', bin, 'together', '8', ':::', binF, 'together', '8']);
    expect(fits.stderr, fits.stderr).to.not.match(/retired/);
    expect(fits.stdout).to.contain('joined 8\n');
  });

  it('rejects a --max-tasks past the runtime\'s limit (usage error)', () => {
    const r = mvrcRun(['--max-tasks', '5000', '--', bin, 'plain', ':::', binF, 'plain']);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.contain('--max-tasks is at most 1024, got 5000');
  });

  // vsftpd limits its own address space to 200 MiB: the agent maps only the rings a process uses.
  it('runs a program that limits its address space to 200 MiB (RLIMIT_AS) as leader and follower', () => {
    const log = join(dir, 'rlimit.log');
    const r = mvrcRun(['--follower-log', log, '--', bin, 'rlimit', ':::', binF, 'rlimit'], 'x\n');
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.stdout).to.equal('thread ok\nready\necho: x\ndone\n');
    expect(r.status).to.equal(0);
    expect(readFileSync(log, 'utf8')).to.equal(r.stdout);
  });

  // Redis's "very big payload" requests are 1-4 MB; a read or write of any size reaches the
  // follower whole or is compared whole: 20 MB here, more than the whole ring (16 MiB), so the
  // event is split across chunk records that the follower reassembles as the leader writes them.
  it('gives the follower a 20 MB read whole and compares a 20 MB write whole (larger than the ring)', () => {
    const data = join(dir, 'big.bin');
    const bytes = Buffer.alloc(20_000_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 12)) & 0xff;
    writeFileSync(data, bytes);
    const log = join(dir, 'big.log');
    const same = spawnSync(process.execPath, [CLI, 'run', '--follower-log', log, '--', bin, 'big', data, ':::', binF, 'big', data], { cwd: REPO, maxBuffer: 64 << 20, timeout: 100_000 });
    const err = same.stderr.toString();
    expect(err, err).to.not.match(/retired/);
    expect(same.status).to.equal(0);
    expect(Buffer.compare(same.stdout, bytes)).to.equal(0);
    // The follower's log (its stdout and stderr): the same checksum line, then the leader's 20 MB.
    const followerLog = readFileSync(log);
    const line = followerLog.subarray(0, followerLog.length - bytes.length).toString();
    expect(line).to.match(/^read 20000000 bytes, checksum \d+\n$/);
    expect(err).to.contain(line);
    expect(followerLog.subarray(followerLog.length - bytes.length).equals(bytes)).to.equal(true);
    // A follower writing another last byte is caught (a 1 MiB ring: the write wraps it 20 times).
    const diff = spawnSync(process.execPath, [CLI, 'run', '--ring-size', '1048576', '--', bin, 'big', data, ':::', binF, 'big', data, 'Z'], { cwd: REPO, maxBuffer: 64 << 20, timeout: 100_000 });
    expect(diff.status).to.equal(0);
    expect(diff.stderr.toString()).to.match(/retired: divergence at leader event #\d+/);
    expect(diff.stderr.toString()).to.match(/follower: write\(1, ".*"\.\.\., 20000000\)/);
  });

  // A user's LD_PRELOAD comes before the agent: its write() and clock_gettime() see the program's
  // calls as without mvrc, and the agent records what they pass on (the follower, preloading the
  // same library, gets the leader's clock through it and writes the same upper-cased lines).
  it('a user\'s preloaded interposer sees the program\'s write and clock calls first; the agent sees what it passes on', () => {
    const lib = join(dir, 'preload.so');
    execFileSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O1', '-shared', '-fPIC', '-o', lib, join(REPO, 'test', 'fixtures', 'mvr-preload.c'), '-ldl']);
    const native = spawnSync(bin, ['clock'], { input: 'a\n', encoding: 'utf8', env: { ...process.env, LD_PRELOAD: lib } });
    const shifted = (out: string) => Number(/^CLOCK (\d+)\n/.exec(out)?.[1]) - Date.now() / 1000;
    expect(shifted(native.stdout)).to.be.above(999_000); // what the interposer does alone
    const log = join(dir, 'preload.log');
    const pre = `LD_PRELOAD=${lib}`;
    const r = mvrcRun(['--leader-env', pre, '--follower-env', pre, '--follower-log', log, '--', bin, 'clock', ':::', binF, 'clock'], 'a\n');
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    expect(shifted(r.stdout)).to.be.above(999_000);
    expect(r.stdout).to.match(/^CLOCK \d+\nECHO: A\nDONE\n$/);
    expect(readFileSync(log, 'utf8')).to.equal(r.stdout);
    // The leader's agent recorded the upper-cased write: a follower without the library differs.
    const lone = mvrcRun(['--leader-env', pre, '--', bin, 'clock', ':::', binF, 'clock'], 'a\n');
    expect(lone.stdout).to.match(/^CLOCK \d+\nECHO: A\nDONE\n$/);
    expect(lone.stderr).to.match(/retired: divergence/);
    expect(lone.stderr).to.match(/leader: +write\(1, "CLOCK \d+\\n", \d+\)/);
  });
});
