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
    const without = entries.filter((e) => e.doc && e.doc.example === undefined).map((e) => e.template.code);
    const allowed = /^(MVR1011|MVR1014|MVR1016|MVR4011|MVR41\d\d|MVR500[34]|MVR9\d{3})$/;
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
});
