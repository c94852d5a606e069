// docs/diagnostics.md and `mvrc explain`: every catalog code is documented; each example really
// produces its code (run through the checker, mvrc fmt --check or mvrc build) and its fixed
// version does not; the page is what `npm run gen:diagnostics` writes now.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Diag } from '../compiler/core/diagnostic-messages.ts';
import { catalogEntries, diagnoseExample, diagnosticsPage } from '../compiler/cli/explain.ts';
import { mvrc, REPO, tempDir } from './helpers/cli.ts';

const hasCC = !spawnSync(process.env['CC'] ?? 'cc', ['--version']).error;

describe('diagnostic documentation (docs/diagnostics.md, mvrc explain)', () => {
  const entries = catalogEntries();

  it('every catalog code has a meaning and a fix', () => {
    const missing = entries.filter((e) => !e.doc || !e.doc.meaning || !e.doc.fix).map((e) => e.template.code);
    expect(missing, 'add them to compiler/core/diagnostic-docs.ts, then npm run gen:diagnostics').to.deep.equal([]);
    expect(entries.length).to.equal(Object.keys(Diag).length);
  });

  it('codes without an example are only those no rule file can produce', () => {
    // MVR5003-5005 depend on the C compiler at hand (its failure, its absence), not on a rule file.
    const without = entries.filter((e) => e.doc && e.doc.example === undefined).map((e) => e.template.code);
    const allowed = /^(MVR1011|MVR1014|MVR1016|MVR4011|MVR41\d\d|MVR500[345]|MVR9\d{3})$/;
    expect(without.filter((c) => !allowed.test(c))).to.deep.equal([]);
  });

  for (const e of entries) {
    const doc = e.doc;
    if (!doc?.example || doc.via === 'build') continue;
    it(`${e.template.code}: the example produces it${doc.fixed !== undefined ? ', the fixed file does not' : ''}`, () => {
      const got = diagnoseExample(doc.example!, doc.via).diagnostics;
      expect(got.map((d) => d.code)).to.include(e.template.code);
      if (doc.fixed !== undefined) {
        const fixed = diagnoseExample(doc.fixed, doc.via).diagnostics;
        expect(fixed.map((d) => d.code), 'the fixed file still has it').not.to.include(e.template.code);
        expect(fixed.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.message}`), 'the fixed file has errors').to.deep.equal([]);
      }
    });
  }

  describe('examples that need the C compiler (mvrc build)', function () {
    this.timeout(120_000);
    const dir = tempDir('mvrc-doc-');
    for (const e of entries.filter((x) => x.doc?.via === 'build')) {
      it(`${e.template.code}: mvrc build reports it for the example, not for the fixed file`, function () {
        if (!hasCC) this.skip();
        const run = (text: string) => {
          writeFileSync(join(dir, 'example.mvr'), text);
          return mvrc(['build', 'example.mvr', '-o', 'out', '--format', 'json'], { cwd: dir });
        };
        const bad = run(e.doc!.example!);
        expect(bad.status, bad.stderr).to.equal(1);
        expect((JSON.parse(bad.stdout) as { diagnostics: { code: string }[] }).diagnostics.map((d) => d.code)).to.include(e.template.code);
        const good = run(e.doc!.fixed!);
        expect(good.status, good.stdout + good.stderr).to.equal(0);
      });
    }
  });

  it('docs/diagnostics.md is up to date (npm run gen:diagnostics)', () => {
    const page = readFileSync(join(REPO, 'docs', 'diagnostics.md'), 'utf8');
    expect(page === diagnosticsPage(), 'docs/diagnostics.md is out of date: run npm run gen:diagnostics').to.equal(true);
    for (const e of entries) expect(page).to.contain(`### ${e.template.code}\n`);
  });

  describe('mvrc explain', function () {
    this.timeout(30_000);
    it('prints the meaning, the example with what mvrc check reports for it, and the fix', () => {
      const r = mvrc(['explain', 'MVR2001']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^MVR2001 \(error\): unknown syscall or group '…'/);
      expect(r.stdout).to.contain('raed(_, _, _) => nothing');
      expect(r.stdout).to.contain("example.mvr:1:1: error MVR2001: unknown syscall or group 'raed'");
      expect(r.stdout).to.contain("did you mean 'read'?");
      expect(r.stdout).to.contain('Fix: ');
      // as typed by a user: lower case, or the number alone
      expect(mvrc(['explain', 'mvr2001']).stdout).to.equal(r.stdout);
      expect(mvrc(['explain', '2001']).stdout).to.equal(r.stdout);
    });
    it('an unknown code: exit 2 with the closest code; a far one without', () => {
      const r = mvrc(['explain', 'MVR2100']);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.contain("unknown diagnostic code 'MVR2100'; did you mean 'MVR2010'?");
      expect(r.stdout).to.equal('');
      const far = mvrc(['explain', 'hello']);
      expect(far.status).to.equal(2);
      expect(far.stderr).not.to.contain('did you mean');
      expect(mvrc(['explain']).status).to.equal(2);
    });
    it('--list prints every code once', () => {
      const r = mvrc(['explain', '--list']);
      expect(r.status).to.equal(0);
      expect(r.stdout.trim().split('\n')).to.have.length(entries.length);
    });
  });
});
