// mvrc verify on traces our own recorder wrote (`mvrc record`, the agent recording by the syscall
// model): two identical runs of ls -l, sort and python3 verify against each other with no rules —
// no pointer value, unused argument or padding byte is compared —, and a run with other input is
// caught where its output differs. The strace variant is test/strace-programs.test.ts.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mvrc, REPO, tempDir } from './helpers/cli.ts';

const CFLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O1'];

describe('mvrc verify on mvrc record traces of real programs', function () {
  this.timeout(300_000);
  let dir: string;

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    dir = tempDir('mvrc-record-programs-');
    writeFileSync(join(dir, 'none.mvr'), '// the default match only\n');
  });

  /** Records CMD (run in CWD, the test's directory by default) into FILE. */
  function record(file: string, cmd: string[], cwd = dir): string {
    const r = mvrc(['record', '-o', join(dir, file), '--', ...cmd], { cwd });
    expect(r.stderr, r.stderr).to.not.match(/error/);
    return file;
  }

  function verify(a: string, b: string): ReturnType<typeof mvrc> {
    return mvrc(['verify', 'none.mvr', '--leader-trace', a, '--follower-trace', b], { cwd: dir });
  }

  function sameTwice(name: string, cmd: string[], cwd = dir, atLeast = 20): void {
    const a = record(`${name}-1.jsonl`, cmd, cwd);
    const b = record(`${name}-2.jsonl`, cmd, cwd);
    const r = verify(a, b);
    expect(r.status, `${cmd.join(' ')}:\n${r.stderr}`).to.equal(0);
    expect(r.stdout).to.match(/^verified: (\d+) follower calls against \1 leader events in \d+ thread pairs?; rules used: default\n$/);
    expect(Number(/^verified: (\d+)/.exec(r.stdout)![1])).to.be.greaterThan(atLeast);
  }

  it('ls -l', () => {
    const d = join(dir, 'listing');
    mkdirSync(d, { recursive: true });
    for (const f of ['a.txt', 'b.txt', 'c']) writeFileSync(join(d, f), f);
    sameTwice('ls', ['ls', '-l', d]);
  });

  it('sort, and sort of other lines is caught where its output differs', () => {
    for (const [sub, text] of [['one', 'pear\napple\nfig\n'], ['two', 'pear\napple\nfog\n']] as const) {
      mkdirSync(join(dir, sub), { recursive: true });
      writeFileSync(join(dir, sub, 'lines.txt'), text);
    }
    sameTwice('sort', ['sort', 'lines.txt'], join(dir, 'one'));
    const other = record('sort-other.jsonl', ['sort', 'lines.txt'], join(dir, 'two'));
    const r = verify('sort-1.jsonl', other);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/error MVR4101: divergence: .*follower call \d+: write\(1, "apple\\nfig\\npear\\n"|error MVR4101: divergence: .*write\(1, "apple\\nfog\\npear\\n"/);
    expect(r.stderr).to.contain('at byte 7');
  });

  it('python3 -c', function () {
    // The interpreter itself, not a wrapper script (pyenv's shims are shell scripts).
    const exe = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout?.trim();
    if (!exe || !existsSync(exe)) this.skip();
    sameTwice('python3', [exe!, '-c', 'import os, json; print(json.dumps(sorted(os.listdir("."))[:3]))']);
  });

  // sendmmsg's messages and recvmmsg's are recorded by their data and layout (docs/traces.md):
  // two runs sending the same verify, a run sending other bytes is caught at its sendmmsg.
  it('a program sending with sendmmsg: the same verify, other bytes are caught at sendmmsg', () => {
    const bin = join(dir, 'iov');
    execFileSync('cc', [...CFLAGS, '-o', bin, join(REPO, 'test', 'fixtures', 'mvr-iov.c')]);
    const name = `mvr-rec-${process.pid}`;
    sameTwice('mmsg', [bin, 'sendmmsg', 'A', name], dir, 5);
    const other = record('mmsg-other.jsonl', [bin, 'sendmmsg', 'B', name]);
    const r = verify('mmsg-1.jsonl', other);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/error MVR4101: divergence: .*sendmmsg\(3, "msg1 Bm2-B-two", 2, 0\)/);
  });
});
