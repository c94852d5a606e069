// Reads strace output (`strace -f -s 4096 -xx -o FILE CMD...`) into the trace model of
// compiler/traces/trace.ts, so that `mvrc verify` / `mvrc infer` can compare runs recorded without mvrc.
//
// What is read (docs/traces.md, "strace input"):
// - a line per call, `name(args) = ret`, optionally prefixed by a pid (`1234  ` with -f -o FILE,
//   `[pid 1234] ` on stderr) and by a timestamp (-t/-tt/-ttt), optionally followed by ` <0.000012>`
//   (-T); `thread` is the pid (0 for lines without one), the first thread seen is the main thread
//   (the others' creation order, by which verify and infer pair them: traceThreads in trace.ts);
// - `<unfinished ...>` / `<... name resumed>` pairs: one event, at the line where it started; a
//   call never resumed (its process exited) is an event that did not return;
// - `--- SIGINT {...} ---`: a signal delivered before the thread's next event;
// - `+++ exited with N +++`, `+++ killed by SIGKILL +++`, `strace: ...` messages: ignored;
// - `= -1 ENOENT (...)`: ret = -errno; `= ?`: the call did not return (noRet);
// - arguments by the syscall table's parameter kinds: integers in decimal, hex or (leading 0)
//   octal, `NULL`, `AT_FDCWD`, symbolic constants and `A|B|0x10` flag sets (a table of the common
//   ones below; an expression with a name the table lacks gets a value derived from its text, see
//   symbolicValue); `"..."` strings become the argument's bytes (\xNN and the C escapes), a
//   trailing `...` marks them cut (truncated); structures and arrays (`{...}`, `[...]`) give no
//   bytes.
// Lines that cannot be read are MVR9006, unknown syscall names MVR9007; reading goes on.
import { Diag } from '../core/diagnostic-messages.ts';
import type { DiagnosticBag } from '../core/diagnostics.ts';
import { knownErrnos } from '../syscalls/decode.ts';
import { span, type SourceFile, type Span } from '../core/span.ts';
import { syscallByName, syscallByNr } from '../syscalls/lookup.ts';
import type { ParamKind } from '../syscalls/types.ts';
import type { Trace, TraceEvent } from './trace.ts';

// ---------------------------------------------------------------------------------------------
// Symbolic constants (x86-64 Linux values, as strace prints them)

const CONSTANTS = new Map<string, bigint>();
function def(entries: Record<string, number | bigint>): void {
  for (const [k, v] of Object.entries(entries)) CONSTANTS.set(k, BigInt(v));
}
def({
  NULL: 0,
  AT_FDCWD: -100,
  // open(2)
  O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2, O_ACCMODE: 3, O_CREAT: 0o100, O_EXCL: 0o200, O_NOCTTY: 0o400,
  O_TRUNC: 0o1000, O_APPEND: 0o2000, O_NONBLOCK: 0o4000, O_NDELAY: 0o4000, O_DSYNC: 0o10000,
  O_ASYNC: 0o20000, FASYNC: 0o20000, O_DIRECT: 0o40000, O_LARGEFILE: 0o100000, O_DIRECTORY: 0o200000,
  O_NOFOLLOW: 0o400000, O_NOATIME: 0o1000000, O_CLOEXEC: 0o2000000, O_SYNC: 0o4010000,
  O_PATH: 0o10000000, O_TMPFILE: 0o20200000,
  S_IFMT: 0o170000, S_IFSOCK: 0o140000, S_IFLNK: 0o120000, S_IFREG: 0o100000, S_IFBLK: 0o60000,
  S_IFDIR: 0o40000, S_IFCHR: 0o20000, S_IFIFO: 0o10000, S_ISUID: 0o4000, S_ISGID: 0o2000, S_ISVTX: 0o1000,
  // *at(2), access(2), statx(2)
  AT_SYMLINK_NOFOLLOW: 0x100, AT_REMOVEDIR: 0x200, AT_EACCESS: 0x200, AT_SYMLINK_FOLLOW: 0x400,
  AT_NO_AUTOMOUNT: 0x800, AT_EMPTY_PATH: 0x1000, AT_STATX_SYNC_AS_STAT: 0, AT_STATX_FORCE_SYNC: 0x2000,
  AT_STATX_DONT_SYNC: 0x4000, AT_RECURSIVE: 0x8000,
  STATX_TYPE: 1, STATX_MODE: 2, STATX_NLINK: 4, STATX_UID: 8, STATX_GID: 0x10, STATX_ATIME: 0x20,
  STATX_MTIME: 0x40, STATX_CTIME: 0x80, STATX_INO: 0x100, STATX_SIZE: 0x200, STATX_BLOCKS: 0x400,
  STATX_BASIC_STATS: 0x7ff, STATX_BTIME: 0x800, STATX_ALL: 0xfff, STATX_MNT_ID: 0x1000,
  F_OK: 0, X_OK: 1, W_OK: 2, R_OK: 4,
  // sockets
  AF_UNSPEC: 0, AF_UNIX: 1, AF_LOCAL: 1, AF_INET: 2, AF_INET6: 10, AF_NETLINK: 16, AF_PACKET: 17,
  PF_UNSPEC: 0, PF_UNIX: 1, PF_LOCAL: 1, PF_INET: 2, PF_INET6: 10, PF_NETLINK: 16, PF_PACKET: 17,
  SOCK_STREAM: 1, SOCK_DGRAM: 2, SOCK_RAW: 3, SOCK_RDM: 4, SOCK_SEQPACKET: 5, SOCK_DCCP: 6,
  SOCK_PACKET: 10, SOCK_NONBLOCK: 0o4000, SOCK_CLOEXEC: 0o2000000,
  IPPROTO_IP: 0, IPPROTO_ICMP: 1, IPPROTO_TCP: 6, IPPROTO_UDP: 17, IPPROTO_IPV6: 41,
  IPPROTO_ICMPV6: 58, IPPROTO_SCTP: 132, IPPROTO_RAW: 255,
  SOL_IP: 0, SOL_SOCKET: 1, SOL_TCP: 6, SOL_UDP: 17, SOL_IPV6: 41,
  SO_DEBUG: 1, SO_REUSEADDR: 2, SO_TYPE: 3, SO_ERROR: 4, SO_DONTROUTE: 5, SO_BROADCAST: 6,
  SO_SNDBUF: 7, SO_RCVBUF: 8, SO_KEEPALIVE: 9, SO_OOBINLINE: 10, SO_NO_CHECK: 11, SO_PRIORITY: 12,
  SO_LINGER: 13, SO_BSDCOMPAT: 14, SO_REUSEPORT: 15, SO_PASSCRED: 16, SO_PEERCRED: 17,
  SO_RCVLOWAT: 18, SO_SNDLOWAT: 19, SO_RCVTIMEO: 20, SO_RCVTIMEO_OLD: 20, SO_SNDTIMEO: 21,
  SO_SNDTIMEO_OLD: 21, SO_ACCEPTCONN: 30, SO_SNDBUFFORCE: 32, SO_RCVBUFFORCE: 33, SO_PROTOCOL: 38,
  SO_DOMAIN: 39,
  TCP_NODELAY: 1, TCP_MAXSEG: 2, TCP_CORK: 3, TCP_KEEPIDLE: 4, TCP_KEEPINTVL: 5, TCP_KEEPCNT: 6,
  TCP_SYNCNT: 7, TCP_LINGER2: 8, TCP_DEFER_ACCEPT: 9, TCP_INFO: 11, TCP_QUICKACK: 12,
  TCP_USER_TIMEOUT: 18, TCP_FASTOPEN: 23,
  MSG_OOB: 0x1, MSG_PEEK: 0x2, MSG_DONTROUTE: 0x4, MSG_CTRUNC: 0x8, MSG_TRUNC: 0x20,
  MSG_DONTWAIT: 0x40, MSG_EOR: 0x80, MSG_WAITALL: 0x100, MSG_NOSIGNAL: 0x4000, MSG_MORE: 0x8000,
  MSG_WAITFORONE: 0x10000, MSG_CMSG_CLOEXEC: 0x40000000,
  SHUT_RD: 0, SHUT_WR: 1, SHUT_RDWR: 2,
  // epoll, eventfd, timerfd, signalfd, inotify, memfd
  EPOLL_CLOEXEC: 0o2000000, EPOLL_CTL_ADD: 1, EPOLL_CTL_DEL: 2, EPOLL_CTL_MOD: 3,
  EPOLLIN: 0x1, EPOLLPRI: 0x2, EPOLLOUT: 0x4, EPOLLERR: 0x8, EPOLLHUP: 0x10, EPOLLNVAL: 0x20,
  EPOLLRDNORM: 0x40, EPOLLRDBAND: 0x80, EPOLLWRNORM: 0x100, EPOLLWRBAND: 0x200, EPOLLMSG: 0x400,
  EPOLLRDHUP: 0x2000, EPOLLEXCLUSIVE: 1 << 28, EPOLLWAKEUP: 1 << 29, EPOLLONESHOT: 1 << 30,
  EPOLLET: 0x80000000n,
  EFD_SEMAPHORE: 1, EFD_NONBLOCK: 0o4000, EFD_CLOEXEC: 0o2000000,
  TFD_NONBLOCK: 0o4000, TFD_CLOEXEC: 0o2000000, TFD_TIMER_ABSTIME: 1, TFD_TIMER_CANCEL_ON_SET: 2,
  SFD_NONBLOCK: 0o4000, SFD_CLOEXEC: 0o2000000, IN_NONBLOCK: 0o4000, IN_CLOEXEC: 0o2000000,
  MFD_CLOEXEC: 1, MFD_ALLOW_SEALING: 2, MFD_HUGETLB: 4,
  POLLIN: 0x1, POLLPRI: 0x2, POLLOUT: 0x4, POLLERR: 0x8, POLLHUP: 0x10, POLLNVAL: 0x20,
  POLLRDNORM: 0x40, POLLRDBAND: 0x80, POLLWRNORM: 0x100, POLLWRBAND: 0x200, POLLRDHUP: 0x2000,
  // memory
  PROT_NONE: 0, PROT_READ: 1, PROT_WRITE: 2, PROT_EXEC: 4, PROT_GROWSDOWN: 0x1000000, PROT_GROWSUP: 0x2000000,
  MAP_SHARED: 1, MAP_PRIVATE: 2, MAP_SHARED_VALIDATE: 3, MAP_FIXED: 0x10, MAP_ANONYMOUS: 0x20,
  MAP_ANON: 0x20, MAP_32BIT: 0x40, MAP_GROWSDOWN: 0x100, MAP_DENYWRITE: 0x800, MAP_EXECUTABLE: 0x1000,
  MAP_LOCKED: 0x2000, MAP_NORESERVE: 0x4000, MAP_POPULATE: 0x8000, MAP_NONBLOCK: 0x10000,
  MAP_STACK: 0x20000, MAP_HUGETLB: 0x40000, MAP_SYNC: 0x80000, MAP_FIXED_NOREPLACE: 0x100000,
  MREMAP_MAYMOVE: 1, MREMAP_FIXED: 2, MREMAP_DONTUNMAP: 4,
  MADV_NORMAL: 0, MADV_RANDOM: 1, MADV_SEQUENTIAL: 2, MADV_WILLNEED: 3, MADV_DONTNEED: 4, MADV_FREE: 8,
  MADV_REMOVE: 9, MADV_DONTFORK: 10, MADV_DOFORK: 11, MADV_MERGEABLE: 12, MADV_UNMERGEABLE: 13,
  MADV_HUGEPAGE: 14, MADV_NOHUGEPAGE: 15, MADV_DONTDUMP: 16, MADV_DODUMP: 17,
  MCL_CURRENT: 1, MCL_FUTURE: 2, MCL_ONFAULT: 4,
  // files and processes
  SEEK_SET: 0, SEEK_CUR: 1, SEEK_END: 2, SEEK_DATA: 3, SEEK_HOLE: 4,
  F_DUPFD: 0, F_GETFD: 1, F_SETFD: 2, F_GETFL: 3, F_SETFL: 4, F_GETLK: 5, F_SETLK: 6, F_SETLKW: 7,
  F_SETOWN: 8, F_GETOWN: 9, F_SETSIG: 10, F_GETSIG: 11, F_SETOWN_EX: 15, F_GETOWN_EX: 16,
  F_OFD_GETLK: 36, F_OFD_SETLK: 37, F_OFD_SETLKW: 38, F_SETLEASE: 1024, F_GETLEASE: 1025,
  F_NOTIFY: 1026, F_DUPFD_CLOEXEC: 1030, F_SETPIPE_SZ: 1031, F_GETPIPE_SZ: 1032, F_ADD_SEALS: 1033,
  F_GET_SEALS: 1034, FD_CLOEXEC: 1,
  LOCK_SH: 1, LOCK_EX: 2, LOCK_NB: 4, LOCK_UN: 8,
  SIG_BLOCK: 0, SIG_UNBLOCK: 1, SIG_SETMASK: 2,
  CLOCK_REALTIME: 0, CLOCK_MONOTONIC: 1, CLOCK_PROCESS_CPUTIME_ID: 2, CLOCK_THREAD_CPUTIME_ID: 3,
  CLOCK_MONOTONIC_RAW: 4, CLOCK_REALTIME_COARSE: 5, CLOCK_MONOTONIC_COARSE: 6, CLOCK_BOOTTIME: 7,
  CLOCK_REALTIME_ALARM: 8, CLOCK_BOOTTIME_ALARM: 9, CLOCK_TAI: 11, TIMER_ABSTIME: 1,
  ITIMER_REAL: 0, ITIMER_VIRTUAL: 1, ITIMER_PROF: 2,
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
  RUSAGE_SELF: 0, RUSAGE_CHILDREN: -1, RUSAGE_THREAD: 1,
  WNOHANG: 1, WUNTRACED: 2, WSTOPPED: 2, WEXITED: 4, WCONTINUED: 8, WNOWAIT: 0x1000000,
  __WNOTHREAD: 0x20000000, __WALL: 0x40000000, __WCLONE: 0x80000000n,
  P_ALL: 0, P_PID: 1, P_PGID: 2, P_PIDFD: 3,
  GRND_NONBLOCK: 1, GRND_RANDOM: 2, GRND_INSECURE: 4,
  ARCH_SET_GS: 0x1001, ARCH_SET_FS: 0x1002, ARCH_GET_FS: 0x1003, ARCH_GET_GS: 0x1004,
  ARCH_GET_CPUID: 0x1011, ARCH_SET_CPUID: 0x1012, ARCH_GET_XCOMP_SUPP: 0x1021,
  ARCH_GET_XCOMP_PERM: 0x1022, ARCH_REQ_XCOMP_PERM: 0x1023,
  PR_SET_PDEATHSIG: 1, PR_GET_PDEATHSIG: 2, PR_GET_DUMPABLE: 3, PR_SET_DUMPABLE: 4, PR_SET_NAME: 15,
  PR_GET_NAME: 16, PR_SET_SECCOMP: 22, PR_CAPBSET_READ: 23, PR_SET_TIMERSLACK: 29,
  PR_SET_CHILD_SUBREAPER: 36, PR_SET_NO_NEW_PRIVS: 38, PR_GET_NO_NEW_PRIVS: 39, PR_SET_VMA: 0x53564d41,
  CLOSE_RANGE_UNSHARE: 2, CLOSE_RANGE_CLOEXEC: 4,
  CLONE_VM: 0x100, CLONE_FS: 0x200, CLONE_FILES: 0x400, CLONE_SIGHAND: 0x800, CLONE_PIDFD: 0x1000,
  CLONE_PTRACE: 0x2000, CLONE_VFORK: 0x4000, CLONE_PARENT: 0x8000, CLONE_THREAD: 0x10000,
  CLONE_NEWNS: 0x20000, CLONE_SYSVSEM: 0x40000, CLONE_SETTLS: 0x80000, CLONE_PARENT_SETTID: 0x100000,
  CLONE_CHILD_CLEARTID: 0x200000, CLONE_DETACHED: 0x400000, CLONE_UNTRACED: 0x800000,
  CLONE_CHILD_SETTID: 0x1000000, CLONE_NEWCGROUP: 0x2000000, CLONE_NEWUTS: 0x4000000,
  CLONE_NEWIPC: 0x8000000, CLONE_NEWUSER: 0x10000000, CLONE_NEWPID: 0x20000000,
  CLONE_NEWNET: 0x40000000, CLONE_IO: 0x80000000n,
  TCGETS: 0x5401, TCSETS: 0x5402, TCSETSW: 0x5403, TCSETSF: 0x5404, TIOCSCTTY: 0x540e,
  TIOCGPGRP: 0x540f, TIOCSPGRP: 0x5410, TIOCGWINSZ: 0x5413, TIOCSWINSZ: 0x5414, FIONREAD: 0x541b,
  TIOCNOTTY: 0x5422, FIONBIO: 0x5421, FIONCLEX: 0x5450, FIOCLEX: 0x5451, FIOASYNC: 0x5452,
  FUTEX_BITSET_MATCH_ANY: 0xffffffff,
});
const FUTEX_OPS = [
  'FUTEX_WAIT', 'FUTEX_WAKE', 'FUTEX_FD', 'FUTEX_REQUEUE', 'FUTEX_CMP_REQUEUE', 'FUTEX_WAKE_OP',
  'FUTEX_LOCK_PI', 'FUTEX_UNLOCK_PI', 'FUTEX_TRYLOCK_PI', 'FUTEX_WAIT_BITSET', 'FUTEX_WAKE_BITSET',
  'FUTEX_WAIT_REQUEUE_PI', 'FUTEX_CMP_REQUEUE_PI', 'FUTEX_LOCK_PI2',
];
FUTEX_OPS.forEach((name, i) => {
  CONSTANTS.set(name, BigInt(i));
  CONSTANTS.set(`${name}_PRIVATE`, BigInt(i) | 128n);
});
CONSTANTS.set('FUTEX_PRIVATE_FLAG', 128n);
CONSTANTS.set('FUTEX_CLOCK_REALTIME', 256n);

const SIGNAL_NAMES = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL',
  'SIGUSR1', 'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD',
  'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ',
  'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
];
SIGNAL_NAMES.forEach((name, i) => CONSTANTS.set(name, BigInt(i + 1)));
CONSTANTS.set('SIGIOT', 6n);
CONSTANTS.set('SIGPOLL', 29n);
CONSTANTS.set('SIGRTMIN', 32n);
for (let n = 1; n <= 32; n++) CONSTANTS.set(`SIGRT_${n}`, BigInt(32 + n));

/** A signal's number from strace's name (SIGINT, SIGRT_3, SIGRTMIN); undefined when unknown. */
export function signalNumber(name: string): number | undefined {
  const v = CONSTANTS.get(name);
  return name.startsWith('SIG') && v !== undefined && v >= 1n && v <= 64n ? Number(v) : undefined;
}

const ERRNO_BY_NAME = new Map<string, number>(knownErrnos().map(([n, name]) => [name, n]));
ERRNO_BY_NAME.set('EWOULDBLOCK', 11);
ERRNO_BY_NAME.set('EDEADLOCK', 35);
ERRNO_BY_NAME.set('ENOTSUP', 95);

/** Marks a value derived from unknown text: bit 62, so it is far from any real flag set. */
const SYMBOLIC_TAG = 1n << 62n;

/**
 * The value of an argument mvrc cannot decode (a constant its table lacks, an expression):
 * FNV-1a (64-bit) of the text, cut to 48 bits, with bit 62 set. The same text in two traces
 * gives the same value, so such arguments still compare equal or unequal as their spelling
 * does (the same value spelled differently compares unequal).
 */
export function symbolicValue(text: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(text, 'utf8')) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return SYMBOLIC_TAG | (h & 0xffffffffffffn);
}

const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

/** A plain number as strace prints it: decimal, 0x hex, leading-0 octal, optional sign. */
export function parseNumber(text: string): bigint | undefined {
  const t = text.trim();
  const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[0-7]+|\d+)$/.exec(t);
  if (!m) return undefined;
  const digits = m[2]!;
  let v: bigint;
  if (/^0[xX]/.test(digits)) v = BigInt(digits);
  else if (digits.length > 1 && digits.startsWith('0')) v = BigInt(`0o${digits.slice(1)}`);
  else v = BigInt(digits);
  if (m[1] === '-') v = -v;
  if (v < INT64_MIN || v > UINT64_MAX) return undefined;
  return BigInt.asIntN(64, v);
}

/** A scalar argument: a number, a known constant, or an OR of those; else a value from its text. */
export function scalarValue(text: string): bigint {
  const t = text.trim();
  const n = parseNumber(t);
  if (n !== undefined) return n;
  const c = CONSTANTS.get(t);
  if (c !== undefined) return BigInt.asIntN(64, c);
  if (t.includes('|')) {
    let v = 0n;
    for (const part of t.split('|')) {
      const p = part.trim();
      const x = parseNumber(p) ?? CONSTANTS.get(p);
      if (x === undefined) return symbolicValue(t);
      v |= BigInt.asUintN(64, x);
    }
    return BigInt.asIntN(64, v);
  }
  return symbolicValue(t);
}

// ---------------------------------------------------------------------------------------------
// Strings and argument lists

/**
 * A C-escaped string strace printed, starting at text[at] === '"'. Returns its bytes, the index
 * after the closing quote (and after a trailing `...`), and whether it was cut; undefined when it
 * is not terminated or holds a bad escape.
 */
export function parseCString(text: string, at: number): { bytes: Uint8Array; end: number; truncated: boolean } | undefined {
  if (text[at] !== '"') return undefined;
  const out: number[] = [];
  let i = at + 1;
  for (;;) {
    if (i >= text.length) return undefined;
    const c = text[i]!;
    if (c === '"') {
      i++;
      break;
    }
    if (c !== '\\') {
      const code = text.codePointAt(i)!;
      for (const b of Buffer.from(String.fromCodePoint(code), 'utf8')) out.push(b);
      i += code > 0xffff ? 2 : 1;
      continue;
    }
    const e = text[i + 1];
    if (e === undefined) return undefined;
    i += 2;
    switch (e) {
      case 'x': {
        const m = /^[0-9a-fA-F]{1,2}/.exec(text.slice(i, i + 2));
        if (!m) return undefined;
        out.push(parseInt(m[0], 16));
        i += m[0].length;
        break;
      }
      case 'n': out.push(10); break;
      case 't': out.push(9); break;
      case 'r': out.push(13); break;
      case 'v': out.push(11); break;
      case 'f': out.push(12); break;
      case 'a': out.push(7); break;
      case 'b': out.push(8); break;
      case 'e': out.push(27); break;
      case '\\': out.push(92); break;
      case '"': out.push(34); break;
      case "'": out.push(39); break;
      case '?': out.push(63); break;
      default: {
        if (e >= '0' && e <= '7') {
          const m = /^[0-7]{0,2}/.exec(text.slice(i, i + 2))!;
          out.push(parseInt(e + m[0], 8) & 0xff);
          i += m[0].length;
          break;
        }
        return undefined;
      }
    }
  }
  let truncated = false;
  if (text.startsWith('...', i)) {
    truncated = true;
    i += 3;
  }
  return { bytes: Uint8Array.from(out), end: i, truncated };
}

/**
 * Splits `text` (an argument list without its parentheses) at top-level commas, skipping strings,
 * comments and nested brackets. Returns undefined when a string or bracket is not closed.
 */
export function splitArgs(text: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const s = parseCString(text, i);
      if (!s) return undefined;
      i = s.end;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return undefined;
      i = end + 2;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth < 0) return undefined;
    } else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  if (depth !== 0) return undefined;
  const last = text.slice(start);
  if (out.length > 0 || last.trim() !== '') out.push(last);
  return out.map((a) => a.replace(/\/\*.*?\*\//g, '').trim());
}

/** The index of the ')' closing the argument list that starts after text[open] === '('. */
function closingParen(text: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const s = parseCString(text, i);
      if (!s) return -1;
      i = s.end;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return -1;
      i = end + 2;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return c === ')' ? i : -1;
    }
    i++;
  }
  return -1;
}

// clone(2) as strace prints it names its arguments in another order than the kernel takes them.
const CLONE_ARG_POS: Record<string, number> = { flags: 0, child_stack: 1, stack: 1, parent_tid: 2, parent_tidptr: 2, child_tidptr: 3, child_tid: 3, tls: 4 };

interface ParsedArgs {
  args: bigint[];
  bufs: (Uint8Array | null)[];
  truncated: boolean;
}

function parseArgList(name: string, nr: number, raw: string[]): ParsedArgs | string {
  const sc = syscallByNr(nr);
  const args = [0n, 0n, 0n, 0n, 0n, 0n];
  const bufs: (Uint8Array | null)[] = [null, null, null, null, null, null];
  let truncated = false;
  if (raw.length > 6) return `${name} has ${raw.length} arguments; a syscall takes at most 6`;
  for (let k = 0; k < raw.length; k++) {
    let text = raw[k]!;
    let pos = k;
    const named = /^([a-z_]+)=(.*)$/s.exec(text);
    if (named) {
      text = named[2]!;
      if ((name === 'clone' || name === 'clone2') && CLONE_ARG_POS[named[1]!] !== undefined) pos = CLONE_ARG_POS[named[1]!]!;
    }
    const kind: ParamKind = sc?.params[pos]?.kind ?? 'int';
    // fds shown with -y: 3</path/to/file>
    const fdDecor = /^(-?\d+)<.*>$/s.exec(text);
    if (fdDecor) text = fdDecor[1]!;
    if (text.startsWith('"')) {
      const s = parseCString(text, 0);
      if (!s || text.slice(s.end).trim() !== '') return `argument ${k + 1} of ${name} is not a well-formed string`;
      if (kind === 'in_bytes' || kind === 'out_bytes' || kind === 'path' || kind === 'in_struct' || kind === 'out_struct') {
        bufs[pos] = s.bytes;
        truncated ||= s.truncated;
      } else args[pos] = symbolicValue(text);
      continue;
    }
    if (kind === 'ptr' || kind === 'in_bytes' || kind === 'out_bytes' || kind === 'path' || kind === 'in_struct' || kind === 'out_struct') {
      // Memory strace decoded (a structure, an array) gives no bytes. The argument's value is the
      // address when strace shows one (NULL: 0), else a value from the text: a pointer is never
      // compared, and it must not look like NULL in reports.
      args[pos] = text === 'NULL' ? 0n : parseNumber(text) ?? symbolicValue(text);
      continue;
    }
    args[pos] = scalarValue(text);
  }
  return { args, bufs, truncated };
}

// ---------------------------------------------------------------------------------------------
// Return values

function parseReturn(text: string): { ret: bigint; noRet: boolean } | undefined {
  // `-T` adds ` <0.000012>` at the end; `-y` shows a returned fd as `3</path>`.
  const t = text.replace(/\s+<\d+(\.\d+)?>\s*$/, '').trim().replace(/^(\d+)<.*>$/s, '$1');
  if (t === '?' || t.startsWith('? ')) {
    // `? ERESTARTSYS (To be restarted ...)`: interrupted by a signal; record the restart code.
    const m = /^\?\s+([A-Z][A-Z0-9_]*)\b/.exec(t);
    const e = m ? ERRNO_BY_NAME.get(m[1]!) : undefined;
    return e !== undefined ? { ret: BigInt(-e), noRet: false } : { ret: 0n, noRet: true };
  }
  const err = /^-1\s+([A-Z][A-Z0-9_]*)\b/.exec(t);
  if (err) {
    const e = ERRNO_BY_NAME.get(err[1]!);
    if (e === undefined) return undefined;
    return { ret: BigInt(-e), noRet: false };
  }
  const errn = /^-1\s+\(errno (\d+)\)/.exec(t);
  if (errn) return { ret: -BigInt(errn[1]!), noRet: false };
  const m = /^(-?(?:0[xX][0-9a-fA-F]+|\d+))(\s+\(.*\))?$/s.exec(t);
  if (!m) return undefined;
  const hexOrDec = m[1]!;
  const v = /^-?0[xX]/.test(hexOrDec) ? BigInt.asIntN(64, BigInt(hexOrDec.replace(/^-/, '')) * (hexOrDec.startsWith('-') ? -1n : 1n)) : BigInt.asIntN(64, BigInt(hexOrDec));
  return { ret: v, noRet: false };
}

// ---------------------------------------------------------------------------------------------
// Lines

const PREFIX = /^(?:\[pid\s+(\d+)\]\s+|(\d+)\s+)?(?:(?:\d{2}:\d{2}:\d{2}(?:\.\d+)?|\d+\.\d+)\s+)?/;

interface Pending {
  name: string;
  nr: number;
  text: string;
  span: Span;
  line: number;
}

/** Reads strace output (see the header of this file). */
export function parseStraceTrace(file: SourceFile, diags: DiagnosticBag): Trace {
  const trace: Trace = { file, format: 'strace', command: null, events: [], signals: [] };
  const text = file.text;
  const next = new Map<number, bigint>();
  const pending = new Map<number, Pending>();
  let offset = 0;
  let lineNo = 0;

  const bad = (line: number, at: Span, why: string): void => void diags.add(Diag.TraceLineInvalid, file.path, at, [line, why]);

  const emit = (thread: number, name: string, nr: number, argText: string, retText: string | null, at: Span, line: number): void => {
    const raw = splitArgs(argText);
    if (!raw) return bad(line, at, 'its argument list is not well formed (an unclosed string or bracket)');
    const parsed = parseArgList(name, nr, raw);
    if (typeof parsed === 'string') return bad(line, at, parsed);
    let ret = 0n;
    let noRet = true;
    if (retText !== null) {
      const r = parseReturn(retText);
      if (!r) return bad(line, at, `its return value '${retText.trim()}' is not a number, '-1 ERRNO (...)' or '?'`);
      ret = r.ret;
      noRet = r.noRet;
    }
    if (!noRet && ret < 0n && ret >= -4095n) {
      // A failed call returned nothing in its output buffers; strace shows their addresses.
      const sc = syscallByNr(nr);
      sc?.params.forEach((p, j) => {
        if (p.kind === 'out_bytes' || p.kind === 'out_struct') parsed.bufs[j] = null;
      });
    }
    const index = next.get(thread) ?? 0n;
    next.set(thread, index + 1n);
    const ev: TraceEvent = { index, nr, args: parsed.args, ret, bufs: parsed.bufs, name, thread, truncated: parsed.truncated, noRet, span: at };
    trace.events.push(ev);
  };

  const lookup = (name: string, at: Span): number | undefined => {
    const known = syscallByName(name);
    if (known) return known.nr;
    const m = /^syscall_(0x[0-9a-fA-F]+|\d+)$/.exec(name);
    if (m) {
      const nr = Number(BigInt(m[1]!));
      if (nr >= 0 && nr < 1024) return nr;
    }
    diags.add(Diag.TraceUnknownSyscall, file.path, at, [name]);
    return undefined;
  };

  // Lines without a pid (strace writing to stderr shows none while it traces one process) belong
  // to the only live process when there is one, else to the first process, whose pid is learned
  // from its set_tid_address / getpid / gettid result (0 until then).
  let firstPid: number | null = null;
  const alive = new Set<number>();
  const relabel = (from: number, to: number): void => {
    for (const e of trace.events) if (e.thread === from) e.thread = to;
    for (const g of trace.signals) if (g.thread === from) g.thread = to;
    for (const m of [next, pending] as Map<number, unknown>[]) {
      if (m.has(from)) {
        m.set(to, m.get(from));
        m.delete(from);
      }
    }
    if (alive.delete(from)) alive.add(to);
  };
  const readLine = (): { line: string; at: Span } => {
    const start = offset;
    const nl = text.indexOf('\n', offset);
    const end = nl < 0 ? text.length : nl;
    let line = text.slice(offset, end);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    offset = end + 1;
    lineNo++;
    return { line, at: span(start, line.length) };
  };

  while (offset < text.length) {
    let { line, at } = readLine();
    const startLine = lineNo;
    // On stderr, strace's own messages can cut a call's line in two:
    //   clone(child_stack=NULL, flags=...|SIGCHLDstrace: Process 29036 attached
    //   , child_tidptr=0x7f6d1ebcba10) = 29036
    const cut = /^(.*\S.*?)strace: Process \d+ attached(?: with \d+ threads)?$/.exec(line);
    if (cut && offset < text.length) {
      const rest = readLine();
      line = cut[1]! + rest.line;
      at = span(at.offset, rest.at.offset + rest.at.length - at.offset);
    }
    if (line.trim() === '') continue;
    const trimmed = line.trimStart();
    const pm = PREFIX.exec(trimmed)!;
    const explicit = pm[1] ?? pm[2];
    let thread = explicit !== undefined ? Number(explicit) : alive.size === 1 ? [...alive][0]! : (firstPid ?? 0);
    const body = trimmed.slice(pm[0].length);

    if (body.startsWith('strace: ')) continue; // strace's own messages
    if (body.startsWith('+++ ')) {
      alive.delete(thread); // exited or killed
      continue;
    }
    alive.add(thread);
    if (explicit === undefined && firstPid === null && thread === 0) {
      const m = /^(?:set_tid_address|getpid|gettid)\(.*\)\s*=\s*(\d+)\s*$/.exec(body);
      if (m && Number(m[1]) > 0) {
        firstPid = Number(m[1]);
        relabel(0, firstPid);
        thread = firstPid;
      }
    }
    if (body.startsWith('--- ')) {
      const m = /^--- (SIG[A-Z0-9_]+)\b/.exec(body);
      const sig = m ? signalNumber(m[1]!) : undefined;
      if (sig === undefined) bad(startLine, at, 'a signal line names no signal this reader knows');
      // A signal that arrives while a call of the thread is unfinished is handled after that call.
      else trace.signals.push({ thread, before: (next.get(thread) ?? 0n) + (pending.has(thread) ? 1n : 0n), signal: sig, span: at });
      continue;
    }
    const resumed = /^<\.\.\. ([A-Za-z0-9_]+) resumed>\s?(.*)$/s.exec(body);
    if (resumed) {
      const name = resumed[1]!;
      const p = pending.get(thread);
      if (!p || p.name !== name) {
        bad(startLine, at, `'${name}' resumes a call this thread did not start`);
        continue;
      }
      pending.delete(thread);
      const rest = resumed[2]!;
      if (/<unfinished \.\.\.>\s*\)?\s*$/.test(rest)) {
        // resumed, then unfinished again (e.g. around a signal): keep collecting
        pending.set(thread, { ...p, text: p.text + rest.replace(/\s*<unfinished \.\.\.>\s*\)?\s*$/, '') });
        continue;
      }
      finishCall(thread, p.name, p.nr, p.text + rest, p.span, p.line);
      continue;
    }
    const call = /^([A-Za-z_][A-Za-z0-9_]*)\(/.exec(body);
    if (!call) {
      bad(startLine, at, 'it is not a system call, a signal or an exit line of strace');
      continue;
    }
    const name = call[1]!;
    const unfinished = /\s*<unfinished \.\.\.>\s*$/.exec(body);
    if (pending.has(thread)) {
      // the thread's earlier call never resumed: it did not return
      const p = pending.get(thread)!;
      pending.delete(thread);
      finishCall(thread, p.name, p.nr, p.text + ')', p.span, p.line, true);
    }
    const nr = lookup(name, at);
    if (nr === undefined) continue;
    if (unfinished) {
      pending.set(thread, { name, nr, text: body.slice(0, unfinished.index), span: at, line: startLine });
      continue;
    }
    finishCall(thread, name, nr, body, at, startLine);
  }
  // Calls still unfinished when the trace ends (their process exited or was killed) did not return.
  for (const [thread, p] of pending) finishCall(thread, p.name, p.nr, p.text + ')', p.span, p.line, true);
  // Events of one thread keep their order; a resumed call takes the place of its start.
  trace.events.sort((a, b) => a.span.offset - b.span.offset);
  return trace;

  function finishCall(thread: number, name: string, nr: number, whole: string, at: Span, line: number, noReturn = false): void {
    const open = whole.indexOf('(');
    const close = closingParen(whole, open);
    if (close < 0) return bad(line, at, 'its argument list is not closed');
    const argText = whole.slice(open + 1, close);
    const after = whole.slice(close + 1);
    if (noReturn) return emit(thread, name, nr, argText, null, at, line);
    const rm = /^\s*=\s*(.*)$/s.exec(after);
    if (!rm) return bad(line, at, "it has no return value ('= N' after the arguments)");
    emit(thread, name, nr, argText, rm[1]!, at, line);
  }
}
