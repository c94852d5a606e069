// The percent-encoding of the control and handoff protocols' fields has one C implementation,
// runtime-c/common/mvr_pct.c (the monitor and the handoff library), and one TypeScript encoder,
// encodeWord (mvrc ctl). A C program (test/fixtures/pct.c, ASan + UBSan) checks that the C encoder
// writes the same bytes as encodeWord, that the C decoder gives every word back, and that it
// rejects bad escapes.
import { expect } from 'chai';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeWord } from '../compiler/cli/ctl.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));

describe('percent-encoding of protocol fields (common/mvr_pct.c and encodeWord)', function () {
  this.timeout(120_000);
  let dir = '';
  let exe = '';
  const run = (lines: string[]): string[] =>
    execFileSync(exe, [], { input: lines.join('\n') + '\n', encoding: 'utf8' }).split('\n').slice(0, lines.length);

  before(function () {
    if (process.platform !== 'linux') this.skip();
    dir = mkdtempSync(join(tmpdir(), 'mvrc-pct-'));
    exe = join(dir, 'pct');
    execFileSync(process.env['CC'] ?? 'cc', [
      '-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all',
      '-I', join(REPO, 'runtime-c', 'common'), '-o', exe, join(REPO, 'test', 'fixtures', 'pct.c'), join(REPO, 'runtime-c', 'common', 'mvr_pct.c'),
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the C encoder writes what encodeWord writes, and the C decoder gives the word back', () => {
    const words = fc.sample(fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0')), 300);
    words.push('a b', 'x\ny', '100%', 'é', 'env=K=v w', '\x7f\x1f ');
    const hex = words.map((w) => Buffer.from(w, 'utf8').toString('hex'));
    const enc = run(hex.map((h) => `E ${h}`));
    expect(enc).to.deep.equal(words.map(encodeWord));
    for (const e of enc) expect(e).to.not.match(/[ \n%](?![0-9A-F]{2})/);
    expect(run(enc.map((e) => `D ${e}`))).to.deep.equal(hex);
  });

  it('the decoder takes either case and rejects a bad escape', () => {
    expect(run(['D a%20b', 'D a%2fb', 'D %', 'D %4', 'D %zz', 'D %4g', 'D a%00b', 'D plain'])).to.deep.equal([
      '612062', '612f62', 'bad', 'bad', 'bad', 'bad', 'bad', '706c61696e',
    ]);
  });

  it('a short buffer gets whole escapes only', () => {
    // "a b": 'a' (1) + "%20" (3) + 'b' (1); cap counts the terminating 0.
    expect(run(['C 1 612062', 'C 2 612062', 'C 4 612062', 'C 5 612062', 'C 6 612062'])).to.deep.equal(['0 ', '1 a', '1 a', '4 a%20', '5 a%20b']);
  });
});
