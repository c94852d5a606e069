// Diagnostic baselines: every test/cases/**/*.mvr is checked with loadProgram and its rendered
// diagnostics are compared with NAME.diagnostics.txt beside it (an empty file: checks clean).
// `npm run test:accept` (MVR_ACCEPT=1) writes the actual output instead, to review with git diff.
// Paths are relative to the repository root, so the expected files do not depend on the machine.
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProgram } from '../compiler/check/program.ts';
import { renderDiagnosticsText } from '../compiler/core/render.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const casesDir = path.join(repoRoot, 'test', 'cases');
const accept = process.env['MVR_ACCEPT'] === '1';

/** Every *.mvr under dir, files and directories alike (a directory case tests MVR9002). */
function findCases(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const full = path.join(dir, entry);
    if (entry.endsWith('.mvr')) out.push(full);
    else if (statSync(full).isDirectory()) out.push(...findCases(full));
  }
  return out;
}

function expectedPath(caseFile: string): string {
  return caseFile.replace(/\.mvr$/, '.diagnostics.txt');
}

/** Renders a case's diagnostics exactly as `mvrc check` prints them (without colours). */
export function renderCase(caseFile: string): string {
  const rel = path.relative(repoRoot, caseFile).split(path.sep).join('/');
  const program = loadProgram([rel], { cwd: repoRoot, stdlibDir: path.join(repoRoot, 'stdlib-rules') });
  return renderDiagnosticsText(program.diagnostics, program.sources);
}

describe('diagnostic baselines (test/cases)', () => {
  const cases = findCases(casesDir);

  it('has cases', () => {
    expect(cases.length).to.be.greaterThan(20);
  });

  for (const caseFile of cases) {
    const rel = path.relative(casesDir, caseFile);
    it(rel, () => {
      const actual = renderCase(caseFile);
      const expectedFile = expectedPath(caseFile);
      if (accept) {
        writeFileSync(expectedFile, actual);
        return;
      }
      expect(existsSync(expectedFile), `missing ${path.relative(repoRoot, expectedFile)}; run npm run test:accept`).to.equal(true);
      expect(actual).to.equal(readFileSync(expectedFile, 'utf8'));
      expect(actual, 'an internal error became a diagnostic').not.to.contain('MVR9005');
    });
  }

  it('every catalog code the checker emits has a case', () => {
    // The codes of LANGUAGE.md §4 this project promises to report; each needs an example.
    const all = cases.filter((c) => existsSync(expectedPath(c))).map((c) => readFileSync(expectedPath(c), 'utf8')).join('\n');
    const wanted = [
      'MVR2001', 'MVR2002', 'MVR2003', 'MVR2004', 'MVR2005', 'MVR2006', 'MVR2007', 'MVR2008', 'MVR2009', 'MVR2010',
      'MVR2011', 'MVR2012', 'MVR2013', 'MVR3001', 'MVR3002', 'MVR3003', 'MVR3004', 'MVR3005', 'MVR3006', 'MVR3017', 'MVR4001',
      'MVR4002', 'MVR4003', 'MVR4004', 'MVR4005', 'MVR4006', 'MVR4007', 'MVR4008', 'MVR4009', 'MVR4010', 'MVR9002',
      'MVR9003',
    ];
    const missing = wanted.filter((code) => !all.includes(` ${code}:`));
    expect(missing).to.deep.equal([]);
  });
});
