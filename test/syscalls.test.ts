// The syscall table: numbers agree with the system's <sys/syscall.h>, the generated files are up
// to date, described parameters are self-consistent, and the facts other parts rely on hold.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { paramsOf } from '../compiler/syscalls/meaning.ts';
import {
  allSyscalls,
  editDistance,
  paramKindDescription,
  suggestSyscallName,
  syscallByName,
  syscallByNr,
} from '../compiler/syscalls/lookup.ts';
import { STRUCTS } from '../compiler/syscalls/table.generated.ts';
import { parseSyscallTsv } from '../scripts/gen-syscalls.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const INCLUDE = join(ROOT, 'runtime-c', 'include');
const FIXTURES = join(ROOT, 'test', 'fixtures');
const CC_FLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror'];

function run(cmd: string, args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function haveGcc(): boolean {
  return spawnSync('gcc', ['--version']).status === 0;
}

describe('syscall table', () => {
  describe('agreement with the C library headers and the generated C header', function () {
    let dir: string;
    before(function () {
      if (!haveGcc()) throw new Error("gcc is required for this test: run scripts/install-deps.sh");
      dir = mkdtempSync(join(tmpdir(), 'mvr-syscalls-'));
    });
    after(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('every number equals SYS_<name>, and the C table has that name at that index', () => {
      // One static assertion per syscall the system header knows: a wrong number is a compile error
      // (test/fixtures/syscall-numbers.c, with the table's entries as data).
      const lines = allSyscalls().flatMap((s) => [`#ifdef SYS_${s.name}`, `CHECK(${s.name}, ${s.nr}, ${s.arity})`, '#endif']);
      writeFileSync(join(dir, 'syscall-numbers.inc'), lines.join('\n') + '\n');
      const cc = run('gcc', [...CC_FLAGS, `-I${INCLUDE}`, `-I${dir}`, join(FIXTURES, 'syscall-numbers.c'), '-o', 'nrs'], dir);
      expect(cc.status, cc.out).to.equal(0);
      const r = run(join(dir, 'nrs'), [], dir);
      expect(r.status, r.out).to.equal(0);
      const m = /checked (\d+) bad 0/.exec(r.out);
      expect(m, r.out).to.not.equal(null);
      // glibc 2.36 knows 0..334 and 424..450: the check must have covered nearly all of them.
      expect(Number(m![1])).to.be.greaterThan(350);
    });

    it('knows every syscall name the system header defines', () => {
      // The macros <sys/syscall.h> defines, as the preprocessor sees them.
      const pp = run('gcc', ['-dM', '-E', '-x', 'c', '-include', 'sys/syscall.h', '/dev/null'], dir);
      expect(pp.status, pp.out).to.equal(0);
      const names = [...pp.out.matchAll(/^#define SYS_([a-z0-9_]+) /gm)].map((m) => m[1]!);
      expect(names.length).to.be.greaterThan(300);
      const missing = names.filter((n) => syscallByName(n) === undefined);
      expect(missing).to.deep.equal([]);
    });

    it('every structure layout agrees with the system headers: its size and every field\'s offset', () => {
      // The C type of each @struct (and the headers it needs) is in the data; one translation
      // unit per kernel header family, as <linux/...> and <asm/...> headers may clash with libc's.
      const libc = ['stddef.h', 'stdint.h', 'fcntl.h', 'poll.h', 'signal.h', 'sys/epoll.h', 'sys/resource.h', 'sys/select.h', 'sys/socket.h', 'sys/stat.h', 'sys/statfs.h', 'sys/sysinfo.h', 'sys/time.h', 'sys/times.h', 'sys/utsname.h', 'time.h', 'sched.h', 'sys/uio.h'];
      const units = new Map<string, { headers: Set<string>; lines: string[] }>();
      let checked = 0;
      for (const s of STRUCTS) {
        if (!s.ctype) continue;
        const headers = [...s.ctype.matchAll(/<([^>]+)>/g)].map((m) => m[1]!);
        const type = s.ctype.replace(/<[^>]+>/g, '').trim();
        const kernel = headers.some((h) => h.startsWith('linux/') || h.startsWith('asm/'));
        const key = kernel ? headers.join(',') : 'libc';
        const u = units.get(key) ?? { headers: new Set(kernel ? ['stddef.h', 'stdint.h'] : libc), lines: [] };
        headers.forEach((h) => u.headers.add(h));
        u.lines.push(`_Static_assert(sizeof(${type}) == ${s.size}, "${s.name}: sizeof(${type}) is not ${s.size}");`);
        checked++;
        // Fields by their C names (padding and private members have none to check).
        if (s.fields.length > 1 && !type.includes('[')) {
          for (const f of s.fields) {
            if (f.name.startsWith('_') || f.type === 'pad') continue;
            u.lines.push(`_Static_assert(offsetof(${type}, ${f.name}) == ${f.offset}, "${s.name}.${f.name}: offset is not ${f.offset}");`);
            checked++;
          }
        }
        units.set(key, u);
      }
      expect(checked).to.be.greaterThan(250);
      let k = 0;
      for (const u of units.values()) {
        const file = `layout${k++}.c`;
        writeFileSync(join(dir, file), ['#define _GNU_SOURCE', ...[...u.headers].map((h) => `#include <${h}>`), ...u.lines, 'int main(void) { return 0; }', ''].join('\n'));
        const cc = run('gcc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-c', file, '-o', `${file}.o`], dir);
        expect(cc.status, cc.out).to.equal(0);
      }
    });

    it('the header compiles cleanly in two translation units with -Werror', () => {
      const units = ['syscalls-header-tu1.c', 'syscalls-header-tu2.c'].map((f) => join(FIXTURES, f));
      const cc = run('gcc', [...CC_FLAGS, '-pedantic', `-I${INCLUDE}`, ...units, '-o', 'ab'], dir);
      expect(cc.status, cc.out).to.equal(0);
      const r = run(join(dir, 'ab'), [], dir);
      expect(r.out.trim()).to.equal('3 write 1 1 2 1');
    });
  });

  it('the generated files are up to date (gen-syscalls --check)', () => {
    const r = run(process.execPath, ['--import', 'tsx', 'scripts/gen-syscalls.ts', '--check'], ROOT);
    expect(r.status, r.out).to.equal(0);
  });

  it('is sorted by number with unique numbers and names, and look-ups agree', () => {
    const all = allSyscalls();
    expect(all.length).to.be.greaterThan(370);
    for (let i = 1; i < all.length; i++) expect(all[i]!.nr).to.be.greaterThan(all[i - 1]!.nr);
    expect(new Set(all.map((s) => s.name)).size).to.equal(all.length);
    for (const s of all) {
      expect(syscallByNr(s.nr)).to.equal(s);
      expect(syscallByName(s.name)).to.equal(s);
    }
    expect(syscallByName('no_such_call')).to.equal(undefined);
    expect(syscallByNr(400)).to.equal(undefined); // 335..423 mostly unused on x86-64
    expect(syscallByNr(-1)).to.equal(undefined);
  });

  it('describes every syscall, and the descriptions are self-consistent', () => {
    for (const s of allSyscalls()) {
      const where = `${s.name} (${s.nr})`;
      expect(s.detailed, `${where} is described`).to.equal(true);
      expect(s.arity, where).to.be.within(0, 6);
      expect(s.params.length, `${where}: arity matches parameter count`).to.equal(s.arity);
      expect(s.arity + (s.extra?.length ?? 0), `${where}: derived parameters fit in six`).to.be.at.most(6);
      if (s.fdParam !== undefined) expect(s.params[s.fdParam]?.kind, `${where}: fdParam names an fd`).to.equal('fd');
      // The runtime records every call that creates descriptors: the follower must hold them too.
      if (s.returnsFd || s.newFds !== undefined) expect(s.recorded, `${where}: recorded`).to.equal(true);
      if (s.ni) expect(s.effect, `${where}: not implemented, no effect`).to.equal('local');
      [...s.params, ...(s.extra ?? [])].forEach((p, i) => {
        const at = `${where} parameter ${i} ${p.name}`;
        const isBuffer = ['in_bytes', 'out_bytes', 'in_struct', 'out_struct'].includes(p.kind);
        const gathered = p.type === 'iovec' || p.type === 'msghdr' || p.type === 'mmsghdr';
        if (p.kind === 'out_bytes' || p.kind === 'out_struct') expect(p.dir, at).to.not.equal('in');
        else expect(p.dir, at).to.equal('in');
        if (!isBuffer) {
          expect(p.lenParam, at).to.equal(undefined);
          expect(p.fixedSize, at).to.equal(undefined);
          expect(p.lenFromRet, at).to.equal(undefined);
          expect(p.type, at).to.equal(undefined);
        }
        if (p.derived) {
          expect(i, `${at}: derived parameters come after the kernel's`).to.be.at.least(s.arity);
          expect(s.params[p.derived.from]?.type, `${at}: derived from a msghdr or mmsghdr`).to.be.oneOf(['msghdr', 'mmsghdr']);
          return;
        }
        if ((p.kind === 'in_bytes' || p.kind === 'out_bytes') && p.type !== 'msghdr') expect(p.lenParam, `${at}: bytes have a length parameter`).to.not.equal(undefined);
        if (isBuffer && !gathered) expect(p.lenParam !== undefined || p.fixedSize !== undefined, `${at}: sized`).to.equal(true);
        if (p.lenFromRet) expect(p.kind, at).to.be.oneOf(['out_bytes', 'out_struct']);
        if (p.lenParam !== undefined) {
          expect(p.lenParam, at).to.not.equal(i);
          const len = s.params[p.lenParam];
          expect(len, `${at}: lenParam in range`).to.not.equal(undefined);
          // A size, or a socklen_t the kernel reads and updates (accept, recvfrom, getsockopt).
          const valueResult = len!.kind === 'out_struct' && len!.fixedSize === 4 && len!.dir === 'inout';
          expect(len!.kind === 'size' || valueResult, `${at}: lenParam points at ${len!.name} (${len!.kind})`).to.equal(true);
        }
        // A fixed-size structure of a known layout is exactly that layout's size.
        const layout = p.type ? STRUCTS.find((x) => x.name === p.type) : undefined;
        if (layout && p.fixedSize !== undefined) expect(p.fixedSize, `${at}: the size of struct ${layout.name}`).to.equal(layout.size);
      });
    }
  });

  it('the issue\'s calls are described: setgroups, chroot, pselect6, the xattr family, fadvise64, and the gathered calls\' data', () => {
    expect(syscallByName('setgroups')!.params.map((p) => [p.kind, p.type ?? ''])).to.deep.equal([['size', ''], ['in_struct', 'u32']]);
    expect(syscallByName('chroot')!.params[0]!.kind).to.equal('path');
    // The kernel writes the time left back into pselect6's and ppoll's timeout, as into select's:
    // value-result memory, so the leader's record (taken after the call) is never compared with
    // the follower's timeout as passed, and the follower gets the time left.
    expect(syscallByName('pselect6')!.params[4]).to.include({ kind: 'out_struct', type: 'timespec', dir: 'inout' });
    expect(syscallByName('ppoll')!.params[2]).to.include({ kind: 'out_struct', type: 'timespec', dir: 'inout' });
    for (const n of ['getxattr', 'lgetxattr', 'fgetxattr', 'setxattr', 'listxattr', 'removexattr']) expect(syscallByName(n)!.detailed, n).to.equal(true);
    expect(syscallByName('lgetxattr')!.params.map((p) => p.kind)).to.deep.equal(['path', 'path', 'out_bytes', 'size']);
    expect(syscallByName('fadvise64')!.params[3]).to.include({ values: 'fadvise' });
    expect(syscallByName('writev')!.params[1]).to.include({ kind: 'in_bytes', type: 'iovec', lenParam: 2 });
    expect(syscallByName('writev')!.params[2]).to.include({ layout: true });
    expect(syscallByName('sendmsg')!.extra!.map((p) => p.derived!.part)).to.deep.equal(['name', 'control']);
    expect(syscallByName('recvmsg')!.extra!.map((p) => p.derived!.part)).to.deep.equal(['name', 'control', 'flags']);
    expect(syscallByName('recvmsg')!.newFds).to.equal('scm');
    expect(syscallByName('connect')!.params[1]).to.include({ type: 'sockaddr' });
  });

  it('describes the syscalls servers use', () => {
    const serverCalls = `read write open openat close pread64 pwrite64 readv writev lseek fstat stat lstat newfstatat
      statx access faccessat getdents64 readlink mkdir unlink unlinkat rename renameat renameat2 ftruncate
      fsync fdatasync chdir getcwd socket accept accept4 recvfrom sendto recvmsg sendmsg setsockopt
      getsockopt getsockname getpeername bind listen connect shutdown socketpair epoll_create
      epoll_create1 epoll_ctl epoll_wait epoll_pwait epoll_pwait2 poll ppoll select pselect6 eventfd2
      timerfd_create timerfd_settime timerfd_gettime signalfd4 pipe pipe2 dup dup2 dup3 fcntl ioctl
      mmap munmap mprotect mremap madvise brk rt_sigaction rt_sigprocmask rt_sigreturn sigaltstack kill
      tgkill tkill clone clone3 fork vfork execve exit exit_group wait4 getpid gettid getppid getuid
      geteuid getgid getegid setsid prctl arch_prctl set_tid_address set_robust_list rseq futex
      nanosleep clock_nanosleep clock_gettime gettimeofday time getrandom uname sysinfo getrlimit
      prlimit64 sched_yield sched_getaffinity sendfile splice`.split(/\s+/).filter((n) => n !== '');
    expect(serverCalls.length).to.be.greaterThan(110);
    const undescribed = serverCalls.filter((n) => syscallByName(n)?.detailed !== true);
    expect(undescribed).to.deep.equal([]);
  });

  describe('facts other parts rely on', () => {
    it('read is 0: (fd, out_bytes sized by count and written length = ret, size)', () => {
      const read = syscallByName('read')!;
      expect(read.nr).to.equal(0);
      expect(read.params.map((p) => p.kind)).to.deep.equal(['fd', 'out_bytes', 'size']);
      expect(read.params[1]).to.include({ lenParam: 2, lenFromRet: true, dir: 'out' });
      expect(read.fdParam).to.equal(0);
      expect(read.effect).to.equal('external'); // consumes input from a shared resource
    });

    it('write is 1, external, its bytes an in_bytes sized by count', () => {
      const write = syscallByName('write')!;
      expect(write.nr).to.equal(1);
      expect(write.effect).to.equal('external');
      expect(write.params[1]).to.include({ kind: 'in_bytes', lenParam: 2 });
    });

    it('effect classes', () => {
      const effect = (n: string): string | undefined => syscallByName(n)?.effect;
      for (const n of ['write', 'sendto', 'unlink', 'rename', 'kill', 'connect', 'bind', 'listen', 'shutdown', 'read', 'recvfrom', 'close', 'accept4', 'lseek']) {
        expect(effect(n), n).to.equal('external');
      }
      for (const n of ['mmap', 'munmap', 'rt_sigprocmask', 'rt_sigaction', 'brk', 'exit_group']) {
        expect(effect(n), n).to.equal('local');
      }
      // Process identity is observed, and replayed to the follower: servers print their pid
      // (every Redis log line), so the follower must see the leader's.
      for (const n of ['getpid', 'gettid', 'getppid', 'fstat', 'stat', 'access', 'getcwd', 'clock_gettime', 'newfstatat']) {
        expect(effect(n), n).to.equal('readonly');
      }
    });

    it('fixed x86-64 structure sizes', () => {
      expect(syscallByName('fstat')!.params[1]!.fixedSize).to.equal(144);
      expect(syscallByName('statx')!.params[4]!.fixedSize).to.equal(256);
      expect(syscallByName('clock_gettime')!.params[1]!.fixedSize).to.equal(16);
      expect(syscallByName('epoll_ctl')!.params[3]!.fixedSize).to.equal(12);
      // epoll_wait: an array of maxevents 12-byte events, ret of them written.
      expect(syscallByName('epoll_wait')!.params[1]).to.include({ lenParam: 2, fixedSize: 12, lenFromRet: true });
    });

    it('runtime policy: what is recorded, what creates tasks, what never returns', () => {
      const sc = (n: string) => syscallByName(n)!;
      for (const n of ['read', 'write', 'writev', 'sendmsg', 'wait4', 'waitid', 'exit', 'exit_group', 'pipe2', 'socket', 'dup']) expect(sc(n).recorded, n).to.equal(true);
      for (const n of ['mmap', 'futex', 'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'setgroups', 'chroot']) expect(sc(n).recorded, n).to.equal(false);
      expect(sc('clone').task).to.deep.equal({ how: 'clone', param: 0 });
      expect(sc('clone3').task).to.deep.equal({ how: 'clone3', param: 0 });
      expect(sc('vfork').task).to.deep.equal({ how: 'vfork' });
      expect(sc('execve').noReturn).to.equal('success');
      expect(sc('exit_group').noReturn).to.equal('always');
      expect(sc('pipe2').newFds).to.equal(0);
      expect(sc('accept4').blocks).to.equal(true);
    });

    it('per-command tables: fcntl, ioctl, prctl, futex, setsockopt', () => {
      const kinds = (n: string, args: number[]) => paramsOf(syscallByName(n)!, args.map(BigInt)).slice(0, syscallByName(n)!.arity).map((p) => (p!.unused ? 'unused' : `${p!.kind}${p!.type ? `:${p!.type}` : ''}`));
      expect(kinds('fcntl', [3, 3, 0])).to.deep.equal(['fd', 'int', 'unused']); // F_GETFL
      expect(kinds('fcntl', [3, 6, 0])).to.deep.equal(['fd', 'int', 'in_struct:flock']); // F_SETLK
      expect(kinds('fcntl', [3, 0x5a5a, 0])).to.deep.equal(['fd', 'int', 'int']); // unknown: compared
      expect(kinds('ioctl', [1, 0x5413, 0])).to.deep.equal(['fd', 'int', 'out_struct:winsize']); // TIOCGWINSZ
      expect(kinds('ioctl', [1, 0x1234, 0])).to.deep.equal(['fd', 'int', 'ptr']);
      expect(kinds('prctl', [15, 0, 0, 0, 0])).to.deep.equal(['int', 'in_struct:task_comm', 'unused', 'unused', 'unused']); // PR_SET_NAME
      expect(kinds('futex', [0, 129, 1, 0, 0, 0])).to.deep.equal(['ptr', 'int', 'int', 'unused', 'unused', 'unused']); // FUTEX_WAKE_PRIVATE
      expect(kinds('setsockopt', [3, 1, 13, 0, 8])).to.deep.equal(['fd', 'int', 'int', 'in_struct:linger', 'size']); // SO_LINGER
      expect(kinds('open', [0, 0o2000000, 0])).to.deep.equal(['path', 'flags', 'unused']);
      expect(kinds('open', [0, 0o100, 0])).to.deep.equal(['path', 'flags', 'flags']); // O_CREAT
    });

    it('fd-returning calls', () => {
      for (const n of ['open', 'openat', 'socket', 'accept', 'accept4', 'dup', 'dup2', 'dup3', 'epoll_create1', 'eventfd2', 'timerfd_create']) {
        expect(syscallByName(n)!.returnsFd, n).to.equal(true);
      }
      for (const n of ['read', 'close', 'pipe2', 'getpid']) expect(syscallByName(n)!.returnsFd, n).to.not.equal(true);
    });

    it('newer syscalls than the C library headers know are present', () => {
      expect(syscallByName('mseal')?.nr).to.equal(462);
      expect(syscallByName('file_setattr')?.nr).to.equal(469);
      expect(syscallByName('uretprobe')?.nr).to.equal(335);
    });
  });

  describe('the TSV parser rejects bad data with a line number', () => {
    const ok = '0\tread\t3\texternal\tfd=0\tfd:fd\tbuf:out_bytes[len=2,ret]\tcount:size\n';
    it('accepts a good line', () => {
      const r = parseSyscallTsv(`# comment\n${ok}`, 't.tsv');
      expect(r.errors).to.deep.equal([]);
      expect(r.syscalls[0]).to.deep.include({ name: 'read', nr: 0, arity: 3, detailed: true, fdParam: 0 });
    });
    const bad: [string, string, RegExp][] = [
      ['arity mismatch', '0\tread\t2\texternal\t-\tfd:fd\tbuf:out_bytes[len=2]\tcount:size', /arity 2 but 3 parameters/],
      ['unknown kind', '0\tread\t1\texternal\t-\tfd:fdd', /unknown kind 'fdd'/],
      ['lenParam at a non-size', '0\tread\t3\texternal\t-\tfd:fd\tbuf:out_bytes[len=0]\tcount:size', /neither a size/],
      ['out_bytes without a length', '0\tread\t3\texternal\t-\tfd:fd\tbuf:out_bytes\tcount:size', /needs len=N/],
      ['undescribed but local', '7\tfoo\t2\tlocal\t-\t?', /must be external/],
      ['fd= at a non-fd', '0\tread\t1\texternal\tfd=0\tn:int', /does not name an fd/],
      ['bad effect', '0\tread\t0\tsometimes\t-\tvoid', /effect 'sometimes'/],
    ];
    for (const [what, line, message] of bad) {
      it(what, () => {
        const r = parseSyscallTsv(`# header\n${line}\n`, 't.tsv');
        expect(r.errors).to.have.length(1);
        expect(r.errors[0]).to.match(/^t\.tsv:2: /);
        expect(r.errors[0]).to.match(message);
      });
    }
    const badData: [string, string, RegExp][] = [
      ['an unknown value set', '0\tread\t1\texternal\t-\tfd:fd[values=nope]', /no value set 'nope'/],
      ['an unknown struct', '0\tread\t1\texternal\t-\tp:in_struct[type=nope]', /no struct or built-in type 'nope'/],
      ['a name with two values', '@values a enum\nX\t1\n@values b enum\nX\t2', /X is 2 here but 1 on line/],
      ['overlapping fields', '@struct s 8\na\t0\tu32\nb\t2\tu32', /field b at 2 overlaps/],
      ['a field past the end', '@struct s 4\na\t0\tu64', /ends at 8, past the size 4/],
      ['a command of an unknown value', '0\tread\t1\texternal\t-\tfd:fd\n@commands read fd\nNOPE\tfd:int', /names a value no @values set defines/],
      ['a command of no such parameter', '@values v enum\nV\t1\n@syscalls\n0\tread\t1\texternal\t-\tfd:fd\n@commands read fd\nV\tnope:int', /has no parameter 'nope'/],
      ['gathered data without a count', '0\twritev\t2\texternal\t-\tfd:fd\tiov:in_bytes[type=iovec]', /needs len=N/],
      ['a derived parameter of no msghdr', '0\tx\t1\texternal\t-\tfd:fd\t|\tn:in_struct[from=0,part=name]', /not a msghdr/],
      ['a call that creates descriptors, not recorded', '0\tx\t0\tlocal\town,retfd\tvoid', /always rec|is recorded/],
    ];
    for (const [what, text, message] of badData) {
      it(what, () => {
        const r = parseSyscallTsv(`${text}\n`, 't.tsv');
        expect(r.errors.join('\n')).to.match(message);
        expect(r.errors[0]).to.match(/^t\.tsv:\d+: /);
      });
    }
    it('duplicate names and numbers', () => {
      const r = parseSyscallTsv(`${ok}${ok}${ok.replace('0\tread', '1\tread')}${ok.replace('\tread', '\tother')}`, 't.tsv');
      expect(r.errors.map((e) => e.replace(/:.*?: /, ': '))).to.deep.equal([
        't.tsv: read: duplicate name (first on line 1)',
        't.tsv: read: duplicate name (first on line 1)',
        't.tsv: other: duplicate number 0 (first on line 1)',
      ]);
    });
  });

  describe('names for messages', () => {
    it('suggests the closest name for a misspelling', () => {
      expect(suggestSyscallName('opne')).to.equal('open');
      expect(suggestSyscallName('acept')).to.equal('accept');
      expect(suggestSyscallName('epoll_wiat')).to.equal('epoll_wait');
      expect(suggestSyscallName('Read')).to.equal('read');
      expect(suggestSyscallName('rt_sigprocmsk')).to.equal('rt_sigprocmask');
    });
    it('suggests group names passed as extra', () => {
      expect(suggestSyscallName('calss', ['calls'])).to.equal('calls');
    });
    it('suggests nothing for known names or names far from everything', () => {
      expect(suggestSyscallName('read')).to.equal(undefined);
      expect(suggestSyscallName('calls', ['calls'])).to.equal(undefined);
      expect(suggestSyscallName('frobnicate_widget')).to.equal(undefined);
      expect(suggestSyscallName('')).to.equal(undefined);
    });
    it('edit distance counts a swap of neighbours as one edit', () => {
      expect(editDistance('open', 'opne')).to.equal(1);
      expect(editDistance('', 'abc')).to.equal(3);
      expect(editDistance('kitten', 'sitting')).to.equal(3);
    });
    it('describes parameter kinds', () => {
      expect(paramKindDescription('fd')).to.equal('a file descriptor');
      expect(paramKindDescription('in_bytes')).to.equal('input bytes');
      expect(paramKindDescription('path')).to.equal('a path');
    });
  });
});
