// `mvrc check` compiles C blocks (cc -fsyntax-only through the same #line mapping as build), so
// that a C error is found before `mvrc build` and reported at its .mvr line and column (MVR5001).
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mvrc, tempDir } from './helpers/cli.ts';

// The rule of the MVEDSUA talk: the follower's read of `put(k,v)` is rewritten in a callback, but
// the C uses `k` and `v`, which no rule variable or declaration provides.
const TALK = [
  '// MVEDSUA talk: put(k,v) rewritten for the new version',
  '#include <stdio.h>',
  '#include <string.h>',
  'read(fd,s,n) {{ return strncmp(s, "put(", 4) == 0; }}',
  '  => read(fd,ss,n) {{ }} {{ ret = snprintf(ss, ss_cap, "PUT %s %s\\n", k, v); }}',
  '',
].join('\n');

// The same rule with C that compiles: the key and value come from the leader's bytes.
const TALK_FIXED = TALK.replace('"PUT %s %s\\n", k, v)', '"PUT %.*s\\n", (int)(s_len > 4 ? s_len - 4 : 0), s + 4)');

describe('mvrc check compiles C blocks', function () {
  this.timeout(60_000);
  const dir = tempDir('mvrc-checkcc-');
  writeFileSync(join(dir, 'talk.mvr'), TALK);
  writeFileSync(join(dir, 'fixed.mvr'), TALK_FIXED);
  const line5 = TALK.split('\n')[4]!;

  it('reports undeclared k and v at their .mvr line and column (MVR5001, exit 1)', () => {
    const r = mvrc(['check', 'talk.mvr'], { cwd: dir });
    expect(r.status, r.stderr).to.equal(1);
    // columns are 1-based; the block is copied with #line so gcc's columns are the file's
    expect(r.stderr).to.contain(`talk.mvr:5:${line5.indexOf(', k,') + 3}: error MVR5001: C compiler: `);
    expect(r.stderr).to.contain(`talk.mvr:5:${line5.indexOf(', v)') + 3}: error MVR5001: C compiler: `);
    expect(r.stderr).to.match(/'k' undeclared|‘k’ undeclared|undeclared identifier 'k'/);
  });

  it('gives the same MVR5001 lines as mvrc build', () => {
    const c = mvrc(['check', 'talk.mvr'], { cwd: dir });
    const b = mvrc(['build', 'talk.mvr', '-o', 'out'], { cwd: dir });
    expect(b.status).to.equal(1);
    const errs = (t: string) => t.split('\n').filter((l) => l.includes('error MVR5001'));
    expect(errs(c.stderr)).to.have.length(2);
    expect(errs(c.stderr)).to.deep.equal(errs(b.stderr));
  });

  it('says nothing about a C block that compiles (exit 0)', () => {
    const r = mvrc(['check', 'fixed.mvr'], { cwd: dir });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).not.to.contain('MVR5');
    expect(r.stderr).to.contain('no errors');
  });

  it('--no-cc skips the compiler', () => {
    const r = mvrc(['check', '--no-cc', 'talk.mvr'], { cwd: dir });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).not.to.contain('MVR5001');
  });

  it('without a C compiler: a note (MVR5005) says the blocks were not checked, exit 0', () => {
    const r = mvrc(['check', 'talk.mvr'], { cwd: dir, env: { CC: join(dir, 'no-such-cc') } });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('note MVR5005: C blocks were not checked');
    expect(r.stderr).not.to.contain('MVR5001');
  });

  it('does not run the compiler for a file without C blocks', () => {
    writeFileSync(join(dir, 'plain.mvr'), 'open(_,_,_) => dup(_), lseek(_,_,_)\n');
    // With a compiler that cannot start, a file with no C blocks gets no note: nothing was skipped.
    const r = mvrc(['check', 'plain.mvr'], { cwd: dir, env: { CC: join(dir, 'no-such-cc') } });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).not.to.contain('MVR5005');
  });
});
