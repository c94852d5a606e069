// The rule rows of a generated module (mvr_tab, mvr_bytes; decoded by runtime-c/include/mvr_tables.h)
// carry every value the matcher tests: the extremes of 64-bit literals, bytes that C escapes
// (NUL, quotes, backslashes, `??=` trigraph look-alikes), diverge reasons. The C harness must
// decide as the reference interpreter does on them, and a module without rules must build.
import { expect } from 'chai';
import { runHarness } from '../codegen-c/harness/build.ts';
import { followerLine, leaderLine, runInterpreterText } from '../codegen-c/harness/driver.ts';
import { harnessFor, loadRules, nr, removeScratchDirs, scratchDir } from '../codegen-c/harness/testing.ts';

describe('rule rows of a generated module', function () {
  this.timeout(240_000);
  after(removeScratchDirs);

  it('decode 64-bit extremes, escaped bytes and reasons as the interpreter reads them', () => {
    const rules = [
      'lseek(_, -9223372036854775808, _) => nothing',
      'lseek(_, 9223372036854775807, _) => nothing',
      'write(1, "q\\x00\\"\\\\??=/", _) => write(1, "q\\x00\\"\\\\??=/", _), getpid()',
      'open("??(x\\n", _, _) => diverge "why?? \\"quoted\\""',
      '',
    ].join('\n');
    const loaded = loadRules(rules, scratchDir('tables-'));
    const lseek = nr('lseek');
    const write = nr('write');
    const open = nr('open');
    const getpid = nr('getpid');
    const evil = new Uint8Array([0x71, 0, 0x22, 0x5c, 0x3f, 0x3f, 0x3d, 0x2f]);
    const stream = [
      'R',
      // both extremes are skipped by their rules; a value next to them is not
      leaderLine({ nr: lseek, args: [3, -(2n ** 63n), 0] }),
      leaderLine({ nr: lseek, args: [3, 2n ** 63n - 1n, 0] }),
      leaderLine({ nr: lseek, args: [3, 2n ** 63n - 2n, 0] }),
      followerLine({ nr: lseek, args: [3, 2n ** 63n - 2n, 0] }),
      // the escaped bytes are matched exactly, then the rule runs
      leaderLine({ nr: write, args: [1, 0, evil.length], ret: evil.length, bufs: { 1: evil } }),
      followerLine({ nr: write, args: [1, 0, evil.length], bufs: { 1: evil } }),
      followerLine({ nr: getpid }),
      // the diverge reason comes back whole
      leaderLine({ nr: open, args: [0, 0, 0], ret: 3, bufs: { 0: '??(x\n' } }),
      followerLine({ nr: open, args: [0, 0, 0], bufs: { 0: '??(x\n' } }),
      '',
    ].join('\n');
    const ts = runInterpreterText(loaded.automaton, stream);
    const c = runHarness(harnessFor(loaded.program, loaded.automaton, scratchDir('tables-c-')), stream);
    expect(c).to.equal(ts);
    const lines = ts.trim().split('\n').filter((l) => l !== 'reset');
    expect(lines[0]).to.match(/^ok r=D .*L=0:k,1:k,2:m/); // rules 0 and 1 skip, the third event is the default match
    expect(lines[1]).to.match(/^ok r=2 /);
    expect(lines[2]).to.match(/^ok r=2 /);
    expect(lines[3]).to.equal('expected r=3 reason=why?? "quoted"');
  });

  it('a module with no rules builds and matches by default', () => {
    const loaded = loadRules('// no rules\n', scratchDir('tables-empty-'));
    const stream = ['R', leaderLine({ nr: nr('getpid'), ret: 7 }), followerLine({ nr: nr('getpid') }), ''].join('\n');
    const c = runHarness(harnessFor(loaded.program, loaded.automaton, scratchDir('tables-empty-c-')), stream);
    expect(c).to.equal(runInterpreterText(loaded.automaton, stream));
    expect(c).to.match(/^reset\nok r=D f=match/);
  });
});
