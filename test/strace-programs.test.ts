// mvrc verify on strace recordings of real programs (the strace reader, the syscall model, the
// interpreter): two identical runs of ls -l, sort, python3, getent passwd root and nginx -t verify
// against each other with no rules; a program that makes the structured calls (gathered writes,
// messages with control data, socket addresses, fcntl's unused argument) verifies against a run
// that spells the same meaning differently, and each run that changes one meaningful byte is
// caught at that call, with where the calls differ.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mvrc, REPO, tempDir } from './helpers/cli.ts';

const hasStrace = spawnSync('strace', ['-V']).status === 0;

describe('mvrc verify on strace recordings of real programs', function () {
  this.timeout(300_000);
  const dir = tempDir('mvrc-strace-programs-');

  before(function () {
    if (!hasStrace) {
      console.log('      (skipped: strace is not installed; bash scripts/install-deps.sh installs it)');
      this.skip();
    }
    writeFileSync(join(dir, 'none.mvr'), '// the default match only\n');
  });

  /** Runs CMD under `strace -f -s 4096 -xx` into FILE (in the test's directory). */
  function trace(file: string, cmd: string[], opts: { cwd?: string; input?: string } = {}): string {
    const r = spawnSync('strace', ['-f', '-s', '4096', '-xx', '-o', join(dir, file), ...cmd], { cwd: opts.cwd ?? dir, encoding: 'utf8', input: opts.input ?? '' });
    expect(r.error, String(r.error)).to.equal(undefined);
    return file;
  }

  function verify(a: string, b: string): ReturnType<typeof mvrc> {
    return mvrc(['verify', 'none.mvr', '--leader-trace', a, '--follower-trace', b], { cwd: dir });
  }

  /** Two runs of the same command verify against each other with no rules. */
  function sameTwice(name: string, cmd: string[], opts: { cwd?: string; input?: string } = {}): void {
    const a = trace(`${name}-1.strace`, cmd, opts);
    const b = trace(`${name}-2.strace`, cmd, opts);
    const r = verify(a, b);
    expect(r.status, `${cmd.join(' ')}:\n${r.stderr}`).to.equal(0);
    expect(r.stdout).to.match(/^verified: (\d+) follower calls against \1 leader events in \d+ thread pairs?; rules used: default\n$/);
    expect(Number(/^verified: (\d+)/.exec(r.stdout)![1])).to.be.greaterThan(20);
  }

  it('ls -l', () => {
    const d = join(dir, 'listing');
    mkdirSync(d, { recursive: true });
    for (const f of ['a.txt', 'b.txt', 'c']) writeFileSync(join(d, f), f);
    sameTwice('ls', ['ls', '-l', d]);
  });

  it('sort', () => {
    writeFileSync(join(dir, 'lines.txt'), 'pear\napple\nfig\n');
    sameTwice('sort', ['sort', 'lines.txt']);
  });

  it('python3 -c', function () {
    // The interpreter itself, not a wrapper script (pyenv's shims are shell scripts).
    const exe = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout?.trim();
    if (!exe || !existsSync(exe)) this.skip();
    sameTwice('python3', [exe!, '-c', 'import os, json; print(json.dumps(sorted(os.listdir("."))[:3]))']);
  });

  it('getent passwd root (glibc probes nscd through a sockaddr_un first)', () => {
    sameTwice('getent', ['getent', 'passwd', 'root']);
  });

  it('nginx -t, when nginx is installed', function () {
    const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
    if (!nginx) {
      console.log('      (skipped: nginx is not installed; bash scripts/install-deps.sh installs it)');
      this.skip();
    }
    // A configuration of its own, everything under a private prefix; a first run creates the
    // temporary directories nginx makes on a test, so that the two traced runs find the same world.
    const prefix = join(dir, 'nginx');
    mkdirSync(join(prefix, 'logs'), { recursive: true });
    const conf = join(prefix, 'nginx.conf');
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(prefix, t)};`).join('\n');
    writeFileSync(conf, `pid ${join(prefix, 'nginx.pid')};\nerror_log ${join(prefix, 'logs', 'error.log')};\nevents {}\nhttp {\n  access_log off;\n${temp}\n  server { listen 127.0.0.1:8099; }\n}\n`);
    const cmd = [nginx!, '-t', '-q', '-p', prefix, '-c', conf, '-e', join(prefix, 'logs', 'error.log')];
    spawnSync(cmd[0]!, cmd.slice(1));
    sameTwice('nginx', cmd);
  });

  describe('structured calls (test/fixtures/mvr-structs.c)', () => {
    let prog: string;
    before(function () {
      if (spawnSync('cc', ['--version']).status !== 0) this.skip();
      prog = join(dir, 'mvr-structs');
      const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-O1', '-o', prog, join(REPO, 'test', 'fixtures', 'mvr-structs.c')], { encoding: 'utf8' });
      expect(cc.status, cc.stderr).to.equal(0);
    });

    it('the same meaning spelled differently verifies: other iovec splits, bytes after the path NUL, address lengths, sin_zero, fcntl\'s unused argument, pointers', () => {
      const a = trace('structs-a.strace', [prog, 'a']);
      const b = trace('structs-b.strace', [prog, 'b']);
      // The two traces do differ in what strace shows.
      expect(readFileSync(join(dir, a), 'utf8').replace(/^\d+ +/gm, '')).not.to.equal(readFileSync(join(dir, b), 'utf8').replace(/^\d+ +/gm, ''));
      const r = verify(a, b);
      expect(r.status, r.stderr).to.equal(0);
    });

    it('a rule binds a gathered write\'s data as bytes: writev(fd, data, _) reconciles the changed write', () => {
      const a = trace('structs-a.strace', [prog, 'a']);
      const c = trace('structs-writev.strace', [prog, 'b', 'writev']);
      writeFileSync(join(dir, 'hello.mvr'), 'writev(fd, data, _) if (data.startsWith("hello world")) => writev(fd, d, _) if (d.startsWith("hello World"))\n');
      const r = mvrc(['verify', 'hello.mvr', '--leader-trace', a, '--follower-trace', c], { cwd: dir });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/rules used: default, hello\.mvr:1\n$/);
      // The guard sees the gathered bytes: one that does not hold leaves the divergence.
      writeFileSync(join(dir, 'other.mvr'), 'writev(fd, data, _) if (data.startsWith("goodbye")) => writev(fd, d, _)\n');
      const r2 = mvrc(['verify', 'other.mvr', '--leader-trace', a, '--follower-trace', c], { cwd: dir });
      expect(r2.status).to.equal(1);
      expect(r2.stderr).to.contain('MVR4101');
    });

    const changes: [string, string, RegExp][] = [
      ['writev', 'writev', /writev\(1, "hello World\\n", 3\) = 12 vs leader event \d+: writev\(1, "hello world\\n", 2\) = 12; they differ in iov at byte 6 \(12 bytes each\)/],
      ['sendmsg', 'sendmsg', /sendmsg\(\d+, \{msg_name=NULL, msg_iov="mesSage!".*; they differ in msg at byte 3 \(8 bytes each\): "mesSage!" \(follower\) vs "message!" \(leader\)/],
      ['path', 'connect', /connect\(\d+, \{sa_family=AF_UNIX, sun_path="\/nonexistent\/mvr-socke"\}.*; they differ in addr from byte 24 \(one is longer\)/],
      ['port', 'sendto', /sendto\(\d+, "x", 1, 0, \{sa_family=AF_INET, sin_port=htons\(10\).*; they differ in dest_addr at byte 3 \(8 bytes each\)/],
    ];
    for (const [change, call, message] of changes) {
      it(`one meaningful byte changed is caught at its ${call}: ${change}`, () => {
        const a = trace('structs-a.strace', [prog, 'a']);
        const c = trace(`structs-${change}.strace`, [prog, 'b', change]);
        const r = verify(a, c);
        expect(r.status, r.stderr).to.equal(1);
        const line = readFileSync(join(dir, c), 'utf8').split('\n').findIndex((l) => new RegExp(`^\\d+ +${call}\\(`).test(l)) + 1;
        expect(r.stderr).to.match(new RegExp(`^structs-${change}\\.strace:${line}:1: error MVR4101: divergence: `, 'm'));
        expect(r.stderr).to.match(message);
      });
    }
  });
});
