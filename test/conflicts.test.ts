// Shadowed (MVR4001) and conflicting (MVR4002) rules, decided by unifying the rules' patterns
// with their variables (compiler/check/checker.ts, "situations"): a variable stands for any value
// but the same value everywhere in its rule; literals must be equal; predicates tell rules apart.
import { expect } from 'chai';
import { loadProgram } from '../compiler/check/program.ts';
import type { Program } from '../compiler/check/program-types.ts';

function check(text: string): Program {
  return loadProgram(['main.mvr'], { cwd: '/virtual', readFile: () => Buffer.from(text) });
}

/** The shadow/conflict findings as `CODE line (related line)`. */
function findings(text: string): string[] {
  const p = check(text);
  const line = (off: number) => text.slice(0, off).split('\n').length;
  return p.diagnostics
    .filter((d) => d.code === 'MVR4001' || d.code === 'MVR4002')
    .map((d) => `${d.code} ${line(d.span.offset)} (${d.related.map((r) => line(r.span.offset)).join(',')})`);
}

describe('checker: conflicts and shadowing by unification', () => {
  it('rules that share a variable between left side and first follower call conflict', () => {
    // The case: written with `_` this was found; with the shared `fd` it was not.
    expect(findings('read(fd,_,_) => read(fd,_,_), getpid()\nread(fd,_,_) => read(fd,_,_), gettid()\n')).to.deep.equal(['MVR4002 2 (1)']);
    expect(findings('read(_,_,_) => read(_,_,_), getpid()\nread(_,_,_) => read(_,_,_), gettid()\n')).to.deep.equal(['MVR4002 2 (1)']);
  });

  it('variable names do not matter, for the patterns and for the actions', () => {
    expect(findings('read(fd,_,_) => read(fd,_,_), getpid()\nread(x,_,_) => read(x,_,_), gettid()\n')).to.deep.equal(['MVR4002 2 (1)']);
    // the same actions under other names: a repeat, only shadowed
    expect(findings('read(fd,_,_) => read(fd,_,_), close(fd)\nread(x,_,_) => read(x,_,_), close(x)\n')).to.deep.equal(['MVR4001 2 (1)']);
    // different actions because the variable is used differently
    expect(findings('read(fd,_,_) => read(fd,_,_), close(fd)\nread(x,_,_) => read(x,_,_), close(3)\n')).to.deep.equal(['MVR4002 2 (1)']);
  });

  it('left sides that differ by a literal are not reported', () => {
    expect(findings('read(3,_,_) => read(3,_,_), getpid()\nread(4,_,_) => read(4,_,_), gettid()\n')).to.deep.equal([]);
    expect(findings('write(_,"a",_) => write(_,"a",_), getpid()\nwrite(_,"b",_) => write(_,"b",_), gettid()\n')).to.deep.equal([]);
  });

  it('a variable repeated in a rule forces equality', () => {
    // read(fd, _, fd): the count equals the descriptor. The general rule after it takes the rest
    // (a specific rule before a general one is how exceptions are written): nothing reported.
    expect(findings('read(fd,_,fd) => read(fd,_,fd), getpid()\nread(fd,_,_) => read(fd,_,_), gettid()\n')).to.deep.equal([]);
    // The general rule first hides the specific one.
    expect(findings('read(fd,_,_) => read(fd,_,_), gettid()\nread(fd,_,fd) => read(fd,_,fd), getpid()\n')).to.deep.equal(['MVR4001 2 (1)']);
    // The same equality on both: the same situation, different actions.
    expect(findings('read(a,_,a) => read(a,_,a), getpid()\nread(b,_,b) => read(b,_,b), gettid()\n')).to.deep.equal(['MVR4002 2 (1)']);
    // The equality is with the follower's call in one rule only: no conflict, the looser one shadows.
    expect(findings('read(fd,_,_) => read(_,_,_), getpid()\nread(fd,_,_) => read(fd,_,_), gettid()\n')).to.deep.equal(['MVR4001 2 (1)']);
    expect(findings('read(fd,_,_) => read(fd,_,_), gettid()\nread(fd,_,_) => read(_,_,_), getpid()\n')).to.deep.equal([]);
  });

  it('a literal bound through a variable on both sides matches the same literal', () => {
    expect(findings('read(fd,_,_), write(fd,_,_) => nothing\nread(5,_,_), write(5,_,_) => nothing\n')).to.deep.equal(['MVR4001 2 (1)']);
    expect(findings('read(fd,_,_), write(fd,_,_) => nothing\nread(5,_,_), write(6,_,_) => nothing\n')).to.deep.equal([]);
  });

  it('rules told apart by a guard are not reported', () => {
    expect(findings('read(fd,s,_) if (s.startsWith("a")) => read(fd,_,_), getpid()\nread(fd,_,_) => read(fd,_,_), gettid()\n')).to.deep.equal([]);
    expect(findings('read(fd,s,_) {{ return s_len > 2; }} => read(fd,_,_), getpid()\nread(fd,s,_) {{ return s_len > 2; }} => read(fd,_,_), gettid()\n')).to.deep.equal([]);
    // A guard on the later rule only: it is still hidden by the earlier one, but no conflict.
    expect(findings('read(fd,_,_) => read(fd,_,_), gettid()\nread(fd,s,_) if (s.length > 2) => read(fd,_,_), getpid()\n')).to.deep.equal(['MVR4001 2 (1)']);
  });

  it('an output buffer on the follower side is an action, not a test', () => {
    // Both rules give the follower's read other bytes: the same situation, different actions.
    expect(findings('read(fd,_,_) as r => r(fd, "a", 1)\nread(fd,_,_) as r => r(fd, "b", 1)\n')).to.deep.equal(['MVR4002 2 (1)']);
    expect(findings('read(_,_,_) => read(_,"x",1)\nread(_,_,_) => read(_,"y",1)\n')).to.deep.equal(['MVR4002 2 (1)']);
  });

  it('lists 100 shadowed rules, then one note counts the rest (MVR4013)', () => {
    const text = 'read(fd,_,_) => read(fd,_,_), gettid()\n'.repeat(151);
    const p = check(text);
    expect(p.diagnostics.filter((d) => d.code === 'MVR4001')).to.have.length(100);
    const note = p.diagnostics.filter((d) => d.code === 'MVR4013');
    expect(note.map((d) => [d.severity, d.message])).to.deep.equal([['note', '50 more rule(s) can never fire (an earlier rule always applies first) and are not listed']]);
    expect(note[0]!.span.offset).to.equal(101 * 'read(fd,_,_) => read(fd,_,_), gettid()\n'.length); // the first one not listed
    // at the limit, no note
    expect(check('nothing => getpid()\n'.repeat(101)).diagnostics.map((d) => d.code).filter((c) => c === 'MVR4013')).to.deep.equal([]);
  });

  it('stays fast and exact on many rules that share their first syscall', () => {
    // 5,000 rules on `read` with distinct literals: none covers another (the index finds no
    // candidate), and the last one repeats the first one (found, at the right place).
    let text = '';
    for (let i = 0; i < 5_000; i++) text += `read(${i},_,_) => read(${i},_,_), getpid()\n`;
    text += 'read(0,_,_) => read(0,_,_), gettid()\n';
    expect(findings(text)).to.deep.equal(['MVR4002 5001 (1)']);
  });
});
