// "Did you mean": one suggestion function (compiler/core/suggest.ts) for every name looked up.
// The checker's hints are baselines under test/cases/suggest; here, the function itself and the
// command line (commands, options, option values).
import { expect } from 'chai';
import { closestName } from '../compiler/core/suggest.ts';
import { mvrc } from './helpers/cli.ts';

describe('did you mean', () => {
  it('suggests the closest name within a few edits, ignoring case, and nothing for a known or far name', () => {
    expect(closestName('chek', ['check', 'fmt', 'compile'])).to.equal('check');
    expect(closestName('Check', ['check'])).to.equal('check');
    expect(closestName('frist', ['first', 'last'])).to.equal('first');
    expect(closestName('rr', ['r'])).to.equal('r');
    expect(closestName('check', ['check', 'chuck'])).to.equal(undefined);
    expect(closestName('frobnicate', ['check', 'fmt'])).to.equal(undefined);
    // a one-letter name is not "close" to another letter
    expect(closestName('b', ['a'])).to.equal(undefined);
    // ties: the closest length, then the alphabetically first
    expect(closestName('abcd', ['abce', 'abcf'])).to.equal('abce');
  });

  it('mvrc chek: exit 2, suggests check; an unrelated word gets no suggestion', function () {
    this.timeout(30_000);
    const r = mvrc(['chek', 'x.mvr']);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.contain("unknown command 'chek'; did you mean 'check'?");
    const far = mvrc(['frobnicate']);
    expect(far.status).to.equal(2);
    expect(far.stderr).not.to.contain('did you mean');
  });

  it('misspelt options and option values are suggested too', function () {
    this.timeout(30_000);
    const o = mvrc(['check', '--formt', 'json', 'x.mvr']);
    expect(o.status).to.equal(2);
    expect(o.stderr).to.contain("unknown option '--formt'; did you mean '--format'?");
    const v = mvrc(['check', '--format', 'jsn', 'x.mvr']);
    expect(v.status).to.equal(2);
    expect(v.stderr).to.contain("did you mean 'json'?");
    const w = mvrc(['fmt', '--wirte', 'x.mvr']);
    expect(w.stderr).to.contain("did you mean '--write'?");
    const run = mvrc(['run', '--rule', 'r.mvr', '--', 'true']);
    expect(run.status).to.equal(2);
    expect(run.stderr).to.contain("did you mean '--rules'?");
  });
});
