// The time a new version sees when it catches up by replay (runtime-c/agent/clock.c): its own clock
// reads (which std/time allows) give the old version's time, consistent with the replayed stream,
// so its timers fire at the same events as the old version's did. Fixture: test/fixtures/mvr-cron.c,
// a line counter with a 200 ms timer; the new version decides its timer from a clock read of its own.
import { expect } from 'chai';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, eventually, REPO, tempDir } from './helpers/cli.ts';
import { ctl, status, until } from './helpers/ctl.ts';

const CFLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O1'];
const FIXTURE = join(REPO, 'test', 'fixtures', 'mvr-cron.c');
const CLOCKS = join(REPO, 'test', 'fixtures', 'mvr-clocks.c');

describe('runtime: a new version replaying the journal sees the old version\'s time', function () {
  this.timeout(120_000);
  let dir: string;
  let n = 0;
  const bin: Record<string, string> = {};
  const running: ChildProcess[] = [];

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    dir = tempDir('mvrc-clock-');
    const variants: Record<string, string[]> = {
      v1: [],
      v2: ['-DSECOND_READ'],
      // A real change of behaviour: a timer twice as frequent must still be caught.
      v2fast: ['-DSECOND_READ', '-DINTERVAL_MS=100'],
    };
    for (const [name, defs] of Object.entries(variants)) {
      bin[name] = join(dir, name);
      execFileSync('cc', [...CFLAGS, ...defs, '-o', bin[name]!, FIXTURE]);
    }
    bin.clocks = join(dir, 'clocks');
    execFileSync('cc', [...CFLAGS, '-o', bin.clocks, CLOCKS]);
    writeFileSync(join(dir, 'time.mvr'), 'import "std/time"\n');
  });
  afterEach(() => {
    for (const p of running.splice(0)) p.kill('SIGKILL');
  });

  /** v1 as a single updatable leader, fed lines 50 ms apart over about a second: its timer ticks
   *  every fourth or fifth line. Returns the socket once all lines were answered. */
  async function leaderWithHistory(): Promise<{ sock: string; child: ChildProcess; out: () => string }> {
    const sock = join(dir, `c${++n}.sock`);
    const child = spawn(process.execPath, [CLI, 'run', '--control', sock, '--state-dir', join(dir, `s${n}`), '--', bin.v1!], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    running.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    let exited = false;
    child.once('exit', () => (exited = true));
    await eventually(() => existsSync(sock) || exited, 'the control socket');
    expect(exited, err).to.equal(false);
    expect(status(sock).stage).to.equal('single leader');
    for (let i = 1; i <= 20; i++) {
      child.stdin!.write('x\n');
      await new Promise((r) => setTimeout(r, 50)); // spacing the lines is what makes the timer tick
    }
    await eventually(() => out.includes('line 20 '), 'the leader to answer 20 lines');
    const ticks = Number(/line 20 tick (\d+)/.exec(out)![1]);
    // Ticks happened on some lines and not on others: the timer is what the replay must reproduce.
    expect(ticks, out).to.be.above(1).and.below(20);
    return { sock, child, out: () => out };
  }

  it('a new version whose timer reads the clock on its own catches up without a divergence and follows live', async () => {
    const { sock, child, out } = await leaderWithHistory();
    const up = ctl(sock, ['update', '--rules', join(dir, 'time.mvr'), '--state', 'replay', '--', bin.v2!]);
    expect(up.status, up.stderr).to.equal(0);
    const caught = await until(sock, (s) => s.catchUp?.done === true || s.retirements.length > 0, 'catch-up');
    expect(caught.retirements, JSON.stringify(caught.retirements, null, 1)).to.deep.equal([]);
    expect(caught.catchUp!.done).to.equal(true);
    // Live again, after the catch-up: more lines, still the same ticks on both sides.
    for (let i = 0; i < 6; i++) {
      child.stdin!.write('y\n');
      await new Promise((r) => setTimeout(r, 50));
    }
    await eventually(() => out().includes('line 26 '), 'the leader to answer 26 lines');
    const s = status(sock);
    expect(s.retirements).to.deep.equal([]);
    expect(s.stage).to.equal('outdated leader');
    expect(s.follower).to.deep.include({ state: 'following' });
  });

  it('a new version whose timer really fires at other lines is still retired at the first differing answer', async () => {
    const { sock } = await leaderWithHistory();
    const up = ctl(sock, ['update', '--rules', join(dir, 'time.mvr'), '--state', 'replay', '--', bin.v2fast!]);
    expect(up.status, up.stderr).to.equal(0);
    const s = await until(sock, (st) => st.retirements.length > 0, 'the retirement');
    expect(s.retirements[0]!.reason).to.equal('divergence');
    expect(s.retirements[0]!.report).to.match(/write\(1, "line \d+ tick \d+\\n"/);
  });

  it('the leader records each clock read compactly, and a replaying version gets every value exactly', async () => {
    const sock = join(dir, `c${++n}.sock`);
    const child = spawn(process.execPath, [CLI, 'run', '--control', sock, '--state-dir', join(dir, `s${n}`), '--', bin.clocks!], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    running.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await eventually(() => existsSync(sock) || child.exitCode !== null, 'the control socket');
    child.stdin!.write('x\n');
    await eventually(() => out.split('\n').length > 1, 'the first answer');
    const before = status(sock).journal!.used;
    const LINES = 10;
    for (let i = 0; i < LINES; i++) child.stdin!.write('x\n');
    await eventually(() => out.split('\n').length > LINES + 1, 'the answers');
    // 100 clock reads per line (5 kinds, 20 rounds) beside a read and a write: a whole event per
    // read took 136 bytes or more; a compact record takes 48.
    const perRead = (status(sock).journal!.used - before) / (LINES * 100);
    expect(perRead, `journal bytes per clock read`).to.be.below(64);
    const up = ctl(sock, ['update', '--state', 'replay', '--', bin.clocks!]);
    expect(up.status, up.stderr).to.equal(0);
    const caught = await until(sock, (s) => s.catchUp?.done === true || s.retirements.length > 0, 'catch-up');
    expect(caught.retirements, JSON.stringify(caught.retirements, null, 1)).to.deep.equal([]);
    const log = /log: (\S+)/.exec(ctl(sock, ['status']).stdout)![1]!; // the new version's output
    await eventually(() => existsSync(log) && readFileSync(log, 'utf8').split('\n').length > LINES + 1, 'the new version to answer every replayed line');
    // Same values to the nanosecond, read by the new version long after the leader read them.
    expect(readFileSync(log, 'utf8')).to.equal(out);
    expect(out).to.match(/^R \d+\.\d{9} M \d+\.\d{9} G \d+\.\d{6} T (\d+) \1 \1\n/);
  });
});
