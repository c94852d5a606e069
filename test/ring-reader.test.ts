// The one reader of the shared-memory rings (runtime-c/common/mvr_ringread.h), used by the
// follower's leader view, the monitor's record mode, journal and reports: a C program
// (test/fixtures/ring-reader.c) feeds it valid rings, wrapped records and corrupt headers and
// lengths under ASan + UBSan, and says per case whether the reader accepted or rejected as specified.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));

describe('ring reader (common/mvr_ringread.h) under ASan + UBSan', function () {
  this.timeout(120_000);
  let dir = '';
  let lines: string[] = [];
  let status: number | null = null;

  before(function () {
    if (process.platform !== 'linux') this.skip();
    dir = mkdtempSync(join(tmpdir(), 'mvrc-ringread-'));
    const exe = join(dir, 'ring-reader');
    execFileSync(process.env['CC'] ?? 'cc', [
      '-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O1', '-g',
      '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer',
      '-I', join(REPO, 'runtime-c', 'common'), '-I', join(REPO, 'runtime-c', 'include'), '-o', exe, join(REPO, 'test', 'fixtures', 'ring-reader.c'),
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
    const r = spawnSync(exe, [], { encoding: 'utf8' });
    status = r.status;
    lines = r.stdout.split('\n').filter((l) => l.length > 0);
    if (r.stderr) process.stderr.write(r.stderr);
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const accepts = ['event accepted', 'event buffers located', 'signal accepted', 'agent note accepted', 'end at head',
    'end before head is published', 'record before the wrap', 'pad to the end accepted', 'record after the wrap',
    '8-byte pad at the end', 'record filling the area'];
  const rejects = ['size 0 rejected (would never advance)', 'pad of size 0 rejected', 'size not a multiple of 8 rejected',
    'size past the published head rejected', 'size past the end of the area rejected', 'event smaller than its header rejected',
    'signal smaller than its header rejected', 'buffers longer than the record rejected', 'a huge buffer length rejected',
    'buffer lengths summing past the record rejected', 'pad that stops short of the end rejected', 'unknown kind rejected',
    'kind 0 rejected', 'misaligned position rejected', 'area size not a multiple of 8 rejected', 'area smaller than a header rejected'];

  it('runs to the end without a sanitizer report', () => {
    expect(lines.at(-1), lines.join('\n')).to.equal('0 failed');
    expect(status).to.equal(0);
  });

  it('accepts valid records, wrap-around and padding', () => {
    for (const name of accepts) expect(lines, name).to.include(`ok ${name}`);
  });

  it('rejects corrupt headers and lengths', () => {
    for (const name of rejects) expect(lines, name).to.include(`ok ${name}`);
  });
});
