// End-to-end tests of gathered writes and scattered reads under `mvrc run` (docs/runtime.md, "The
// syscall model and the agent"): the agent records an iovec array's, msghdr's or mmsghdr vector's
// bytes, so a follower writing other bytes through writev/sendmsg/sendmmsg is retired, and a
// follower reading through readv/recvmsg/recvmmsg gets the leader's bytes in its own iovecs;
// descriptors the leader receives (SCM_RIGHTS, any number) or makes with fcntl F_DUPFD reach the
// follower under the same numbers. Fixture: test/fixtures/mvr-iov.c.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, tempDir } from './helpers/cli.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CFLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O1'];

function mvrcRun(args: string[], input = '') {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' (npm test does it)`);
  const r = spawnSync(process.execPath, [CLI, 'run', ...args], { cwd: REPO, input, encoding: 'utf8', timeout: 100_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

describe('runtime: gathered writes and scattered reads', function () {
  this.timeout(120_000);
  let dir: string;
  let bin: string;

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    dir = tempDir('mvrc-iov-');
    bin = join(dir, 'iov');
    execFileSync('cc', [...CFLAGS, '-o', bin, join(REPO, 'test', 'fixtures', 'mvr-iov.c')]);
  });

  it('compares the bytes a follower writes with writev: the same pass, one different byte is a divergence', () => {
    const same = mvrcRun(['--', bin, 'writev', 'A', ':::', bin, 'writev', 'A']);
    expect(same.stderr, same.stderr).to.not.match(/retired/);
    expect(same.status).to.equal(0);
    expect(same.stdout).to.equal('reply A\n');
    const diff = mvrcRun(['--', bin, 'writev', 'A', ':::', bin, 'writev', 'B']);
    expect(diff.status).to.equal(0);
    expect(diff.stdout).to.equal('reply A\n');
    expect(diff.stderr).to.match(/retired: divergence at leader event #\d+/);
    expect(diff.stderr).to.contain('leader:   writev(1, "reply A\\n", 3) = 8');
    expect(diff.stderr).to.contain('follower: writev(1, "reply B\\n", 3)');
  });

  // The report's call lines cut long buffers: the `differs:` line says where the bytes differ
  // (the first differing byte, with the bytes around it), found by the syscall model.
  it('says where a follower\'s gathered write differs: the first differing byte, past what the call lines show', () => {
    const diff = mvrcRun(['--', bin, 'writev', `long-${'x'.repeat(60)}-A-tail`, ':::', bin, 'writev', `long-${'x'.repeat(60)}-B-tail`]);
    expect(diff.stderr).to.match(/retired: divergence at leader event #\d+/);
    expect(diff.stderr).to.contain('leader:   writev(1, "reply long-xxxxxxxxxxxxxxxxxxxxx"..., 3) = 79');
    expect(diff.stderr).to.contain('differs:  argument 2 at byte 72 (79 bytes vs 79): ..."xxxxxxxxxxxxxxx-B-tail\\n" (follower) vs ..."xxxxxxxxxxxxxxx-A-tail\\n" (leader)');
    const same = mvrcRun(['--', bin, 'writev', 'A', ':::', bin, 'writev', 'A']);
    expect(same.stderr).to.not.contain('differs:');
  });

  it('compares the data a follower sends with sendmsg: the same pass, one different byte is a divergence', () => {
    const same = mvrcRun(['--', bin, 'sendmsg', 'A', ':::', bin, 'sendmsg', 'A']);
    expect(same.stderr, same.stderr).to.not.match(/retired/);
    expect(same.stdout).to.equal('got 5: msg A\n');
    const diff = mvrcRun(['--', bin, 'sendmsg', 'A', ':::', bin, 'sendmsg', 'B']);
    expect(diff.stdout).to.equal('got 5: msg A\n');
    expect(diff.stderr).to.match(/retired: divergence at leader event #\d+/);
    expect(diff.stderr).to.contain('leader:   sendmsg(3, {msg_name=NULL, msg_iov="msg A"}, 0) = 5');
    expect(diff.stderr).to.contain('follower: sendmsg(3, {msg_name=NULL, msg_iov="msg B"}, 0)');
  });

  // The follower writes what it received: were the leader's bytes not scattered into its iovecs,
  // it would write the 'Z's its buffers start with, and be retired at that write.
  it('gives a follower the bytes the leader received with recvmsg, into its own iovecs', () => {
    const log = join(dir, 'recvmsg.log');
    const r = mvrcRun(['--follower-log', log, '--', bin, 'sendmsg', 'A', ':::', bin, 'sendmsg', 'A']);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.stdout).to.equal('got 5: msg A\n');
    expect(readFileSync(log, 'utf8')).to.equal('got 5: msg A\n');
  });

  it('gives a follower the bytes the leader read with readv, across its iovecs in order', () => {
    const log = join(dir, 'readv.log');
    const r = mvrcRun(['--follower-log', log, '--', bin, 'readv', ':::', bin, 'readv'], 'hello-readv');
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.equal('got 11: hello-readv\n');
    expect(readFileSync(log, 'utf8')).to.equal('got 11: hello-readv\n');
  });

  // msg_namelen and msg_flags start with values the kernel never gives here (77, 0x5a5a) and the
  // name buffer with 'Z's: the follower prints what it got, so each must be the leader's.
  it('gives a follower the source address, msg_namelen and msg_flags (MSG_TRUNC) of the leader\'s recvmsg', () => {
    const log = join(dir, 'trunc.log');
    const name = `mvr-iov-${process.pid}`;
    const r = mvrcRun(['--follower-log', log, '--', bin, 'trunc', name, ':::', bin, 'trunc', name]);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    const want = `got 64: ${'q'.repeat(64)}\nfrom ${name} namelen ${3 + name.length} flags 0x20\n`;
    expect(r.stdout).to.equal(want);
    expect(readFileSync(log, 'utf8')).to.equal(want);
  });

  // The follower maps the descriptor it received (mmap is local: each version makes it itself):
  // without the leader's descriptor installed under the number in the control data, its mmap
  // fails and it writes "scm: mmap failed", which differs from the leader's write.
  it('installs the descriptors a leader\'s recvmsg received (SCM_RIGHTS) in the follower under the same numbers', () => {
    const log = join(dir, 'scm.log');
    const r = mvrcRun(['--follower-log', log, '--', bin, 'scm', ':::', bin, 'scm']);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.equal('scm: hello-scm\n');
    expect(readFileSync(log, 'utf8')).to.equal('scm: hello-scm\n');
  });

  it('compares the messages a follower sends with sendmmsg: the same pass, other bytes are a divergence', () => {
    const name = `mvr-mm-${process.pid}`;
    const want = `msg 0: len 6 msg1 A from ${name} namelen ${3 + name.length} flags 0x0\nmsg 1: len 8 m2-A-two from ${name} namelen ${3 + name.length} flags 0x0\n`;
    const same = mvrcRun(['--', bin, 'sendmmsg', 'A', name, ':::', bin, 'sendmmsg', 'A', name]);
    expect(same.stderr, same.stderr).to.not.match(/retired/);
    expect(same.stdout).to.equal(want);
    const diff = mvrcRun(['--', bin, 'sendmmsg', 'A', name, ':::', bin, 'sendmmsg', 'B', name]);
    expect(diff.stdout).to.equal(want);
    expect(diff.stderr).to.match(/retired: divergence at leader event #\d+/);
    expect(diff.stderr).to.contain('leader:   sendmmsg(3, "msg1 Am2-A-two", 2, 0) = 2');
    expect(diff.stderr).to.contain('follower: sendmmsg(3, "msg1 Bm2-B-two", 2, 0)');
    expect(diff.stderr).to.contain('differs:  argument 2 at byte 5');
  });

  // Every receiving buffer starts with 'Z', msg_len with 99, msg_namelen with 77, msg_flags with
  // 0x5a5a: the follower prints each message's length, data, source address and flags, so each
  // must be the leader's, message by message.
  it('gives a follower every message the leader received with recvmmsg: data, msg_len, source address, flags', () => {
    const log = join(dir, 'recvmmsg.log');
    const name = `mvr-mm2-${process.pid}`;
    const r = mvrcRun(['--follower-log', log, '--', bin, 'sendmmsg', 'A', name, ':::', bin, 'sendmmsg', 'A', name]);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    const want = `msg 0: len 6 msg1 A from ${name} namelen ${3 + name.length} flags 0x0\nmsg 1: len 8 m2-A-two from ${name} namelen ${3 + name.length} flags 0x0\n`;
    expect(r.stdout).to.equal(want);
    expect(readFileSync(log, 'utf8')).to.equal(want);
  });

  // Five descriptors per message, two messages: more than one descriptor-channel message carries
  // (eight), so the leader's descriptors travel in several. The follower maps each one it got (a
  // local call): a descriptor missing under the leader's number prints "(mmap failed)".
  for (const mode of ['recvmsg', 'recvmmsg']) {
    it(`installs every descriptor a leader's ${mode} received (5 per message, SCM_RIGHTS) under the leader's numbers`, () => {
      const log = join(dir, `fds-${mode}.log`);
      const r = mvrcRun(['--follower-log', log, '--', bin, 'fds', '5', mode, ':::', bin, 'fds', '5', mode]);
      expect(r.stderr, r.stderr).to.not.match(/retired/);
      expect(r.status).to.equal(0);
      const want = 'fds: 0.0 0.1 0.2 0.3 0.4 1.0 1.1 1.2 1.3 1.4\n';
      expect(r.stdout).to.equal(want);
      expect(readFileSync(log, 'utf8')).to.equal(want);
    });
  }

  it('installs the descriptor fcntl F_DUPFD / F_DUPFD_CLOEXEC made in the leader under the same number', () => {
    const log = join(dir, 'dupfd.log');
    const r = mvrcRun(['--follower-log', log, '--', bin, 'dupfd', ':::', bin, 'dupfd']);
    expect(r.stderr, r.stderr).to.not.match(/retired/);
    expect(r.stdout).to.equal('dupfd: hello-dup hello-dup\n');
    expect(readFileSync(log, 'utf8')).to.equal('dupfd: hello-dup hello-dup\n');
  });

  it('compares pwritev\'s gathered bytes and gives preadv\'s to the follower', () => {
    const log = join(dir, 'pwritev.log');
    const same = mvrcRun(['--follower-log', log, '--', bin, 'pwritev', 'A', ':::', bin, 'pwritev', 'A']);
    expect(same.stderr, same.stderr).to.not.match(/retired/);
    expect(same.stdout).to.equal('got 3: p-A\n');
    expect(readFileSync(log, 'utf8')).to.equal('got 3: p-A\n');
    const diff = mvrcRun(['--', bin, 'pwritev', 'A', ':::', bin, 'pwritev', 'B']);
    expect(diff.stdout).to.equal('got 3: p-A\n');
    expect(diff.stderr).to.match(/retired: divergence at leader event #\d+/);
    expect(diff.stderr).to.match(/leader: +pwritev\(\d+, "p-A", 2, 0\) = 3/);
    expect(diff.stderr).to.match(/follower: +pwritev\(\d+, "p-B", 2, 0\)/);
  });
});
