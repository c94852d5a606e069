// The CLI as users run it: exit statuses, bad input of every kind, output formats.
import { expect } from 'chai';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VERSION } from '../compiler/core/version.ts';
import { mvrc, REPO, tempDir, type CliResult } from './helpers/cli.ts';

function noStackTrace(r: CliResult): void {
  expect(r.signal, 'killed by a signal (timeout?)').to.equal(null);
  expect(r.stderr).not.to.match(/\n\s+at .+:\d+:\d+\)?\n/);
  expect(r.stderr).not.to.match(/internal error/);
}

describe('mvrc CLI', () => {
  const dir = tempDir();

  it('prints its version, matching package.json', () => {
    const r = mvrc(['--version']);
    expect(r.status).to.equal(0);
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(r.stdout.trim()).to.equal(`mvrc ${pkg.version}`);
    expect(VERSION).to.equal(pkg.version);
  });

  it('rejects an unknown command with exit 2 and the command list', () => {
    const r = mvrc(['frobnicate']);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.contain("unknown command 'frobnicate'");
    expect(r.stderr).to.contain('check');
  });

  it('rejects unknown options with exit 2 and the usage line', () => {
    const r = mvrc(['check', '--bogus', 'x.mvr']);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/Usage: mvrc check/);
    noStackTrace(r);
  });

  it('checks a clean file with exit 0', () => {
    const f = join(dir, 'ok.mvr');
    writeFileSync(f, 'open(_,_,_) => dup(_), lseek(_,_,_)\nnothing => getrlimit(7,_)\n');
    const r = mvrc(['check', f]);
    expect(r.status, r.stderr).to.equal(0);
    noStackTrace(r);
  });

  it('reports an unknown syscall GNU-style with a code frame, exit 1', () => {
    const f = join(dir, 'bad.mvr');
    writeFileSync(f, 'raed(_,_,_) => nothing\n');
    const r = mvrc(['check', f], { cwd: dir });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/^bad\.mvr:1:1: error MVR2001: unknown syscall or group 'raed'/m);
    expect(r.stderr).to.contain(' 1 | raed(_,_,_) => nothing');
    expect(r.stderr).to.match(/\|\s\^\^\^\^\n/);
    expect(r.stderr).to.contain("did you mean 'read'");
  });

  it('reports many syntax errors in one run', () => {
    const f = join(dir, 'many.mvr');
    writeFileSync(f, 'read(_,_ => nothing\nwrite(_,_,_) => write(_,_,_)\nopen(,) => nothing\nclose(_) => )\n');
    const r = mvrc(['check', f], { cwd: dir });
    expect(r.status).to.equal(1);
    const codes = r.stderr.match(/error MVR1\d{3}/g) ?? [];
    expect(codes.length).to.be.at.least(3);
    noStackTrace(r);
  });

  it('emits JSON and SARIF 2.1.0 on stdout', () => {
    const f = join(dir, 'bad2.mvr');
    writeFileSync(f, 'raed(_,_,_) => nothing\n');
    const j = mvrc(['check', '--format', 'json', f], { cwd: dir });
    expect(j.status).to.equal(1);
    const parsed = JSON.parse(j.stdout) as { diagnostics: { code: string; line: number; column: number; length: number }[] };
    expect(parsed.diagnostics[0]).to.include({ code: 'MVR2001', line: 1, column: 1, length: 4 });
    const s = mvrc(['check', '--format', 'sarif', f], { cwd: dir });
    expect(s.status).to.equal(1);
    const sarif = JSON.parse(s.stdout) as { version: string; runs: { tool: { driver: { name: string; rules: { id: string }[] } }; results: { ruleId: string; locations: { physicalLocation: { region: { startLine: number } } }[] }[] }[] };
    expect(sarif.version).to.equal('2.1.0');
    expect(sarif.runs[0]!.tool.driver.name).to.equal('mvrc');
    expect(sarif.runs[0]!.tool.driver.rules.map((r) => r.id)).to.deep.equal(['MVR2001']);
    expect(sarif.runs[0]!.results[0]!.locations[0]!.physicalLocation.region.startLine).to.equal(1);
  });

  describe('bad input never crashes or hangs', () => {
    it('a missing file: MVR9001, exit 2', () => {
      const r = mvrc(['check', join(dir, 'nope.mvr')], { cwd: dir });
      expect(r.status).to.equal(2);
      expect(r.stderr).to.match(/error MVR9001: cannot read 'nope\.mvr': no such file/);
      noStackTrace(r);
    });
    it('a directory: MVR9002, exit 2', () => {
      const d = join(dir, 'adir');
      mkdirSync(d, { recursive: true });
      const r = mvrc(['check', d], { cwd: dir });
      expect(r.status).to.equal(2);
      expect(r.stderr).to.contain('MVR9002');
      noStackTrace(r);
    });
    it('binary garbage: MVR9003, exit 1', () => {
      const f = join(dir, 'garbage.mvr');
      const bytes = Buffer.alloc(4096);
      let x = 12345;
      for (let i = 0; i < bytes.length; i++) bytes[i] = (x = (x * 1103515245 + 12345) & 0x7fffffff) >> 16;
      writeFileSync(f, bytes);
      const r = mvrc(['check', f], { cwd: dir });
      expect(r.status).to.equal(1);
      expect(r.stderr).to.contain('MVR9003');
      noStackTrace(r);
    });
    it('printable garbage: syntax errors, capped, exit 1', () => {
      const f = join(dir, 'noise.mvr');
      let s = '';
      let x = 99;
      for (let i = 0; i < 200_000; i++) s += String.fromCharCode(33 + ((x = (x * 1103515245 + 12345) & 0x7fffffff) % 94)) + (i % 80 === 79 ? '\n' : '');
      writeFileSync(f, s);
      const r = mvrc(['check', f], { cwd: dir });
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/error MVR1\d{3}/);
      noStackTrace(r);
    });
    it('a 10 MB file', function () {
      // The limits only tell a hang from a busy machine (about 20 s of CPU; minutes of wall time
      // when the machine is shared): how fast `check` is, is bench/check-bench.mjs's to show.
      this.timeout(620_000);
      const f = join(dir, 'big.mvr');
      // Rules that differ in a literal, so that none shadows another (identical rules would make
      // one MVR4001 warning each: a hundred megabytes of report, not what this test is about).
      const rules: string[] = [];
      for (let i = 0, size = 0; size < 10 * 1024 * 1024; i++) {
        const rule = `read(fd, buf, ${i}) => read(fd, buf, ${i}), gettid()\n`;
        rules.push(rule);
        size += rule.length;
      }
      writeFileSync(f, rules.join(''));
      const r = mvrc(['check', f], { cwd: dir, timeoutMs: 600_000 });
      expect(r.signal, 'killed at the limit: a hang').to.equal(null);
      expect(r.status).to.be.oneOf([0, 1]);
      noStackTrace(r);
    });
    it('unterminated C block, string, comment and typed block: each reported at its opening', () => {
      for (const [text, code] of [
        ['read(_,_,_) { return 1;\n', 'MVR1002'],
        ['read(_,_,_) {{ return 1; \n', 'MVR1003'],
        ['read(_,"abc,_) => nothing\n', 'MVR1004'],
        ['/* never closed\nread(_,_,_) => nothing\n', 'MVR1005'],
        ['read(_,s,_) if (s.length > 1 => nothing\n', 'MVR1009'],
      ] as const) {
        const f = join(dir, `${code}.mvr`);
        writeFileSync(f, text);
        const r = mvrc(['check', f], { cwd: dir });
        expect(r.status, text).to.equal(1);
        expect(r.stderr, text).to.contain(code);
        noStackTrace(r);
      }
    });
    it('10,000 nested braces in a C block and 10,000 nested parentheses in a typed block', () => {
      const f = join(dir, 'deep.mvr');
      writeFileSync(f, `read(_,_,_) {${'{'.repeat(10_000)}${'}'.repeat(10_000)}} => nothing\n`);
      const r = mvrc(['check', f], { cwd: dir });
      expect(r.status).to.be.oneOf([0, 1]);
      noStackTrace(r);
      const g = join(dir, 'deep2.mvr');
      writeFileSync(g, `read(_,s,_) if (${'('.repeat(10_000)}s.length > 0${')'.repeat(10_000)}) => nothing\n`);
      const r2 = mvrc(['check', g], { cwd: dir });
      expect(r2.status).to.be.oneOf([0, 1]);
      noStackTrace(r2);
      const h = join(dir, 'deep3.mvr');
      writeFileSync(h, `read(_,_,_) { ${'{'.repeat(10_000)} => nothing\n`);
      const r3 = mvrc(['check', h], { cwd: dir });
      expect(r3.status).to.equal(1);
      expect(r3.stderr).to.contain('MVR1002');
      noStackTrace(r3);
    });
  });

  describe('fmt', () => {
    it('prints the canonical form, --check flags unformatted files, --write fixes them', () => {
      const f = join(dir, 'fmt.mvr');
      writeFileSync(f, '// keep me\nopen(_,_,_)=>dup(_),lseek(_,_,_)   // and me\n');
      const out = mvrc(['fmt', f]);
      expect(out.status, out.stderr).to.equal(0);
      expect(out.stdout).to.contain('// keep me');
      expect(out.stdout).to.contain('// and me');
      expect(out.stdout).to.contain('open(_, _, _) => dup(_), lseek(_, _, _)');
      expect(mvrc(['fmt', '--check', f]).status).to.equal(1);
      expect(mvrc(['fmt', '--write', f]).status).to.equal(0);
      expect(readFileSync(f, 'utf8')).to.equal(out.stdout);
      expect(mvrc(['fmt', '--check', f]).status).to.equal(0);
    });
    it('refuses to rewrite a file that does not parse', () => {
      const f = join(dir, 'fmtbad.mvr');
      const text = 'open(_,_ => dup(_)\n';
      writeFileSync(f, text);
      const r = mvrc(['fmt', '--write', f]);
      expect(r.status).to.equal(1);
      expect(readFileSync(f, 'utf8')).to.equal(text);
      noStackTrace(r);
    });
  });
});
