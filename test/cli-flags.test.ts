// Every command that prints diagnostics takes the same flags (--format text|json|sarif,
// --color auto|always|never, --no-warnings) and, with --format json or sarif, prints exactly one
// document on stdout — whatever the number of phases that reported.
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { syscallByName } from '../compiler/syscalls/lookup.ts';
import { mvrc, tempDir } from './helpers/cli.ts';

/** A one-thread JSON-lines trace (docs/traces.md) that writes `data` to fd 1 and exits. */
function trace(data: string): string {
  const w = { thread: 0, i: 0, nr: syscallByName('write')!.nr, name: 'write', args: [1, 4096, data.length], ret: data.length, bufs: { 1: Buffer.from(data).toString('hex') } };
  const x = { thread: 0, i: 1, nr: syscallByName('exit_group')!.nr, name: 'exit_group', args: [0], noret: true };
  return [{ mvrcTrace: 1, command: ['./p'], arch: 'x86_64' }, w, x, { end: true, status: 0 }].map((o) => JSON.stringify(o)).join('\n') + '\n';
}

describe('the diagnostics flags, on every command that prints diagnostics', function () {
  this.timeout(120_000);
  const dir = tempDir('mvrc-flags-');
  // A warning (MVR2008: x unused) in a file that otherwise checks, is canonical and builds.
  writeFileSync(join(dir, 'warn.mvr'), 'open(x, _, _) => nothing\n');
  // A warning and an error (MVR2001).
  writeFileSync(join(dir, 'bad.mvr'), 'open(x, _, _) => nothing\nraed(_, _, _) => nothing\n');
  writeFileSync(join(dir, 'ugly.mvr'), 'open(_,_,_)=>nothing\n');
  writeFileSync(join(dir, 'a.jsonl'), trace('hello\n'));
  writeFileSync(join(dir, 'b.jsonl'), trace('HELLO\n'));

  // [command, arguments before the flags, exit status expected, codes expected with warnings]
  const cases: [string, string[], number, string[]][] = [
    ['check', ['bad.mvr'], 1, ['MVR2001', 'MVR2008']],
    ['compile', ['warn.mvr', '-o', 'out-c'], 0, ['MVR2008']],
    ['build', ['warn.mvr', '-o', 'out-b'], 0, ['MVR2008']],
    ['graph', ['warn.mvr', '-o', 'g.dot'], 0, ['MVR2008']],
    ['fmt', ['--check', 'ugly.mvr'], 1, ['MVR1017']],
    ['verify', ['warn.mvr', '--leader-trace', 'a.jsonl', '--follower-trace', 'b.jsonl'], 1, ['MVR2008', 'MVR4101']],
    ['infer', ['a.jsonl', 'b.jsonl', '-o', 'inferred.mvr'], 0, []],
  ];

  for (const [cmd, args, status, codes] of cases) {
    it(`${cmd}: --format json|sarif give one document; --no-warnings drops warnings only; --color always colours the text`, () => {
      const json = mvrc([cmd, ...args, '--format', 'json', '--color', 'never'], { cwd: dir });
      expect(json.status, json.stderr).to.equal(status);
      const doc = JSON.parse(json.stdout) as { diagnostics: { code: string; severity: string }[] };
      expect(doc.diagnostics.map((d) => d.code).sort()).to.deep.equal(codes);

      const quiet = mvrc([cmd, ...args, '--format', 'json', '--no-warnings'], { cwd: dir });
      expect(quiet.status, quiet.stderr).to.equal(status);
      const q = JSON.parse(quiet.stdout) as { diagnostics: { code: string; severity: string }[] };
      expect(q.diagnostics.map((d) => d.code).sort()).to.deep.equal(doc.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code).sort());

      const sarif = mvrc([cmd, ...args, '--format', 'sarif'], { cwd: dir });
      expect(sarif.status, sarif.stderr).to.equal(status);
      const log = JSON.parse(sarif.stdout) as { version: string; runs: { results: { ruleId: string }[] }[] };
      expect(log.version).to.equal('2.1.0');
      expect(log.runs).to.have.length(1);
      expect(log.runs[0]!.results.map((r) => r.ruleId).sort()).to.deep.equal(codes);

      const text = mvrc([cmd, ...args, '--color', 'always'], { cwd: dir });
      expect(text.status, text.stderr).to.equal(status);
      if (codes.length) {
        expect(text.stderr).to.contain('\x1b[');
        expect(mvrc([cmd, ...args, '--color', 'never'], { cwd: dir }).stderr).not.to.contain('\x1b[');
      }
    });
  }

  it('a bad --format or --color value is a usage error (exit 2) on every command', () => {
    for (const [cmd, args] of cases) {
      const f = mvrc([cmd, ...args, '--format', 'xml'], { cwd: dir });
      expect(f.status, `${cmd}: ${f.stderr}`).to.equal(2);
      expect(f.stderr).to.contain('--format must be text, json or sarif');
      const c = mvrc([cmd, ...args, '--color', 'sometimes'], { cwd: dir });
      expect(c.status, `${cmd}: ${c.stderr}`).to.equal(2);
    }
  });

  it('where stdout already carries the output (graph, fmt, infer without a file), json/sarif is refused rather than mixed in', () => {
    for (const args of [['graph', 'warn.mvr'], ['fmt', 'warn.mvr'], ['infer', 'a.jsonl', 'b.jsonl']]) {
      const r = mvrc([...args, '--format', 'json'], { cwd: dir });
      expect(r.status, args.join(' ')).to.equal(2);
      expect(r.stdout).to.equal('');
    }
  });
});
