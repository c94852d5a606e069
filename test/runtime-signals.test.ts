// End-to-end tests of signals under `mvrc run` (docs/runtime.md, "Signals"): the leader is blocked
// in each call a signal can end (rt_sigsuspend, sigwaitinfo, pause, ppoll, pselect6, epoll_pwait
// with masks, nanosleep, clock_nanosleep, a read with and without SA_RESTART) when the operator's
// signal reaches it; the follower, which is sent nothing, must run the handler at the same point
// and end the call as the leader did (the fixture prints both, so any other behaviour is other
// bytes). Real processes; the fixture is test/fixtures/mvr-sigwait.c.
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, eventually, tempDir } from './helpers/cli.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CFLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O1'];

function startRun(args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' (npm test does it)`);
  const child = spawn(process.execPath, [CLI, 'run', ...args], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  const run = { child, out: '', err: '', closed: false, exited: new Promise<number | null>((res) => child.once('exit', (c) => res(c))) };
  child.stdout!.on('data', (d: Buffer) => (run.out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (run.err += d.toString()));
  child.once('close', () => (run.closed = true));
  const waitFor = async (text: string | RegExp, where: () => string = () => run.out) => {
    const seen = () => (typeof text === 'string' ? where().includes(text) : text.test(where()));
    await eventually(() => seen() || run.closed, String(text));
    expect(seen(), `${String(text)} in:\n${where()}\n${run.err}`).to.equal(true);
  };
  return Object.assign(run, { waitFor });
}

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

/** Whether `pid` sleeps in system call `nr` (the leader makes it from the agent's SIGSYS handler or
 *  its fast path: the kernel shows the call itself). */
function blockedIn(pid: number, nr: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0] === String(nr) && / S /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

// Each step: the command, the system call the leader must be blocked in (x86-64 numbers), the
// signal sent to mvrc run (none: the call ends by itself), input written after the signal, and the
// lines the program prints once the call ended. `from=` is the monitor's pid, which sent it.
const STEPS: { cmd: string; nr: number; sig?: NodeJS.Signals; input?: string; expect: RegExp }[] = [
  { cmd: 'suspend', nr: 130, sig: 'SIGUSR1', expect: /^handler: SIGUSR1 code=0 from=\d+\nrt_sigsuspend: -1 EINTR\n$/ },
  { cmd: 'sigwait', nr: 128, sig: 'SIGUSR2', expect: /^rt_sigtimedwait: SIGUSR2 code=0 from=\d+\n$/ },
  { cmd: 'pause', nr: 34, sig: 'SIGUSR1', expect: /^handler: SIGUSR1 code=0 from=\d+\npause: -1 EINTR\n$/ },
  { cmd: 'ppoll', nr: 271, sig: 'SIGUSR1', expect: /^handler: SIGUSR1 code=0 from=\d+\nppoll: -1 EINTR\n$/ },
  { cmd: 'pselect', nr: 270, sig: 'SIGUSR1', expect: /^handler: SIGUSR1 code=0 from=\d+\npselect6: -1 EINTR\n$/ },
  { cmd: 'epoll_pwait', nr: 281, sig: 'SIGUSR1', expect: /^handler: SIGUSR1 code=0 from=\d+\nepoll_pwait: -1 EINTR\n$/ },
  { cmd: 'nanosleep', nr: 35, sig: 'SIGUSR2', expect: /^handler: SIGUSR2 code=0 from=\d+\nnanosleep: -1 EINTR rem=5\d\.\d{9}\n$/ },
  { cmd: 'clock_nanosleep', nr: 230, sig: 'SIGUSR1', expect: /^handler: SIGUSR1 code=0 from=\d+\nclock_nanosleep: -1 EINTR rem=5\d\.\d{9}\n$/ },
  { cmd: 'nap', nr: -1, expect: /^nap: 0\n$/ },
  // SA_RESTART: the handler runs, the read goes on and gets the line written after it.
  { cmd: 'read', nr: 0, sig: 'SIGUSR1', input: 'data\n', expect: /^handler: SIGUSR1 code=0 from=\d+\nread: 5\n$/ },
  // Without SA_RESTART: the read fails with EINTR.
  { cmd: 'read', nr: 0, sig: 'SIGUSR2', expect: /^handler: SIGUSR2 code=0 from=\d+\nread: -1 EINTR\n$/ },
];

describe('runtime: signals whatever the leader was blocked in', function () {
  this.timeout(180_000);
  let dir: string;
  let bin: string;
  let binF: string; // the same program under another name: the leader's pid is found by its name

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    dir = tempDir('mvrc-signals-');
    bin = join(dir, 'sigwait');
    binF = join(dir, 'sigwait-follower');
    execFileSync('cc', [...CFLAGS, '-o', bin, join(REPO, 'test', 'fixtures', 'mvr-sigwait.c')]);
    copyFileSync(bin, binF);
  });

  afterEach(() => {
    for (const p of [...processesOf(bin), ...processesOf(binF)]) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  });

  /** Sends `step`'s command, waits for the leader to block in its call, signals mvrc run, and
   *  returns what the program printed after "blocking in ...". */
  async function runStep(run: ReturnType<typeof startRun>, leader: number, step: (typeof STEPS)[number]) {
    const start = run.out.length;
    run.child.stdin!.write(`${step.cmd}\n`);
    await run.waitFor(`blocking in ${step.cmd}\n`, () => run.out.slice(start));
    const mark = `blocking in ${step.cmd}\n`;
    const after = run.out.indexOf(mark, start) + mark.length;
    if (step.sig) {
      await eventually(() => blockedIn(leader, step.nr), `the leader blocked in system call ${step.nr} (${step.cmd})`);
      run.child.kill(step.sig);
      if (step.input) {
        await run.waitFor('handler: ', () => run.out.slice(after));
        run.child.stdin!.write(step.input);
      }
    }
    await run.waitFor(step.expect, () => run.out.slice(after));
    return run.out.slice(after);
  }

  it('the follower runs each handler where the leader did and ends each call as the leader\'s ended: not retired', async () => {
    const log = join(dir, 'follower.log');
    const run = startRun(['--follower-log', log, '--', bin, ':::', binF]);
    await run.waitFor('ready\n');
    const [leader] = processesOf(bin);
    expect(leader, 'the leader runs').to.be.a('number');
    for (const step of STEPS) {
      const got = await runStep(run, leader!, step);
      expect(got, `${step.cmd} ${step.sig ?? ''}\n${run.err}`).to.match(step.expect);
    }
    run.child.stdin!.write('quit\n');
    expect(await run.exited, run.err).to.equal(0);
    expect(run.err).to.not.match(/retired|took over/);
    // The follower wrote every line the leader wrote, in the same order (its writes were compared
    // with the leader's: a handler run elsewhere, or a call ended otherwise, would have retired it).
    expect(readFileSync(log, 'utf8')).to.equal(run.out);
    expect(run.out).to.match(/bye\n$/);
  });

  it('a follower whose handler writes other bytes is retired with a report naming the leader\'s event', async () => {
    const run = startRun(['--', bin, ':::', binF, 'other']);
    await run.waitFor('ready\n');
    const [leader] = processesOf(bin);
    const got = await runStep(run, leader!, STEPS[0]!);
    expect(got).to.match(STEPS[0]!.expect); // the leader serves on
    await run.waitFor(/retired(.|\n)*rule:/, () => run.err);
    // The event is the leader's handler's write (#6: after pipe, epoll_create1, epoll_ctl, the
    // "ready" write, the command's read and the "blocking" write), which the follower's replaces.
    expect(run.err).to.match(/follower \(pid \d+\) retired: divergence at leader event #6\n/);
    expect(run.err).to.match(/leader: +write\(1, "handler: SIGUSR1 code=0 from=/);
    expect(run.err).to.contain('follower: write(1, "handler: SIGUSR1 (other)\\n"');
    run.child.stdin!.write('quit\n');
    expect(await run.exited, run.err).to.equal(0);
  });
});
