// End-to-end tests of the mvr runtime (runtime-c/): real processes run as leader and follower under
// `mvrc run`. The fixture test/fixtures/mvr-lines.c prints lines stamped with clock_gettime and
// echoes its stdin; build-time switches make faulty follower versions (crash, hang, different bytes).
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { CLI, eventually, tempDir } from './helpers/cli.ts';
import { parseRunArgs } from '../compiler/cli/run.ts';
import { buildRuntime, RuntimeBuildError } from '../codegen-c/runtime-build.ts';
import { buildEmptyRules } from '../compiler/cli/empty-rules.ts';
import { MVR_ENV_ROLE, MVR_ENV_RULES } from '../compiler/core/abi.generated.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE = join(REPO, 'test', 'fixtures', 'mvr-lines.c');
const CFLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O1'];

/** The bundled CLI, as users run it (`npm test` builds it before mocha). */
function cli(): string[] {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' (npm test does it)`);
  return [CLI];
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `mvrc run ARGS` to its end; a run still going after `timeoutMs` is killed (status null),
 *  which is how a leader blocked for good shows up — the limit is no speed requirement. */
function mvrcRun(args: string[], input = '', timeoutMs = 100_000): Run {
  const r = spawnSync(process.execPath, [...cli(), 'run', ...args], { cwd: REPO, input, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Replaces the clock values, which differ from run to run. */
function maskTimes(s: string): string {
  return s.replace(/t=\d+\.\d+/g, 't=T');
}

/** `mvrc run ARGS` in the background, its output collected: waitFor(text) waits for it on stdout
 * (or in what `where` returns, e.g. a follower log). */
function startRun(args: string[], stdin: 'pipe' | 'ignore') {
  const child = spawn(process.execPath, [...cli(), 'run', ...args], { cwd: REPO, stdio: [stdin, 'pipe', 'pipe'] });
  const run = { child, out: '', err: '', closed: false, exited: new Promise<number | null>((res) => child.once('exit', (c) => res(c))) };
  child.stdout!.on('data', (d: Buffer) => (run.out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (run.err += d.toString()));
  child.once('close', () => (run.closed = true)); // exited, and its output read to the end
  const waitFor = async (text: string, where: () => string = () => run.out) => {
    await eventually(() => where().includes(text) || run.closed, JSON.stringify(text));
    expect(where(), run.err).to.contain(text);
  };
  return Object.assign(run, { waitFor });
}

describe('runtime: leader and follower side by side', function () {
  this.timeout(120_000);
  let dir: string;
  const bin: Record<string, string> = {};

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    dir = tempDir('mvrc-runtime-');
    const variants: Record<string, string[]> = { lines: [], crash: ['-DCRASH_AT=7'], hang: ['-DHANG_AT=7'], diff: ['-DDIFF_AT=7'] };
    for (const [name, defs] of Object.entries(variants)) {
      bin[name] = join(dir, name);
      execFileSync('cc', [...CFLAGS, ...defs, '-o', bin[name]!, FIXTURE]);
    }
    const threads = join(REPO, 'test', 'fixtures', 'mvr-threads.c');
    bin.threads = join(dir, 'threads');
    execFileSync('cc', [...CFLAGS, '-pthread', '-o', bin.threads, threads]);
    bin.threadCrash = join(dir, 'thread-crash');
    execFileSync('cc', [...CFLAGS, '-pthread', '-DCRASH_THREAD=2', '-o', bin.threadCrash, threads]);
    const fork = join(REPO, 'test', 'fixtures', 'mvr-fork.c');
    bin.fork = join(dir, 'fork');
    execFileSync('cc', [...CFLAGS, '-o', bin.fork, fork]);
    bin.forkCrash = join(dir, 'fork-crash');
    execFileSync('cc', [...CFLAGS, '-DCRASH_CHILD=1', '-o', bin.forkCrash, fork]);
    // A module given as a .so: `mvrc build` of a rule file with no rules (the default rule alone).
    writeFileSync(join(dir, 'none.mvr'), '');
    execFileSync(process.execPath, [...cli(), 'build', join(dir, 'none.mvr'), '-o', join(dir, 'none')], { stdio: 'ignore' });
    bin.rules = join(dir, 'none', 'rules.so');
  });

  it('gives the same output as the leader alone, and the follower sees the same clock values', () => {
    const input = 'some input\nfor both\n';
    const alone = spawnSync(bin.lines!, ['--lines', '40'], { input, encoding: 'utf8' });
    const log = join(dir, 'same.log');
    const r = mvrcRun(['--follower-log', log, '--', bin.lines!, '--lines', '40', ':::', bin.lines!, '--lines', '40'], input);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    expect(maskTimes(r.stdout)).to.equal(maskTimes(alone.stdout));
    expect(r.stdout).to.contain(`stdin bytes: ${input.length}`);
    // The follower printed (into its own log) exactly what the leader printed, clock values included:
    // it got the leader's clock_gettime results, and its stdin bytes from the leader's reads.
    expect(readFileSync(log, 'utf8')).to.equal(r.stdout);
  });

  it('decides a call that needs look-ahead when the leader\'s thread goes idle, instead of retiring the follower as hung', () => {
    const idle = join(REPO, 'test', 'fixtures', 'mvr-idle.c');
    const leader = join(dir, 'idle-leader');
    const follower = join(dir, 'idle-follower');
    execFileSync('cc', [...CFLAGS, '-o', leader, idle]);
    execFileSync('cc', [...CFLAGS, '-DFOLLOWER', '-o', follower, idle]);
    const rules = join(dir, 'idle.mvr');
    appendFileSync(rules, 'import "std/time"\n');
    // The leader reads the clock, then sleeps 600 ms; the follower's different clock read can only
    // be decided by looking past the leader's read, where nothing comes for 600 ms.
    const r = mvrcRun(['--deadline-ms', '400', '--rules', rules, '--follower-log', join(dir, 'idle.log'), '--', leader, ':::', follower]);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.equal('done\n');
  });

  it('gives the follower the leader\'s random bytes (getrandom, and reads of /dev/urandom)', () => {
    const log = join(dir, 'random.log');
    const r = mvrcRun(['--follower-log', log, '--', bin.lines!, '--random', '--lines', '2', ':::', bin.lines!, '--random', '--lines', '2']);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    const random = r.stdout.split('\n').slice(0, 2);
    expect(random[0]).to.match(/^getrandom [0-9a-f]{32}$/);
    expect(random[1]).to.match(/^urandom [0-9a-f]{32}$/);
    expect(readFileSync(log, 'utf8')).to.equal(r.stdout);
    // The bytes are random indeed: another run of the program draws others.
    const again = spawnSync(bin.lines!, ['--random', '--lines', '0'], { encoding: 'utf8' }).stdout.split('\n');
    expect(again[0]).to.match(/^getrandom /).and.not.equal(random[0]);
    expect(again[1]).to.match(/^urandom /).and.not.equal(random[1]);
  });

  it('follows a leader that makes 100 writes in a row the follower never makes (write(2,_,_) => nothing)', () => {
    const rules = join(dir, 'quiet.mvr');
    writeFileSync(rules, 'write(2, _, _) => nothing\n');
    const log = join(dir, 'quiet.log');
    const r = mvrcRun(['--rules', rules, '--follower-log', log, '--', bin.lines!, '--stderr-lines', '100', '--lines', '3', ':::', bin.lines!, '--lines', '3']);
    expect(r.stderr).to.not.match(/retired/);
    expect(r.stderr).to.contain('note 99\n');
    expect(r.status).to.equal(0);
    expect(readFileSync(log, 'utf8')).to.equal(r.stdout);
  });

  it('exits with the leader status, and a different exit of the follower is a divergence', () => {
    const same = mvrcRun(['--', bin.lines!, '--lines', '2', '--exit', '5', ':::', bin.lines!, '--lines', '2', '--exit', '5']);
    expect(same.status).to.equal(5);
    expect(same.stderr).to.not.match(/retired/);
    const other = mvrcRun(['--', bin.lines!, '--lines', '2', '--exit', '5', ':::', bin.lines!, '--lines', '2', '--exit', '4']);
    expect(other.status).to.equal(5);
    expect(other.stderr).to.match(/retired: divergence/);
    expect(other.stderr).to.contain('leader:   exit_group(5)');
    expect(other.stderr).to.contain('follower: exit_group(4)');
  });

  it('runs a single leader when no follower is given', () => {
    const r = mvrcRun(['--', bin.lines!, '--lines', '3', '--exit', '3'], 'xy');
    expect(r.status).to.equal(3);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('line ')).length).to.equal(3);
    expect(r.stdout).to.contain('stdin bytes: 2');
  });

  it('drives a rules module given with --rules (.so), built by mvrc build', () => {
    const log = join(dir, 'rules.log');
    const r = mvrcRun(['--rules', bin.rules!, '--follower-log', log, '--', bin.lines!, '--lines', '10', ':::', bin.lines!, '--lines', '10'], 'abc');
    expect(r.status).to.equal(0);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(readFileSync(log, 'utf8')).to.equal(r.stdout);
    const d = mvrcRun(['--rules', bin.rules!, '--', bin.lines!, '--lines', '10', ':::', bin.diff!, '--lines', '10']);
    expect(d.stderr).to.match(/retired: divergence/);
  });

  it('runs rules compiled from a .mvr file (--rules) that reconcile a changed write', () => {
    const log = join(dir, 'mvr-rules.log');
    const rules = join(REPO, 'test', 'fixtures', 'line7.mvr');
    const r = mvrcRun(['--rules', rules, '--follower-log', log, '--', bin.lines!, '--lines', '12', ':::', bin.diff!, '--lines', '12']);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^line 7 t=/m);
    expect(r.stdout).to.not.contain('LINE');
    // The follower wrote its own spelling (into its log) and got the leader's results.
    const followerOut = readFileSync(log, 'utf8');
    expect(followerOut).to.match(/^LINE 7 t=/m);
    expect(followerOut.replace('LINE 7', 'line 7')).to.equal(r.stdout);
    // Without the rules the same pair diverges.
    const bare = mvrcRun(['--', bin.lines!, '--lines', '12', ':::', bin.diff!, '--lines', '12']);
    expect(bare.stderr).to.match(/retired: divergence/);
  });

  it('retires a crashing follower with a report naming the event, and the leader keeps going', () => {
    const r = mvrcRun(['--', bin.lines!, '--lines', '30', ':::', bin.crash!, '--lines', '30'], 'abc');
    expect(r.status).to.equal(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('line ')).length).to.equal(30);
    expect(r.stdout).to.contain('stdin bytes: 3');
    expect(r.stderr, r.stderr).to.match(/follower \(pid \d+\) retired: crash at leader event #\d+/);
    expect(r.stderr).to.contain('signal 11');
    // It crashed before line 7's clock_gettime: that is the leader event it did not reach.
    expect(r.stderr).to.match(/leader: +clock_gettime\(CLOCK_MONOTONIC, /);
    // Its last call was line 6's write.
    expect(r.stderr).to.match(/follower: +write\(1, /);
  });

  it('retires a follower that makes no progress past the deadline', () => {
    const r = mvrcRun(['--deadline-ms', '300', '--', bin.lines!, '--lines', '30', ':::', bin.hang!, '--lines', '30'], '');
    expect(r.status).to.equal(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('line ')).length).to.equal(30);
    expect(r.stderr, r.stderr).to.match(/retired: hang at leader event #\d+/);
    expect(r.stderr).to.match(/no progress for \d+ ms/);
  });

  it('reports different bytes as a divergence with both calls decoded', () => {
    const r = mvrcRun(['--', bin.lines!, '--lines', '20', ':::', bin.diff!, '--lines', '20'], '');
    expect(r.status).to.equal(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('line ')).length).to.equal(20);
    expect(r.stderr).to.match(/retired: divergence at leader event #\d+/);
    expect(r.stderr).to.match(/leader: +write\(1, "line 7 t=\d+\.\d+\\n", \d+\) = \d+/);
    expect(r.stderr).to.match(/follower: +write\(1, "LINE 7 t=\d+\.\d+\\n", \d+\)/);
    expect(r.stderr).to.contain('default rule');
  });

  it('keeps SIGSYS deliverable when the program blocks every signal', () => {
    const log = join(dir, 'block.log');
    const args = ['--lines', '10', '--block-signals'];
    const r = mvrcRun(['--follower-log', log, '--', bin.lines!, ...args, ':::', bin.lines!, ...args], 'z');
    expect(r.status).to.equal(0);
    expect(r.stderr).to.not.match(/retired|mvr-agent/);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('line ')).length).to.equal(10);
    expect(readFileSync(log, 'utf8')).to.equal(r.stdout);
  });

  it('streams through a small ring many times over (wrap-around, the leader waiting for space)', () => {
    // 3000 lines are ~800 KiB of events through a 64 KiB ring.
    const log = join(dir, 'wrap.log');
    const r = mvrcRun(['--ring-size', '65536', '--follower-log', log, '--', bin.lines!, '--lines', '3000', ':::', bin.lines!, '--lines', '3000'], 'x');
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('line ')).length).to.equal(3000);
    expect(readFileSync(log, 'utf8')).to.equal(r.stdout);
  });

  it('never blocks the leader on a full ring longer than the bound', () => {
    // 64 KiB ring, 4000 lines (~130 KiB of events): the hanging follower stops draining it.
    const r = mvrcRun(['--ring-size', '65536', '--deadline-ms', '400', '--', bin.lines!, '--lines', '4000', ':::', bin.hang!, '--lines', '4000'], '');
    expect(r.status).to.equal(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('line ')).length).to.equal(4000);
    // A leader blocked for good would have been killed at mvrcRun's limit (status null); how long
    // it waited before the follower was retired is the monitor's --deadline-ms, not asserted here.
    expect(r.stderr).to.match(/retired: (ring-full|hang)/);
  });

  it('pairs threads by creation order: each follower thread gets its leader thread\'s results', () => {
    const log = join(dir, 'threads.log');
    const r = mvrcRun(['--follower-log', log, '--', bin.threads!, '6', '150', ':::', bin.threads!, '6', '150']);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).to.equal(6 * 150 + 1);
    expect(lines[lines.length - 1]).to.equal('total 900');
    // The threads interleave differently in the two processes, but every follower thread printed
    // exactly its leader thread's lines, clock values included.
    const sorted = (t: string) => t.trimEnd().split('\n').sort().join('\n');
    expect(sorted(readFileSync(log, 'utf8'))).to.equal(sorted(r.stdout));
  });

  it('retires a follower whose thread crashes, naming the thread pair, and the leader keeps going', () => {
    const r = mvrcRun(['--', bin.threads!, '4', '20', ':::', bin.threadCrash!, '4', '20']);
    expect(r.status).to.equal(0);
    expect(r.stdout.trimEnd().split('\n').length).to.equal(4 * 20 + 1);
    expect(r.stderr).to.match(/retired: crash/);
    // Thread 2 crashed before line 10's clock_gettime. Its pair's number is its ring's, which a
    // thread that ended before it was created may have had first (rings are reused).
    expect(r.stderr).to.match(/task pair #\d+:\n {2}leader: +clock_gettime\(CLOCK_MONOTONIC, .*\(event #20\)/);
  });

  // More tasks alive at once than --max-tasks: test/runtime-life.test.ts (rings are reused once a
  // pair ended, so how many threads a program starts over its life no longer matters).

  it('pairs child processes by creation order (fork), and the parent sees the leader\'s children', () => {
    const log = join(dir, 'fork.log');
    const r = mvrcRun(['--follower-log', log, '--', bin.fork!, '3', '25', ':::', bin.fork!, '3', '25']);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    for (let c = 0; c < 3; c++) expect(r.stdout).to.contain(`child ${c} exited with ${10 + c}\n`);
    const sorted = (t: string) => t.trimEnd().split('\n').sort().join('\n');
    // The follower's children printed their leader children's lines (clock values included), and
    // its parent got the leader's wait4 results.
    expect(sorted(readFileSync(log, 'utf8'))).to.equal(sorted(r.stdout));
  });

  it('retires the follower when one of its child processes crashes; the leader\'s children finish', () => {
    const r = mvrcRun(['--', bin.fork!, '3', '10', ':::', bin.forkCrash!, '3', '10']);
    expect(r.status).to.equal(0);
    expect(r.stdout.trimEnd().split('\n').length).to.equal(3 * 11);
    expect(r.stderr).to.match(/retired: crash/);
    expect(r.stderr).to.match(/child process \d+ \(task pair #\d+\) ended without reaching its leader's exit/);
  });

  it('runs a command the program spawns (system) once: the follower gets the leader\'s result', () => {
    const prog = join(dir, 'system');
    execFileSync('cc', [...CFLAGS, '-o', prog, join(REPO, 'test', 'fixtures', 'mvr-system.c')]);
    const marker = join(dir, 'spawned.txt');
    const log = join(dir, 'system.log');
    const cmd = `echo spawned >> ${marker}; exit 3`;
    const r = mvrcRun(['--follower-log', log, '--', prog, cmd, ':::', prog, cmd]);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.equal(`system returned ${3 << 8}\n`);
    expect(readFileSync(marker, 'utf8')).to.equal('spawned\n'); // once, by the leader's child
    expect(readFileSync(log, 'utf8')).to.equal(r.stdout);
  });

  it('keeps each version\'s epoll user data: the follower gets its own data back from epoll_wait', () => {
    const src = join(REPO, 'test', 'fixtures', 'mvr-epoll.c');
    const v1 = join(dir, 'epoll-1000');
    const v2 = join(dir, 'epoll-5000');
    execFileSync('cc', [...CFLAGS, '-DDATA_BASE=1000', '-o', v1, src]);
    execFileSync('cc', [...CFLAGS, '-DDATA_BASE=5000', '-o', v2, src]);
    const log = join(dir, 'epoll.log');
    const r = mvrcRun(['--follower-log', log, '--', v1, ':::', v2]);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.contain('ok 3\n');
    // The follower checked the data it got back against what it registered itself.
    expect(readFileSync(log, 'utf8')).to.equal(r.stdout);
  });

  it('replays the leader\'s signals to the follower at the same point (handlers, EINTR)', async () => {
    const src = join(REPO, 'test', 'fixtures', 'mvr-signals.c');
    const prog = join(dir, 'signals');
    execFileSync('cc', [...CFLAGS, '-o', prog, src]);
    const sock = join(dir, 'sig.sock');
    const log = join(dir, 'signals.log');
    const run = startRun(['--control', sock, '--follower-log', log, '--', prog, ':::', prog], 'pipe');
    const { child, waitFor } = run;
    await waitFor('ready');
    const st = JSON.parse(spawnSync(process.execPath, [...cli(), 'ctl', sock, 'status', '--json'], { cwd: REPO, encoding: 'utf8' }).stdout);
    const leader: number = st.leader.pid;
    child.stdin!.write('a\n');
    await waitFor('echo: a');
    process.kill(leader, 'SIGUSR1'); // handled while the leader is blocked in read() (SA_RESTART)
    await waitFor('handler: signal 10');
    child.stdin!.write('b\n');
    await waitFor('echo: b');
    process.kill(leader, 'SIGUSR2'); // no SA_RESTART: the read fails with EINTR
    await waitFor('read interrupted (EINTR), usr2 count 1');
    child.stdin!.end('c\n');
    expect(await run.exited).to.equal(0);
    expect(run.out).to.equal('ready (handler seen as installed: yes)\necho: a\nhandler: signal 10\necho: b\n' +
      'read interrupted (EINTR), usr2 count 1\necho: c\ndone\n');
    expect(run.err).to.not.match(/retired/);
    // The follower never got a signal from outside: the runtime raised each one at the point the
    // leader's handler ran, and it printed the same lines.
    expect(readFileSync(log, 'utf8')).to.equal(run.out);
  });

  it('records the signals a promoted version handles, so the old version following it replays them', async () => {
    const prog = join(dir, 'signals-fifo');
    execFileSync('cc', [...CFLAGS, '-o', prog, join(REPO, 'test', 'fixtures', 'mvr-signals.c')]);
    const fifo = join(dir, 'in.fifo');
    execFileSync('mkfifo', [fifo]);
    const back = join(dir, 'default-only.mvr');
    writeFileSync(back, '// the default match only: the old version follows the new one call for call\n');
    const sock = join(dir, 'promote-sig.sock');
    const log = join(dir, 'promote-sig.log');
    const run = startRun(['--control', sock, '--back', back, '--follower-log', log, '--', prog, fifo, ':::', prog, fifo], 'ignore');
    const waitFor = (where: () => string, text: string) => run.waitFor(text, where);
    const logText = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
    const ctl = (...args: string[]) => spawnSync(process.execPath, [...cli(), 'ctl', sock, ...args], { cwd: REPO, encoding: 'utf8' });
    const writer = await open(fifo, 'w'); // the leader's open() returns once a writer is there
    await run.waitFor('ready');
    await writer.write('a\n');
    await run.waitFor('echo: a');
    const pro = ctl('promote');
    expect(pro.status, pro.stderr).to.equal(0);
    const st = JSON.parse(ctl('status', '--json').stdout);
    expect(st).to.deep.include({ stage: 'updated leader' });
    // The new leader (the former follower, whose output is its log) reads the FIFO for real now.
    await writer.write('b\n');
    await waitFor(logText, 'echo: b');
    process.kill(st.leader.pid, 'SIGUSR1');
    await waitFor(logText, 'handler: signal 10');
    await writer.write('c\n');
    await waitFor(logText, 'echo: c');
    const after = JSON.parse(ctl('status', '--json').stdout);
    expect(after.retirements, JSON.stringify(after.retirements)).to.deep.equal([]);
    expect(after.follower).to.deep.include({ state: 'following' });
    await writer.close();
    expect(await run.exited, run.err).to.equal(0);
    expect(logText()).to.contain('handler: signal 10\necho: c\ndone\n');
    expect(run.err, run.err).to.not.match(/retired/);
  });

  it('a version updated by replay gets the files the old one mapped and closed (not a placeholder)', async () => {
    const prog = join(dir, 'mapfile');
    execFileSync('cc', [...CFLAGS, '-o', prog, join(REPO, 'test', 'fixtures', 'mvr-mapfile.c')]);
    const data = join(dir, 'mapped.txt');
    writeFileSync(data, 'the mapped file\n');
    const sock = join(dir, 'mapfile.sock');
    const run = startRun(['--control', sock, '--state-dir', dir, '--', prog, data], 'pipe');
    const { child, waitFor } = run;
    const ctl = (...args: string[]) => spawnSync(process.execPath, [...cli(), 'ctl', sock, ...args], { cwd: REPO, encoding: 'utf8' });
    let done = false;
    try {
      await mapfileUpdate();
      done = true;
    } finally {
      child.stdin!.end();
      if (!done) child.kill('SIGKILL'); // a failed assertion must not leave it running
    }
    expect(await run.exited, run.err).to.equal(0);

    async function mapfileUpdate(): Promise<void> {
      await waitFor('the mapped file\n');
      const up = ctl('update', '--', prog, data);
      expect(up.status, up.stderr).to.equal(0);
      child.stdin!.write('after the update\n');
      await waitFor('after the update\n');
      let st = JSON.parse(ctl('status', '--json').stdout);
      await eventually(() => {
        st = JSON.parse(ctl('status', '--json').stdout);
        return st.events.consumed >= st.events.recorded || st.retirements.length > 0;
      }, 'the follower to consume every event');
      expect(st.retirements, JSON.stringify(st.retirements)).to.deep.equal([]);
      expect(st).to.deep.include({ stage: 'outdated leader' });
      expect(st.events.consumed).to.equal(st.events.recorded);
      expect(ctl('rollback').status).to.equal(0);
    }
  });

  it('answers `mvrc ctl SOCK status` while running, with retirements', async () => {
    const sock = join(dir, 'ctl.sock');
    const child = spawn(process.execPath, [...cli(), 'run', '--control', sock, '--', bin.lines!, '--lines', '12', ':::', bin.crash!, '--lines', '12'],
      { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    try {
      const ctl = (args: string[]) => spawnSync(process.execPath, [...cli(), 'ctl', sock, ...args], { cwd: REPO, encoding: 'utf8' });
      let st: { stage: string; leader: { pid: number }; follower: { pid: number; state: string }; events: { recorded: number; consumed: number }; ring: { size: number }; retirements: { reason: string; event: number }[] } | null = null;
      await eventually(() => {
        if (!existsSync(sock)) return false;
        const r = ctl(['status', '--json']);
        if (r.status === 0) st = JSON.parse(r.stdout);
        return st !== null && st.retirements.length > 0;
      }, 'the crashing follower to be retired');
      expect(st, 'status answered').to.not.equal(null);
      expect(st!.leader.pid).to.be.above(0);
      expect(st!.follower.pid).to.be.above(0);
      expect(st!.retirements.map((x) => x.reason)).to.deep.equal(['crash']);
      expect(st!.stage).to.equal('single leader');
      expect(st!.follower.state).to.equal('retired');
      expect(st!.events.recorded).to.be.at.least(st!.events.consumed);
      expect(st!.ring.size).to.be.above(0);
      // Only this user may talk to the monitor.
      expect(statSync(sock).mode & 0o777).to.equal(0o600);
      const promote = ctl(['promote']);
      // The follower is gone: there is nothing to promote, and the monitor says why.
      expect(promote.status).to.equal(1);
      expect(promote.stderr).to.contain('promote needs the outdated leader stage (now: single leader)');
      const human = ctl(['status']);
      expect(human.status).to.equal(0);
      expect(human.stdout).to.match(/stage: +single leader/);
      expect(human.stdout).to.match(/crash at leader event #\d+/);
    } finally {
      child.stdin!.end();
      expect(await exited).to.equal(0);
    }
  });

  it('without --rules, the follower runs the generated module of an empty rule file (there is no built-in matcher)', async () => {
    const log = join(dir, 'no-rules.log');
    const run = startRun(['--follower-log', log, '--', bin.lines!, '--lines', '2', ':::', bin.lines!, '--lines', '2'], 'pipe');
    try {
      // Both versions now wait for stdin (the follower for the leader's read).
      await run.waitFor('line 1');
      const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
      const read = (p: string, f: string): string => {
        try {
          return readFileSync(join('/proc', p, f), 'latin1');
        } catch {
          return '';
        }
      };
      const follower = pids.find((p) => read(p, 'cmdline').startsWith(`${bin.lines!}\0`) && read(p, 'environ').split('\0').includes(`${MVR_ENV_ROLE}=follower`));
      expect(follower, 'the follower process').to.be.a('string');
      const rules = read(follower!, 'environ').split('\0').find((e) => e.startsWith(`${MVR_ENV_RULES}=`))!.slice(MVR_ENV_RULES.length + 1);
      expect(rules).to.match(/\/rules-empty-[0-9a-f]+\/rules\.so$/);
      expect(read(follower!, 'maps')).to.contain(rules);
    } finally {
      run.child.stdin!.end();
    }
    expect(await run.exited).to.equal(0);
    expect(run.err, run.err).to.not.match(/retired/);
    // Without rules, a real difference is still a divergence (the default rule of the generated module).
    const d = mvrcRun(['--', bin.lines!, '--lines', '10', ':::', bin.diff!, '--lines', '10']);
    expect(d.stderr).to.match(/retired: divergence/);
    expect(d.stderr).to.contain('rule:     default rule (a syscall matches itself)');
  });

  it('builds the empty rule file\'s module once (cache)', () => {
    const cacheDir = join(dir, 'rules-cache');
    const io = { stdout: () => {}, stderr: (t: string) => void process.stderr.write(t), cwd: dir, isTTY: false, env: process.env };
    const first = buildEmptyRules(io, cacheDir);
    expect(first).to.be.a('string').and.match(/rules-empty-[0-9a-f]+\/rules\.so$/);
    const built = statSync(first!).mtimeMs;
    expect(buildEmptyRules(io, cacheDir)).to.equal(first);
    expect(statSync(first!).mtimeMs).to.equal(built);
    expect(readdirSync(cacheDir)).to.deep.equal([first!.split('/').at(-2)]);
  });

  it('builds the runtime once per content (cache), and again when a source changes', () => {
    const src = join(dir, 'runtime-src');
    cpSync(join(REPO, 'runtime-c'), src, { recursive: true, filter: (p) => !/build(-san)?$/.test(p) });
    const cacheDir = join(dir, 'cache');
    const env = { ...process.env };
    delete env['MVRC_RUNTIME_DIR'];
    const opts = { sourceDir: src, cacheDir, env };
    const first = buildRuntime(opts);
    expect(first.built).to.equal(true);
    expect(existsSync(first.agent) && existsSync(first.monitor)).to.equal(true);
    const again = buildRuntime(opts);
    expect(again).to.deep.equal({ ...first, built: false });
    appendFileSync(join(src, 'common', 'mvr_util.c'), '/* changed */\n');
    // A build killed mid-way left its temporary directory: an old one is removed by the next
    // build, a recent one (a build running beside this one) is left alone.
    const stale = join(cacheDir, '.build-killed-x');
    const running = join(cacheDir, '.build-running-x');
    mkdirSync(stale);
    mkdirSync(running);
    const hourAgo = (Date.now() - 2 * 3600_000) / 1000;
    utimesSync(stale, hourAgo, hourAgo);
    const changed = buildRuntime(opts);
    expect(changed.built).to.equal(true);
    expect(changed.dir).to.not.equal(first.dir);
    expect(existsSync(stale), 'stale build directory').to.equal(false);
    expect(existsSync(running), 'a running build directory').to.equal(true);
    // A compiler error is reported with the compiler's message, not thrown as a crash.
    appendFileSync(join(src, 'common', 'mvr_util.c'), 'int broken(void) { return }\n');
    expect(() => buildRuntime(opts)).to.throw(RuntimeBuildError, /building the mvr runtime failed[\s\S]*mvr_util\.c/);
  });

  it('rejects bad command lines with usage errors', () => {
    expect(() => parseRunArgs([])).to.throw(/no leader command/);
    expect(() => parseRunArgs(['--', 'a', ':::'])).to.throw(/no follower command/);
    expect(() => parseRunArgs(['--ring-size', 'x', '--', 'a'])).to.throw(/positive integer/);
    expect(() => parseRunArgs(['--bogus', '--', 'a'])).to.throw(/unknown option/);
    expect(() => parseRunArgs(['--state', 'handoff', '--', 'a'])).to.throw(/--state applies to a single leader started for later updates/);
    expect(() => parseRunArgs(['--control', 's', '--state', 'handoff', '--', 'a', ':::', 'b'])).to.throw(/--state applies to a single leader/);
    expect(() => parseRunArgs(['--control', 's', '--state', 'later', '--', 'a'])).to.throw(/--state expects replay or handoff/);
    expect(() => parseRunArgs(['--control', 's', '--state', 'replay', '--journal-size', '0', '--', 'a'])).to.throw(/needs the journal/);
    expect(parseRunArgs(['--control', 's', '--state=handoff', '--', 'a'])).to.deep.include({ state: 'handoff', control: 's' });
    expect(parseRunArgs(['--deadline-ms=50', '--leader-env', 'A=1', '--', 'a', 'b', ':::', 'c'])).to.deep.include({
      deadlineMs: 50, leaderEnv: ['A=1'], leader: ['a', 'b'], follower: ['c'],
    });
    const r = mvrcRun(['--', 'a', ':::']);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.contain('no follower command');
    // A leader that cannot be started: the exec failure is reported, status 127 as in a shell.
    const missing = join(dir, 'no-such-program');
    const m = mvrcRun(['--', missing, ':::', bin.lines!]);
    expect(m.status).to.equal(127);
    expect(m.stderr).to.contain(`cannot run '${missing}'`);
  });
});
