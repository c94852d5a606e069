// Where the comparison of a strace trace starts (compiler/traces/startup.ts): the runtime's agent
// records from its constructor on, after the dynamic loader has loaded every shared object and a
// sanitizer run-time has initialised itself, so verify and infer leave that start-up out. A pair
// that differs only in the libraries it links (native vs ASan, one more library) verifies with no
// rule; a pair that differs in what main does still diverges, also in a library it dlopens later.
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { parseStraceTrace } from '../compiler/traces/strace.ts';
import { matchedEvents } from '../compiler/traces/verify.ts';
import { mvrc, tempDir } from './helpers/cli.ts';

const hx = (t: string): string => `"${[...Buffer.from(t)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}"`;

/** The loader's calls for one library (ld.so opens, reads the ELF header, fstat's, maps, closes). */
function load(pid: number, path: string): string[] {
  return [
    `${pid}  openat(AT_FDCWD, ${hx(path)}, O_RDONLY|O_CLOEXEC) = 3`,
    `${pid}  read(3, ${hx('\x7fELF\x02\x01\x01')}, 832) = 832`,
    `${pid}  newfstatat(3, "", {st_mode=S_IFREG|0755, st_size=1926232, ...}, AT_EMPTY_PATH) = 0`,
    `${pid}  mmap(NULL, 1970000, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3, 0) = 0x7f0000000000`,
    `${pid}  close(3) = 0`,
  ];
}

/** A program's strace output: the loader (libs), then `init` (a sanitizer's start-up), then main. */
function trace(pid: number, libs: string[], init: string[], main: string[]): string {
  return (
    [
      `${pid}  execve("./p", ["./p"], 0x7ffc8a5e0f18 /* 20 vars */) = 0`,
      `${pid}  brk(NULL) = 0x5555555000`,
      `${pid}  access(${hx('/etc/ld.so.preload')}, R_OK) = -1 ENOENT (No such file or directory)`,
      `${pid}  openat(AT_FDCWD, ${hx('/etc/ld.so.cache')}, O_RDONLY|O_CLOEXEC) = 3`,
      `${pid}  newfstatat(3, "", {st_mode=S_IFREG|0644, st_size=35267, ...}, AT_EMPTY_PATH) = 0`,
      `${pid}  close(3) = 0`,
      ...libs.flatMap((l) => load(pid, l)),
      `${pid}  arch_prctl(ARCH_SET_FS, 0x7f0000001740) = 0`,
      ...init.map((l) => `${pid}  ${l}`),
      ...main.map((l) => `${pid}  ${l}`),
      `${pid}  exit_group(0) = ?`,
      `${pid}  +++ exited with 0 +++`,
    ].join('\n') + '\n'
  );
}

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';
const ASAN_INIT = [
  `readlink(${hx('/proc/self/exe')}, ${hx('/tmp/p')}, 4096) = 6`,
  `open(${hx('/proc/self/maps')}, O_RDONLY) = 3`,
  `read(3, ${hx('55f59a86c000-55f59a871000 r--p 00000000 08:01 1 /tmp/p\n')}, 4096) = 57`,
  `read(3, "", 4039) = 0`,
  'close(3) = 0',
  'getpid() = 4242',
  'clock_gettime(CLOCK_MONOTONIC, {tv_sec=22427, tv_nsec=322780478}) = 0',
];
const main = (text: string): string[] => [
  `getrandom(${hx('\x01\x02\x03\x04\x05\x06\x07\x08')}, 8, GRND_NONBLOCK) = 8`,
  `openat(AT_FDCWD, ${hx('in.txt')}, O_RDONLY) = 3`,
  `read(3, ${hx(text)}, 4096) = ${text.length}`,
  `write(1, ${hx(text)}, ${text.length}) = ${text.length}`,
];

describe('strace traces are compared from where the runtime records (the loader, a sanitizer start-up)', function () {
  this.timeout(60_000);
  const dir = tempDir('mvrc-startup-');
  const put = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return name;
  };
  const none = put('none.mvr', '// the default match only\n');
  const verify = (a: string, b: string): ReturnType<typeof mvrc> => mvrc(['verify', none, '--leader-trace', a, '--follower-trace', b], { cwd: dir });
  const native = put('native.strace', trace(4242, [LIBC], [], main('one\n')));

  it('native vs ASan: other libraries and the sanitizer start-up are not compared; main is', () => {
    const asan = put('asan.strace', trace(5151, ['/lib/x86_64-linux-gnu/libasan.so.8', LIBC, '/lib/x86_64-linux-gnu/libm.so.6'], ASAN_INIT, main('one\n').slice(1)));
    const r = verify(native, asan);
    expect(r.status, r.stderr).to.equal(0);
    // main's calls and the exit (glibc's malloc seed, a getrandom of 8 bytes, comes before the
    // agent records: the agent's constructor mallocs first)
    expect(r.stdout).to.equal('verified: 4 follower calls against 4 leader events in 1 thread pair; rules used: default\n');
    const other = verify(native, put('asan-other.strace', trace(5151, ['/lib/x86_64-linux-gnu/libasan.so.8', LIBC], ASAN_INIT, main('uno\n').slice(1))));
    expect(other.status).to.equal(1);
    expect(other.stderr).to.match(/error MVR4101: divergence: .*follower call 2: write\(1, "uno\\n", 4\) = 4/);
  });

  it('the same program linked against one more library verifies; what main does still differs', () => {
    const more = put('more.strace', trace(5151, ['/lib/x86_64-linux-gnu/libresolv.so.2', LIBC], [], main('one\n')));
    expect(verify(native, more).status).to.equal(0);
    const diff = verify(native, put('more-other.strace', trace(5151, ['/lib/x86_64-linux-gnu/libresolv.so.2', LIBC], [], main('two\n'))));
    expect(diff.status).to.equal(1);
    expect(diff.stderr).to.contain('follower call 2: write(1, "two\\n", 4)');
  });

  it('without a sanitizer, calls about the process itself after the loader are compared', () => {
    const r = verify(native, put('selfq.strace', trace(5151, [LIBC], [], ['getpid() = 5151', ...main('one\n')])));
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/follower call 0: getpid\(\) = 5151/);
  });

  it('a library opened later (dlopen from main) is compared: only the start-up is left out', () => {
    const late = (pid: number, lib: string): string => trace(pid, [LIBC], [], [...main('one\n'), ...load(pid, lib).map((l) => l.replace(/^\d+ {2}/, ''))]);
    const a = put('late-a.strace', late(4242, '/usr/lib/x86_64-linux-gnu/libfoo.so.1'));
    expect(verify(a, put('late-b.strace', late(5151, '/usr/lib/x86_64-linux-gnu/libfoo.so.1'))).status).to.equal(0);
    const r = verify(a, put('late-c.strace', late(5151, '/usr/lib/x86_64-linux-gnu/libbar.so.1')));
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain('libbar.so.1');
  });

  it('matchedEvents (infer) leaves out what the stream (verify) leaves out', () => {
    const text = trace(5151, ['/lib/x86_64-linux-gnu/libasan.so.8', LIBC], ASAN_INIT, main('one\n'));
    const t = parseStraceTrace({ path: 'x.strace', text }, new DiagnosticBag());
    expect(matchedEvents(t).map((e) => e.name)).to.deep.equal(['openat', 'read', 'write', 'exit_group']);
  });
});
