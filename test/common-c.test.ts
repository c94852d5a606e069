// The C runtime's shared primitives (runtime-c/common), each driven by a C program under ASan +
// UBSan that prints "ok NAME" / "not ok NAME: why" per case and "N failed" at the end:
//  - the one reader of the shared-memory rings (mvr_ringread.h), used by the follower's leader
//    view and the monitor's record mode, journal and reports: valid rings, wrapped records and
//    corrupt headers and lengths (test/fixtures/ring-reader.c);
//  - the string builder's fixed-buffer mode, the agent's report builder, and the one rule
//    formatter of both reports (test/fixtures/strbuf-fixed.c).
// Each buffer is its own exact allocation, so a read or write past it stops the program.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const RT = join(REPO, 'runtime-c');

function buildAndRun(dir: string, name: string, sources: string[]): { lines: string[]; status: number | null } {
  const exe = join(dir, name);
  execFileSync(process.env['CC'] ?? 'cc', [
    '-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O1', '-g',
    '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer',
    '-I', join(RT, 'common'), '-I', join(RT, 'include'), '-o', exe, join(REPO, 'test', 'fixtures', `${name}.c`), ...sources,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  const r = spawnSync(exe, [], { encoding: 'utf8' });
  if (r.stderr) process.stderr.write(r.stderr);
  return { lines: r.stdout.split('\n').filter((l) => l.length > 0), status: r.status };
}

describe('C runtime primitives (runtime-c/common) under ASan + UBSan', function () {
  this.timeout(120_000);
  let dir = '';
  before(function () {
    if (process.platform !== 'linux') this.skip();
    dir = mkdtempSync(join(tmpdir(), 'mvrc-common-c-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('ring reader (mvr_ringread.h)', () => {
    let out = { lines: [] as string[], status: null as number | null };
    before(() => {
      out = buildAndRun(dir, 'ring-reader', []);
    });
    const accepts = ['event accepted', 'event buffers located', 'signal accepted', 'agent note accepted', 'end at head',
      'end before head is published', 'record before the wrap', 'pad to the end accepted', 'record after the wrap',
      '8-byte pad at the end', 'record filling the area', 'clock_gettime record read as its event',
      'gettimeofday record read as its event', 'time(NULL) record read as its event'];
    const rejects = ['size 0 rejected (would never advance)', 'pad of size 0 rejected', 'size not a multiple of 8 rejected',
      'size past the published head rejected', 'size past the end of the area rejected', 'event smaller than its header rejected',
      'signal smaller than its header rejected', 'buffers longer than the record rejected', 'a huge buffer length rejected',
      'buffer lengths summing past the record rejected', 'pad that stops short of the end rejected', 'unknown kind rejected',
      'kind 0 rejected', 'misaligned position rejected', 'area size not a multiple of 8 rejected', 'area smaller than a header rejected',
      'clock record of another size rejected', 'clock record of another call rejected'];

    it('runs to the end without a sanitizer report', () => {
      expect(out.lines.at(-1), out.lines.join('\n')).to.equal('0 failed');
      expect(out.status).to.equal(0);
    });
    it('accepts valid records, wrap-around and padding', () => {
      for (const name of accepts) expect(out.lines, name).to.include(`ok ${name}`);
    });
    it('rejects corrupt headers and lengths', () => {
      for (const name of rejects) expect(out.lines, name).to.include(`ok ${name}`);
    });
  });

  describe('fixed-buffer string builder (mvr_strbuf.h) and report formatting (mvr_decode.h)', () => {
    let out = { lines: [] as string[], status: null as number | null };
    before(() => {
      const common = ['mvr_strbuf.c', 'mvr_decode.c', 'mvr_util.c', 'mvr_sysinfo.c'].map((f) => join(RT, 'common', f));
      out = buildAndRun(dir, 'strbuf-fixed', common);
    });
    const cases = ['fits', 'add cut at the buffer', 'full stays full', 'free empties', 'printf cut at the buffer',
      'hex cut at a whole byte', 'a 1-byte buffer holds the empty string', 'tail and advance', 'advance clamps to the buffer',
      'growable grows', 'rule text', 'named rule text', 'rule out of the table', 'default rule text'];

    it('runs to the end without a sanitizer report', () => {
      expect(out.lines.at(-1), out.lines.join('\n')).to.equal('0 failed');
      expect(out.status).to.equal(0);
    });
    it('never writes past the buffer, cuts what does not fit and says so', () => {
      for (const name of cases) expect(out.lines, name).to.include(`ok ${name}`);
    });
  });
});
