// End-to-end tests of `mvrc record` (compiler/cli/record.ts, the monitor's --record): real
// programs recorded through the bundled CLI, their traces read back with the trace reader
// (compiler/traces/trace.ts). The fixture test/fixtures/mvr-record.c writes, reads a file, handles a
// signal, runs a thread and exits with status 3.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { parseJsonTrace, type Trace, type TraceEvent } from '../compiler/traces/trace.ts';
import { mvrc, REPO, tempDir } from './helpers/cli.ts';
import { MVR_TRACE_FORMAT_VERSION } from '../compiler/core/abi.generated.ts';

const CFLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O1', '-pthread'];

function readTrace(path: string): { trace: Trace; diags: string[]; lines: string[] } {
  const text = readFileSync(path, 'utf8');
  const bag = new DiagnosticBag();
  const trace = parseJsonTrace({ path, text }, bag);
  return { trace, diags: bag.items.map((d) => d.message), lines: text.split('\n').filter((l) => l !== '') };
}

const text = (b: Uint8Array | null | undefined): string => (b ? Buffer.from(b).toString('utf8') : '<none>');
const writesTo = (events: TraceEvent[], fd: bigint): TraceEvent[] => events.filter((e) => e.name === 'write' && e.args[0] === fd);

describe('mvrc record', function () {
  this.timeout(120_000);
  let dir: string;
  let bin: string;
  let input: string;
  const content = 'file content for the trace\n';

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    dir = tempDir('mvrc-record-');
    bin = join(dir, 'mvr-record');
    execFileSync('cc', [...CFLAGS, '-o', bin, join(REPO, 'test', 'fixtures', 'mvr-record.c')]);
    input = join(dir, 'input.txt');
    writeFileSync(input, content);
  });

  describe('a recorded program', () => {
    let out: string;
    let r: ReturnType<typeof mvrc>;
    let t: ReturnType<typeof readTrace>;

    before(() => {
      out = join(dir, 'small.jsonl');
      r = mvrc(['record', '-o', out, '--', bin, input]);
      t = readTrace(out);
    });

    it("exits with the program's status, and the program's output is untouched", () => {
      expect(r.status, r.stderr).to.equal(3);
      expect(r.stdout).to.equal('hello\nsignal\nthread\n');
      expect(r.stderr).to.equal('');
    });

    it('writes a trace the reader accepts: header with the command, then events, the end status last', () => {
      expect(t.diags).to.deep.equal([]);
      expect(JSON.parse(t.lines[0]!)).to.deep.equal({ mvrcTrace: MVR_TRACE_FORMAT_VERSION, command: [bin, input], arch: 'x86_64' });
      expect(t.trace.command).to.deep.equal([bin, input]);
      expect(JSON.parse(t.lines.at(-1)!)).to.deep.equal({ end: true, status: 3 });
    });

    it('records the write with its bytes and its result', () => {
      const main = t.trace.events.filter((e) => e.thread === 0);
      const hello = writesTo(main, 1n)[0];
      expect(hello, 'a write to fd 1').to.not.equal(undefined);
      expect(hello!.nr).to.equal(1);
      expect(text(hello!.bufs[1])).to.equal('hello\n');
      expect(hello!.args[2]).to.equal(6n);
      expect(hello!.ret).to.equal(6n);
    });

    it('records the open with its path, the read with the bytes it returned, and the close', () => {
      const main = t.trace.events.filter((e) => e.thread === 0);
      const open = main.find((e) => (e.name === 'openat' || e.name === 'open') && text(e.bufs[e.name === 'openat' ? 1 : 0]) === input);
      expect(open, `an open of ${input} in ${main.map((e) => e.name).join(' ')}`).to.not.equal(undefined);
      expect(open!.ret >= 0n).to.equal(true);
      const fd = open!.ret;
      const read = main.find((e) => e.name === 'read' && e.args[0] === fd && e.index > open!.index);
      expect(read, 'a read of the opened file').to.not.equal(undefined);
      expect(read!.ret).to.equal(BigInt(content.length));
      expect(text(read!.bufs[1])).to.equal(content);
      const close = main.find((e) => e.name === 'close' && e.args[0] === fd && e.index > read!.index);
      expect(close?.ret).to.equal(0n);
    });

    it("records a handled signal before the handler's first event", () => {
      expect(t.trace.signals.map((s) => [s.thread, s.signal])).to.deep.equal([[0, 10]]);
      const sig = t.trace.signals[0]!;
      const next = t.trace.events.find((e) => e.thread === 0 && e.index === sig.before);
      expect(next?.name).to.equal('write');
      expect(text(next?.bufs[1])).to.equal('signal\n');
    });

    it("records the thread's events in its own stream, and the exit as a call that does not return", () => {
      const th = t.trace.events.filter((e) => e.thread === 1);
      expect(th.length).to.be.greaterThan(0);
      expect(th[0]!.index).to.equal(0n);
      expect(writesTo(th, 1n).map((e) => text(e.bufs[1]))).to.deep.equal(['thread\n']);
      expect(t.trace.events.filter((e) => e.thread === 0 && e.name === 'write').map((e) => text(e.bufs[1]))).to.not.include('thread\n');
      const main = t.trace.events.filter((e) => e.thread === 0);
      const last = main.at(-1)!;
      expect(last.name).to.equal('exit_group');
      expect(last.args[0]).to.equal(3n);
      expect(last.noRet).to.equal(true);
    });
  });

  it('loses no event when the program outruns a small ring', () => {
    const out = join(dir, 'many.jsonl');
    const lines = 5000; // ~1 MB of records through a 64 KiB ring
    const r = mvrc(['record', '-o', out, '--ring-size', '65536', '--', bin, input, String(lines)]);
    expect(r.status, r.stderr).to.equal(3);
    const t = readTrace(out);
    expect(t.diags).to.deep.equal([]); // the reader checks every thread's indices run from 0 without a gap
    const long = writesTo(t.trace.events, 1n).filter((e) => e.bufs[1]?.length === 100);
    expect(long.length).to.equal(lines);
    expect(long.every((e) => e.ret === 100n && text(e.bufs[1]) === `${'x'.repeat(99)}\n`)).to.equal(true);
    expect(JSON.parse(t.lines.at(-1)!)).to.deep.equal({ end: true, status: 3 });
  });

  it('two recordings of a program with a thread verify with no rules, thread pair by thread pair (mvrc verify)', () => {
    // test/fixtures/record-thread.c: the worker writes "worker\n", or "worker two\n" with -DWORKER_TWO.
    const build = (name: string, defs: string[]): string => {
      execFileSync('cc', [...CFLAGS, ...defs, '-o', join(dir, name), join(REPO, 'test', 'fixtures', 'record-thread.c')]);
      return join(dir, name);
    };
    const v1 = build('thr-v1', []);
    const v2 = build('thr-v2', ['-DWORKER_TWO']);
    for (const [out, prog] of [['thr-a.jsonl', v1], ['thr-b.jsonl', v1], ['thr-c.jsonl', v2]] as const) {
      const r = mvrc(['record', '-o', join(dir, out), '--', prog]);
      expect(r.status, r.stderr).to.equal(0);
    }
    writeFileSync(join(dir, 'none.mvr'), '// the default match only\n');
    const same = mvrc(['verify', 'none.mvr', '--leader-trace', 'thr-a.jsonl', '--follower-trace', 'thr-b.jsonl'], { cwd: dir });
    expect(same.status, same.stderr).to.equal(0);
    expect(same.stdout).to.match(/^verified: (\d+) follower calls against \1 leader events in 2 thread pairs; rules used: default\n$/);
    // the worker's other line is a divergence in thread 1, at the worker's write
    const diff = mvrc(['verify', 'none.mvr', '--leader-trace', 'thr-a.jsonl', '--follower-trace', 'thr-c.jsonl'], { cwd: dir });
    expect(diff.status).to.equal(1);
    const lines = readFileSync(join(dir, 'thr-c.jsonl'), 'utf8').split('\n');
    const at = lines.findIndex((l) => l.startsWith('{"thread":1,') && l.includes('"name":"write"')) + 1;
    expect(diff.stderr).to.match(new RegExp(`^thr-c\\.jsonl:${at}:1: error MVR4101: divergence: .*follower call \\d+ of thread 1: write\\(1, "worker two\\\\n", 11\\) = 11 vs leader event \\d+ of thread 1: write\\(1, "worker\\\\n", 7\\)`, 'm'));
  });

  it('ends with 128+N, in the trace and as its own status, when the program is killed by signal N', () => {
    execFileSync('cc', [...CFLAGS, '-o', join(dir, 'killed'), join(REPO, 'test', 'fixtures', 'record-killed.c')]);
    const out = join(dir, 'killed.jsonl');
    const r = mvrc(['record', '-o', out, '--', join(dir, 'killed')]);
    expect(r.status, r.stderr).to.equal(128 + 15);
    const t = readTrace(out);
    expect(t.diags).to.deep.equal([]);
    expect(writesTo(t.trace.events, 1n).map((e) => text(e.bufs[1]))).to.deep.equal(['x']);
    expect(JSON.parse(t.lines.at(-1)!)).to.deep.equal({ end: true, status: 128 + 15 });
  });

  it('ends in status 2 with the reason when the trace cannot be written (disk full)', function () {
    if (!existsSync('/dev/full')) this.skip();
    const r = mvrc(['record', '-o', '/dev/full', '--', bin, input]);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/^mvrc record: error: cannot write the trace \/dev\/full: No space left on device/m);
    expect(r.stdout, 'the program itself ran to its end').to.equal('hello\nsignal\nthread\n');
  });

  describe('usage and environment errors: status 2, a message naming the problem, no trace', () => {
    it('no -o', () => {
      const r = mvrc(['record', '--', bin, input]);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.match(/^mvrc record: error: no trace file: give it with -o TRACE$/m);
    });

    it('no command', () => {
      const out = join(dir, 'none.jsonl');
      for (const args of [['-o', out, '--'], ['-o', out]]) {
        const r = mvrc(['record', ...args]);
        expect(r.status).to.equal(2);
        expect(r.stderr).to.match(/^mvrc record: error: no command to record/m);
      }
      expect(existsSync(out)).to.equal(false);
    });

    it('a trace in a directory that does not exist', () => {
      const out = join(dir, 'missing', 'trace.jsonl');
      const r = mvrc(['record', '-o', out, '--', bin, input]);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.match(/^mvrc record: error: cannot write the trace .*trace\.jsonl: its directory .*missing does not exist$/m);
      expect(r.stdout, 'the program did not run').to.equal('');
    });

    it('a command that does not exist', () => {
      const out = join(dir, 'notfound.jsonl');
      const r = mvrc(['record', '-o', out, '--', 'mvrc-no-such-command', 'x']);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.match(/^mvrc record: error: command not found: 'mvrc-no-such-command'/m);
      const r2 = mvrc(['record', '-o', out, '--', join(dir, 'no-such-program')]);
      expect(r2.status).to.equal(2);
      expect(r2.stderr).to.match(/^mvrc record: error: cannot run '.*no-such-program': no such executable file$/m);
      expect(existsSync(out)).to.equal(false);
    });

    it('an unknown option or a bad ring size', () => {
      const r = mvrc(['record', '-o', join(dir, 'x.jsonl'), '--frobnicate', '--', bin]);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.match(/^mvrc record: error: unknown option '--frobnicate'$/m);
      const r2 = mvrc(['record', '-o', join(dir, 'x.jsonl'), '--ring-size', '1000', '--', bin]);
      expect(r2.status).to.equal(2);
      expect(r2.stderr).to.match(/--ring-size must be at least 65536/);
      expect(r.stderr + r2.stderr).to.not.match(/\n\s+at /); // no stack trace
    });
  });
});
