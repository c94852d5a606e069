// SARIF as code scanning reads it: every log mvrc writes is valid against the SARIF 2.1.0 JSON
// schema (the OASIS schema shipped by @microsoft/jest-sarif, validated with ajv, formats
// included: an artifact URI must be a URI), and its artifact locations lead back to the files,
// whatever their names. Commands that report in several phases still print one document.
import { expect } from 'chai';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Diag } from '../compiler/core/diagnostic-messages.ts';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { renderDiagnosticsSarif, sarifArtifactLocation } from '../compiler/core/render.ts';
import { mvrc, tempDir } from './helpers/cli.ts';

const require = createRequire(import.meta.url);

interface Validator {
  (data: unknown): boolean;
  errors?: { dataPath?: string; message?: string }[] | null;
}

function sarifValidator(): Validator {
  // ajv 6: the SARIF 2.1.0 schema is draft-04, which ajv 8 no longer reads without extra packages.
  const Ajv = require('ajv') as new (o: object) => { addMetaSchema(s: object): void; compile(s: object): Validator };
  const ajv = new Ajv({ schemaId: 'auto', format: 'full', allErrors: true });
  ajv.addMetaSchema(require('ajv/lib/refs/json-schema-draft-04.json') as object);
  return ajv.compile(require('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json') as object);
}

interface SarifLog {
  version: string;
  runs: {
    originalUriBaseIds?: Record<string, { uri: string }>;
    results: { ruleId: string; locations?: { physicalLocation: { artifactLocation: { uri: string; uriBaseId?: string } } }[] }[];
  }[];
}

/** The file a result's location names, as code scanning resolves it. */
function resolvedPath(log: SarifLog, loc: { uri: string; uriBaseId?: string }): string {
  const base = loc.uriBaseId ? log.runs[0]!.originalUriBaseIds![loc.uriBaseId]!.uri : undefined;
  return fileURLToPath(new URL(loc.uri, base));
}

function expectValid(validate: Validator, log: unknown): void {
  const ok = validate(log);
  expect(ok, JSON.stringify(validate.errors, null, 1)).to.equal(true);
}

describe('SARIF 2.1.0 output', () => {
  const validate = sarifValidator();
  const dir = tempDir('mvrc-sarif-');
  const name = 'my rules é.mvr';
  const file = join(dir, name);
  writeFileSync(file, 'raed(_, _, _) => nothing\nopen(x, _, _) => nothing\n');

  it('the validator rejects an artifact URI that is a bare file name with a space (so the checks below can fail)', () => {
    const log = JSON.parse(renderDiagnosticsSarif([], new Map(), '0.0.0')) as { runs: { results: unknown[] }[] };
    expectValid(validate, log);
    log.runs[0]!.results.push({ ruleId: 'MVR2001', message: { text: 'm' }, locations: [{ physicalLocation: { artifactLocation: { uri: name } } }] });
    expect(validate(log)).to.equal(false);
  });

  it('mvrc check --format sarif on "my rules é.mvr": valid, percent-encoded relative URI against %SRCROOT%, which is the working directory', () => {
    const r = mvrc(['check', '--format', 'sarif', name], { cwd: dir });
    expect(r.status, r.stderr).to.equal(1);
    const log = JSON.parse(r.stdout) as SarifLog;
    expectValid(validate, log);
    const loc = log.runs[0]!.results[0]!.locations![0]!.physicalLocation.artifactLocation;
    expect(loc).to.deep.equal({ uri: 'my%20rules%20%C3%A9.mvr', uriBaseId: '%SRCROOT%' });
    expect(resolvedPath(log, loc)).to.equal(file);
    expect(log.runs[0]!.results.map((x) => x.ruleId)).to.deep.equal(['MVR2001', 'MVR2008']);
  });

  it('a file outside the working directory gets an absolute, encoded file:// URI', () => {
    const elsewhere = join(dir, 'sub dir');
    mkdirSync(elsewhere, { recursive: true });
    const r = mvrc(['check', '--format', 'sarif', file], { cwd: elsewhere });
    const log = JSON.parse(r.stdout) as SarifLog;
    expectValid(validate, log);
    const loc = log.runs[0]!.results[0]!.locations![0]!.physicalLocation.artifactLocation;
    expect(loc.uriBaseId).to.equal(undefined);
    expect(loc.uri).to.match(/^file:\/\/\/.*\/my%20rules%20%C3%A9\.mvr$/);
    expect(resolvedPath(log, loc)).to.equal(file);
  });

  it('characters that mean something in a URI (#, ?, %) are encoded too', () => {
    for (const n of ['a#b.mvr', 'a?b.mvr', '100%.mvr', 'x/é y.mvr']) {
      const loc = sarifArtifactLocation(n, '/w');
      expect(resolvedPath({ version: '2.1.0', runs: [{ originalUriBaseIds: { '%SRCROOT%': { uri: 'file:///w/' } }, results: [] }] }, loc)).to.equal(`/w/${n}`);
    }
  });

  it('related locations and a diagnostic with no file are valid too', () => {
    const bag = new DiagnosticBag();
    bag.add(Diag.DuplicateGroup, 'a b.mvr', { offset: 0, length: 3 }, ['g'], { related: [{ file: 'a b.mvr', span: { offset: 4, length: 1 }, message: 'first defined here' }] });
    bag.add(Diag.InternalError, '', { offset: 0, length: 0 }, ['checking', 'boom']);
    const log = JSON.parse(renderDiagnosticsSarif(bag.items, new Map([['a b.mvr', 'abc\ndef\n']]), '0.0.0', { cwd: '/w' }));
    expectValid(validate, log);
  });

  it('mvrc build --format sarif: the checker\'s warning and the C compiler\'s error in one valid document', function () {
    this.timeout(60_000);
    const f = join(dir, 'c error.mvr');
    writeFileSync(f, 'open(x, _, _) => nothing\nread(fd, _, _) {{ return undeclared_name > 0; }} => read(fd, _, _)\n');
    const r = mvrc(['build', '--format', 'sarif', 'c error.mvr', '-o', join(dir, 'out')], { cwd: dir });
    if (r.status === 2 && r.stdout.includes('MVR5004')) this.skip(); // no C compiler
    expect(r.status, r.stderr).to.equal(1);
    const log = JSON.parse(r.stdout) as SarifLog; // throws on two documents
    expectValid(validate, log);
    const ids = log.runs[0]!.results.map((x) => x.ruleId);
    expect(ids).to.include('MVR2008');
    expect(ids).to.include('MVR5001');
    expect(existsSync(join(dir, 'out', 'rules.c'))).to.equal(true);
  });
});
