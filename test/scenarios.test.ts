// The published scenarios (Varan ATC'17, MVEDSUA ASPLOS'19), each run through the reference
// interpreter and through the generated C module (harness built with ASan + UBSan). The expected
// actions are worked out by hand from docs/semantics.md, not taken from either implementation.
import { expect } from 'chai';
import { runInterpreterText, leaderLine as L, followerLine as F } from '../codegen-c/harness/driver.ts';
import { runHarness } from '../codegen-c/harness/build.ts';
import { harnessFor, loadRules, nr, removeScratchDirs } from '../codegen-c/harness/testing.ts';
import { UnsupportedBlockError } from '../compiler/semantics/interpreter.ts';

function scenario(rules: string, stream: string[], expected: string[]): void {
  const { program, automaton, dir } = loadRules(rules);
  const input = ['R', ...stream].join('\n') + '\n';
  const want = ['reset', ...expected].join('\n') + '\n';
  expect(runInterpreterText(automaton, input), 'interpreter').to.equal(want);
  const exe = harnessFor(program, automaton, dir);
  expect(runHarness(exe, input), 'generated C').to.equal(want);
}

const hex = (s: string) => Buffer.from(s).toString('hex');

describe('published scenarios (interpreter and generated C)', function () {
  this.timeout(120_000);
  after(removeScratchDirs);

  it('jemalloc: one leader write becomes two follower writes', () => {
    // Rule 0 applies only when the follower's first write is shorter than the leader's.
    const rules = 'write(1,_,n) => write(1,_,n1) if (n1 < n) -> do { ret = n1; }, write(1,_,_)\n';
    scenario(
      rules,
      [
        L({ nr: nr('write'), args: [1, 0, 11], ret: 11, bufs: { 1: 'hello world' } }),
        F({ nr: nr('write'), args: [1, 0, 6], bufs: { 1: 'hello ' } }),
        F({ nr: nr('write'), args: [1, 0, 5], bufs: { 1: 'world' } }),
        // an unsplit write takes the default match
        L({ nr: nr('write'), args: [1, 0, 3], ret: 3, bufs: { 1: 'bye' } }),
        F({ nr: nr('write'), args: [1, 0, 3], bufs: { 1: 'bye' } }),
        'E',
        'X',
      ],
      ['ok r=0 f=match ev=0 ret=6 L=0:m', 'ok r=0 f=emulate ret=5', 'ok r=D f=match ev=1 ret=3 L=1:m', 'fin ok'],
    );
  });

  it('valgrind: open becomes dup + lseek', () => {
    scenario(
      'open(_,_,_) => dup(_), lseek(_,_,_)\n',
      [
        L({ nr: nr('open'), args: [0, 0, 0], ret: 5, bufs: { 0: '/etc/x' } }),
        F({ nr: nr('dup'), args: [3] }),
        F({ nr: nr('lseek'), args: [4, 0, 0] }),
        'E',
        'X',
      ],
      // dup is local: executed; lseek acts on a shared offset: emulated (0); the open is skipped.
      ['ok r=0 f=exec', 'ok r=0 f=emulate ret=0 L=0:k', 'fin ok'],
    );
  });

  // (The same shape as LANGUAGE.md §7's four rt_sigaction calls reordered, on a call the runtime
  // records: rt_sigaction never reaches the matcher, and the checker refuses rules on it.)
  it('four limit queries reordered with labels, plus one follower-only query', () => {
    const rules =
      'getrlimit(_) as segv, getrlimit(_) as ill, getrlimit(_) as bus,\n' +
      '  getrlimit(_) as fpe => ill, getrlimit(_), bus, fpe, segv\n';
    const sig = (n: number) => L({ nr: nr('getrlimit'), args: [n, 0], ret: 0 });
    const call = (n: number) => F({ nr: nr('getrlimit'), args: [n, 0] });
    scenario(
      rules,
      [sig(11), sig(4), sig(7), sig(8), call(4), call(15), call(7), call(8), call(11), 'E', 'X'],
      [
        // segv is passed over and kept for later (STORE), ill is given (MATCH)
        'ok r=0 f=match ev=1 ret=0 L=0:s,1:m',
        // no unlabelled left item is left: the extra query is the follower's own (read-only: EXEC)
        'ok r=0 f=exec',
        'ok r=0 f=match ev=2 ret=0 L=2:m',
        'ok r=0 f=match ev=3 ret=0 L=3:m',
        'ok r=0 f=match ev=0 ret=0 L=0:m',
        'fin ok',
      ],
    );
  });

  it('an extra gettimeofday in the follower (nothing => gettimeofday(_,_))', () => {
    scenario(
      'nothing => gettimeofday(_,_)\n',
      [
        L({ nr: nr('write'), args: [1, 0, 2], ret: 2, bufs: { 1: 'ok' } }),
        F({ nr: nr('gettimeofday'), args: [0, 0], caps: { 0: 16, 1: 8 } }),
        F({ nr: nr('write'), args: [1, 0, 2], bufs: { 1: 'ok' } }),
        F({ nr: nr('gettimeofday'), args: [0, 0], caps: { 0: 16, 1: 8 } }),
        'E',
        'X',
      ],
      // the second gettimeofday waits for the leader (an explicit rule might still apply) until it exits
      ['ok r=0 f=exec', 'ok r=D f=match ev=0 ret=2 L=0:m', 'need', 'ok r=0 f=exec', 'fin ok'],
    );
  });

  it('a leader-only rule (X => nothing) yields to the default: a follower that makes the call gets the leader\'s clock', () => {
    const ts = 'TIMESPEC16BYTES!';
    scenario(
      'clock_gettime(_, _) => nothing\n',
      [
        L({ nr: nr('clock_gettime'), args: [1, 0], ret: 0, bufs: { 1: ts } }),
        L({ nr: nr('write'), args: [1, 0, 2], ret: 2, bufs: { 1: 'ok' } }),
        L({ nr: nr('clock_gettime'), args: [1, 0], ret: 0, bufs: { 1: ts } }),
        L({ nr: nr('write'), args: [1, 0, 2], ret: 2, bufs: { 1: 'ok' } }),
        // the follower reads the clock too: the default match gives it the leader's time
        F({ nr: nr('clock_gettime'), args: [1, 0], caps: { 1: 16 } }),
        F({ nr: nr('write'), args: [1, 0, 2], bufs: { 1: 'ok' } }),
        // the follower does not read the clock here: the rule consumes the leader's read
        F({ nr: nr('write'), args: [1, 0, 2], bufs: { 1: 'ok' } }),
        'E',
        'X',
      ],
      [`ok r=D f=match ev=0 ret=0 out=1:${hex(ts)} L=0:m`, 'ok r=D f=match ev=1 ret=2 L=1:m', 'ok r=D f=match ev=3 ret=2 L=2:k,3:m', 'fin ok'],
    );
  });

  it('vsftpd: a command the new version knows is answered as unknown, like the old one did', () => {
    const rules = 'read(_,_,_), write(_,"500 Unknown command",_) => read(_,"FOOBAR\\r\\n",8), write(_,"500 Unknown command",_)\n';
    const reply = '500 Unknown command';
    scenario(
      rules,
      [
        L({ nr: nr('read'), args: [0, 0, 4096], ret: 10, bufs: { 1: 'SITE HELP\n' } }),
        L({ nr: nr('write'), args: [0, 0, reply.length], ret: reply.length, bufs: { 1: reply } }),
        F({ nr: nr('read'), args: [0, 0, 4096], caps: { 1: 4096 } }),
        F({ nr: nr('write'), args: [0, 0, reply.length], bufs: { 1: reply } }),
        'E',
        'X',
      ],
      [`ok r=0 f=match ev=0 ret=8 out=1:${hex('FOOBAR\r\n')} L=0:m`, `ok r=0 f=match ev=1 ret=${reply.length} L=1:m`, 'fin ok'],
    );
  });

  it('MVEDSUA: a typed PUT command is replayed as "bad-cmd" to the new version', () => {
    const rules = 'read(fd, s, _) if (s.startsWith("PUT-") && !s.startsWith("PUT-string ")) as r => r(fd, "bad-cmd\\n", 8)\n';
    scenario(
      rules,
      [
        L({ nr: nr('read'), args: [5, 0, 512], ret: 10, bufs: { 1: 'PUT-int 1\n' } }),
        F({ nr: nr('read'), args: [5, 0, 512], caps: { 1: 512 } }),
        // PUT-string is known to both versions: default match, the real bytes
        L({ nr: nr('read'), args: [5, 0, 512], ret: 13, bufs: { 1: 'PUT-string x\n' } }),
        F({ nr: nr('read'), args: [5, 0, 512], caps: { 1: 512 } }),
        // a follower read with a capacity of 4 gets at most 4 bytes of the rewrite
        L({ nr: nr('read'), args: [5, 0, 512], ret: 6, bufs: { 1: 'PUT-a\n' } }),
        F({ nr: nr('read'), args: [5, 0, 4], caps: { 1: 4 } }),
        'E',
        'X',
      ],
      [
        `ok r=0 f=match ev=0 ret=8 out=1:${hex('bad-cmd\n')} L=0:m`,
        `ok r=D f=match ev=1 ret=13 out=1:${hex('PUT-string x\n')} L=1:m`,
        `ok r=0 f=match ev=2 ret=4 out=1:${hex('bad-')} L=2:m`,
        'fin ok',
      ],
    );
  });

  it('a two-event left side waits for the second leader event (look-ahead), then skips what the follower never makes', () => {
    scenario(
      'write(1,_,_), write(1,_,_) => write(1,_,_)\n',
      [
        L({ nr: nr('write'), args: [1, 0, 2], ret: 2, bufs: { 1: 'ab' } }),
        F({ nr: nr('write'), args: [1, 0, 4], bufs: { 1: 'abcd' } }),
        L({ nr: nr('write'), args: [1, 0, 2], ret: 2, bufs: { 1: 'cd' } }),
        'E',
        'X',
      ],
      ['need', 'ok r=0 f=match ev=0 ret=2 L=0:m,1:k', 'fin ok'],
    );
  });

  it('a run of leader-only events longer than one step decides (64) is decided over several steps (progress)', () => {
    // The old version logs 100 lines to stderr before its reply; the new one logs nothing.
    const logs = Array.from({ length: 100 }, (_, i) => L({ nr: nr('write'), args: [2, 0, 4], ret: 4, bufs: { 1: `l${String(i).padStart(2, '0')}\n` } }));
    const skips = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${from + i}:k`).join(',');
    scenario(
      'write(2,_,_) => nothing\n',
      [...logs, L({ nr: nr('write'), args: [1, 0, 1], ret: 1, bufs: { 1: 'x' } }), F({ nr: nr('write'), args: [1, 0, 1], bufs: { 1: 'x' } }), 'E', 'X'],
      [`progress L=${skips(0, 64)}`, `ok r=D f=match ev=100 ret=1 L=${skips(64, 100)},100:m`, 'fin ok'],
    );
  });

  it('a follower that exits in the middle of a rule diverges at finish', () => {
    scenario(
      'open(_,_,_) => dup(_), lseek(_,_,_)\n',
      [L({ nr: nr('open'), args: [0, 0, 0], ret: 5, bufs: { 0: '/x' } }), F({ nr: nr('dup'), args: [3] }), 'E', 'X'],
      ['ok r=0 f=exec', 'fin diverge r=0 reason=the follower exited inside a rule'],
    );
  });

  it('a typed callback that runs out of scratch memory makes the step diverge', () => {
    const rules = 'read(fd,s,_) => read(fd,_,_) -> do { ret = (s + s).length; }\n';
    const big = 'x'.repeat(40_000); // s + s needs 80,000 bytes: more than the 65,536-byte arena
    scenario(
      rules,
      [
        L({ nr: nr('read'), args: [3, 0, 64], ret: 5, bufs: { 1: 'hello' } }),
        F({ nr: nr('read'), args: [3, 0, 64], caps: { 1: 64 } }),
        L({ nr: nr('read'), args: [3, 0, 65536], ret: big.length, bufs: { 1: big } }),
        F({ nr: nr('read'), args: [3, 0, 65536], caps: { 1: 65536 } }),
      ],
      [`ok r=0 f=match ev=0 ret=10 out=1:${hex('hello')} L=0:m`, 'diverge r=0 reason=a typed callback ran out of scratch memory'],
    );
  });

  it('the interpreter refuses to guess what a C block does', () => {
    const { automaton } = loadRules('read(fd,s,n) {{ return s_len > 3; }} => read(fd,s,n)\n');
    const input = ['R', L({ nr: nr('read'), args: [0, 0, 9], ret: 4, bufs: { 1: 'abcd' } }), F({ nr: nr('read'), args: [0, 0, 9], caps: { 1: 9 } })].join('\n') + '\n';
    expect(() => runInterpreterText(automaton, input)).to.throw(UnsupportedBlockError, /C guard.*cannot run/);
  });

  it('an unreconciled call is reported as a divergence at that call', () => {
    scenario(
      'open(_,_,_) => dup(_), lseek(_,_,_)\n',
      [L({ nr: nr('write'), args: [1, 0, 1], ret: 1, bufs: { 1: 'a' } }), F({ nr: nr('write'), args: [1, 0, 1], bufs: { 1: 'b' } }), F({ nr: nr('getpid') }), 'E'],
      ['diverge r=D reason=no rule reconciles the follower call'],
    );
  });
});
