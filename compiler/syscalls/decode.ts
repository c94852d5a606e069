// strace-like rendering of one syscall for reports and diagnostics:
//   write(3, "OK\r\n", 4) = 4
//   openat(AT_FDCWD, "/etc/x", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)
// Byte buffers are shown as escaped strings (\t \n \r \\ \" and \xNN, the escapes mvr strings
// accept), cut after 32 bytes with `...`. Flags and constants are decoded where it is cheap;
// anything else is shown as a number, and memory that was not recorded as its address.
import { syscallByNr } from './lookup.ts';
import type { ParamInfo, SyscallInfo } from './types.ts';

/** How many bytes of a buffer formatCall shows before `...`. */
export const MAX_SHOWN_BYTES = 32;

// ---------------------------------------------------------------------------------------------
// errno

/** Linux x86-64 errno values: [number, name, glibc's strerror text]. */
const ERRNOS: readonly (readonly [number, string, string])[] = [
  [1, 'EPERM', 'Operation not permitted'],
  [2, 'ENOENT', 'No such file or directory'],
  [3, 'ESRCH', 'No such process'],
  [4, 'EINTR', 'Interrupted system call'],
  [5, 'EIO', 'Input/output error'],
  [6, 'ENXIO', 'No such device or address'],
  [7, 'E2BIG', 'Argument list too long'],
  [8, 'ENOEXEC', 'Exec format error'],
  [9, 'EBADF', 'Bad file descriptor'],
  [10, 'ECHILD', 'No child processes'],
  [11, 'EAGAIN', 'Resource temporarily unavailable'],
  [12, 'ENOMEM', 'Cannot allocate memory'],
  [13, 'EACCES', 'Permission denied'],
  [14, 'EFAULT', 'Bad address'],
  [15, 'ENOTBLK', 'Block device required'],
  [16, 'EBUSY', 'Device or resource busy'],
  [17, 'EEXIST', 'File exists'],
  [18, 'EXDEV', 'Invalid cross-device link'],
  [19, 'ENODEV', 'No such device'],
  [20, 'ENOTDIR', 'Not a directory'],
  [21, 'EISDIR', 'Is a directory'],
  [22, 'EINVAL', 'Invalid argument'],
  [23, 'ENFILE', 'Too many open files in system'],
  [24, 'EMFILE', 'Too many open files'],
  [25, 'ENOTTY', 'Inappropriate ioctl for device'],
  [26, 'ETXTBSY', 'Text file busy'],
  [27, 'EFBIG', 'File too large'],
  [28, 'ENOSPC', 'No space left on device'],
  [29, 'ESPIPE', 'Illegal seek'],
  [30, 'EROFS', 'Read-only file system'],
  [31, 'EMLINK', 'Too many links'],
  [32, 'EPIPE', 'Broken pipe'],
  [33, 'EDOM', 'Numerical argument out of domain'],
  [34, 'ERANGE', 'Numerical result out of range'],
  [35, 'EDEADLK', 'Resource deadlock avoided'],
  [36, 'ENAMETOOLONG', 'File name too long'],
  [37, 'ENOLCK', 'No locks available'],
  [38, 'ENOSYS', 'Function not implemented'],
  [39, 'ENOTEMPTY', 'Directory not empty'],
  [40, 'ELOOP', 'Too many levels of symbolic links'],
  [42, 'ENOMSG', 'No message of desired type'],
  [43, 'EIDRM', 'Identifier removed'],
  [44, 'ECHRNG', 'Channel number out of range'],
  [45, 'EL2NSYNC', 'Level 2 not synchronized'],
  [46, 'EL3HLT', 'Level 3 halted'],
  [47, 'EL3RST', 'Level 3 reset'],
  [48, 'ELNRNG', 'Link number out of range'],
  [49, 'EUNATCH', 'Protocol driver not attached'],
  [50, 'ENOCSI', 'No CSI structure available'],
  [51, 'EL2HLT', 'Level 2 halted'],
  [52, 'EBADE', 'Invalid exchange'],
  [53, 'EBADR', 'Invalid request descriptor'],
  [54, 'EXFULL', 'Exchange full'],
  [55, 'ENOANO', 'No anode'],
  [56, 'EBADRQC', 'Invalid request code'],
  [57, 'EBADSLT', 'Invalid slot'],
  [59, 'EBFONT', 'Bad font file format'],
  [60, 'ENOSTR', 'Device not a stream'],
  [61, 'ENODATA', 'No data available'],
  [62, 'ETIME', 'Timer expired'],
  [63, 'ENOSR', 'Out of streams resources'],
  [64, 'ENONET', 'Machine is not on the network'],
  [65, 'ENOPKG', 'Package not installed'],
  [66, 'EREMOTE', 'Object is remote'],
  [67, 'ENOLINK', 'Link has been severed'],
  [68, 'EADV', 'Advertise error'],
  [69, 'ESRMNT', 'Srmount error'],
  [70, 'ECOMM', 'Communication error on send'],
  [71, 'EPROTO', 'Protocol error'],
  [72, 'EMULTIHOP', 'Multihop attempted'],
  [73, 'EDOTDOT', 'RFS specific error'],
  [74, 'EBADMSG', 'Bad message'],
  [75, 'EOVERFLOW', 'Value too large for defined data type'],
  [76, 'ENOTUNIQ', 'Name not unique on network'],
  [77, 'EBADFD', 'File descriptor in bad state'],
  [78, 'EREMCHG', 'Remote address changed'],
  [79, 'ELIBACC', 'Can not access a needed shared library'],
  [80, 'ELIBBAD', 'Accessing a corrupted shared library'],
  [81, 'ELIBSCN', '.lib section in a.out corrupted'],
  [82, 'ELIBMAX', 'Attempting to link in too many shared libraries'],
  [83, 'ELIBEXEC', 'Cannot exec a shared library directly'],
  [84, 'EILSEQ', 'Invalid or incomplete multibyte or wide character'],
  [85, 'ERESTART', 'Interrupted system call should be restarted'],
  [86, 'ESTRPIPE', 'Streams pipe error'],
  [87, 'EUSERS', 'Too many users'],
  [88, 'ENOTSOCK', 'Socket operation on non-socket'],
  [89, 'EDESTADDRREQ', 'Destination address required'],
  [90, 'EMSGSIZE', 'Message too long'],
  [91, 'EPROTOTYPE', 'Protocol wrong type for socket'],
  [92, 'ENOPROTOOPT', 'Protocol not available'],
  [93, 'EPROTONOSUPPORT', 'Protocol not supported'],
  [94, 'ESOCKTNOSUPPORT', 'Socket type not supported'],
  [95, 'EOPNOTSUPP', 'Operation not supported'],
  [96, 'EPFNOSUPPORT', 'Protocol family not supported'],
  [97, 'EAFNOSUPPORT', 'Address family not supported by protocol'],
  [98, 'EADDRINUSE', 'Address already in use'],
  [99, 'EADDRNOTAVAIL', 'Cannot assign requested address'],
  [100, 'ENETDOWN', 'Network is down'],
  [101, 'ENETUNREACH', 'Network is unreachable'],
  [102, 'ENETRESET', 'Network dropped connection on reset'],
  [103, 'ECONNABORTED', 'Software caused connection abort'],
  [104, 'ECONNRESET', 'Connection reset by peer'],
  [105, 'ENOBUFS', 'No buffer space available'],
  [106, 'EISCONN', 'Transport endpoint is already connected'],
  [107, 'ENOTCONN', 'Transport endpoint is not connected'],
  [108, 'ESHUTDOWN', 'Cannot send after transport endpoint shutdown'],
  [109, 'ETOOMANYREFS', 'Too many references: cannot splice'],
  [110, 'ETIMEDOUT', 'Connection timed out'],
  [111, 'ECONNREFUSED', 'Connection refused'],
  [112, 'EHOSTDOWN', 'Host is down'],
  [113, 'EHOSTUNREACH', 'No route to host'],
  [114, 'EALREADY', 'Operation already in progress'],
  [115, 'EINPROGRESS', 'Operation now in progress'],
  [116, 'ESTALE', 'Stale file handle'],
  [117, 'EUCLEAN', 'Structure needs cleaning'],
  [118, 'ENOTNAM', 'Not a XENIX named type file'],
  [119, 'ENAVAIL', 'No XENIX semaphores available'],
  [120, 'EISNAM', 'Is a named type file'],
  [121, 'EREMOTEIO', 'Remote I/O error'],
  [122, 'EDQUOT', 'Disk quota exceeded'],
  [123, 'ENOMEDIUM', 'No medium found'],
  [124, 'EMEDIUMTYPE', 'Wrong medium type'],
  [125, 'ECANCELED', 'Operation canceled'],
  [126, 'ENOKEY', 'Required key not available'],
  [127, 'EKEYEXPIRED', 'Key has expired'],
  [128, 'EKEYREVOKED', 'Key has been revoked'],
  [129, 'EKEYREJECTED', 'Key was rejected by service'],
  [130, 'EOWNERDEAD', 'Owner died'],
  [131, 'ENOTRECOVERABLE', 'State not recoverable'],
  [132, 'ERFKILL', 'Operation not possible due to RF-kill'],
  [133, 'EHWPOISON', 'Memory page has hardware error'],
  // Kernel-internal restart codes, seen by tracers when a signal interrupts a call.
  [512, 'ERESTARTSYS', 'To be restarted if SA_RESTART is set'],
  [513, 'ERESTARTNOINTR', 'To be restarted'],
  [514, 'ERESTARTNOHAND', 'To be restarted if no handler'],
  [516, 'ERESTART_RESTARTBLOCK', 'Interrupted by signal'],
];
const ERRNO_BY_NR = new Map(ERRNOS.map(([n, name, text]) => [n, { name, text }]));

/** The symbolic name of an errno value (2 → 'ENOENT'), or undefined when unknown. */
export function errnoName(n: number): string | undefined {
  return ERRNO_BY_NR.get(n)?.name;
}

/** The C library's message for an errno value (2 → 'No such file or directory'). */
export function errnoMessage(n: number): string | undefined {
  return ERRNO_BY_NR.get(n)?.text;
}

/** Every errno this module knows, for tests and tools. */
export function knownErrnos(): readonly (readonly [number, string, string])[] {
  return ERRNOS;
}

// ---------------------------------------------------------------------------------------------
// Constant tables (x86-64 Linux values)

type Bits = readonly (readonly [bigint, string])[];

const O_ACCMODE = 3n;
const O_CREAT = 0o100n;
const O_TMPFILE = 0o20200000n;
const ACCESS_MODES = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'] as const;
// Multi-bit flags first so that they win over their parts (O_SYNC contains O_DSYNC).
const OPEN_FLAGS: Bits = [
  [0o20200000n, 'O_TMPFILE'],
  [0o4010000n, 'O_SYNC'],
  [0o100n, 'O_CREAT'],
  [0o200n, 'O_EXCL'],
  [0o400n, 'O_NOCTTY'],
  [0o1000n, 'O_TRUNC'],
  [0o2000n, 'O_APPEND'],
  [0o4000n, 'O_NONBLOCK'],
  [0o10000n, 'O_DSYNC'],
  [0o20000n, 'O_ASYNC'],
  [0o40000n, 'O_DIRECT'],
  [0o100000n, 'O_LARGEFILE'],
  [0o200000n, 'O_DIRECTORY'],
  [0o400000n, 'O_NOFOLLOW'],
  [0o1000000n, 'O_NOATIME'],
  [0o2000000n, 'O_CLOEXEC'],
  [0o10000000n, 'O_PATH'],
];
const CLOEXEC_NONBLOCK: Bits = [
  [0o2000000n, 'O_CLOEXEC'],
  [0o4000n, 'O_NONBLOCK'],
];
const SOCK_FLAGS: Bits = [
  [0o2000000n, 'SOCK_CLOEXEC'],
  [0o4000n, 'SOCK_NONBLOCK'],
];
const EFD_FLAGS: Bits = [
  [0o2000000n, 'EFD_CLOEXEC'],
  [0o4000n, 'EFD_NONBLOCK'],
  [1n, 'EFD_SEMAPHORE'],
];
const TFD_FLAGS: Bits = [
  [0o2000000n, 'TFD_CLOEXEC'],
  [0o4000n, 'TFD_NONBLOCK'],
];
const EPOLL_CREATE_FLAGS: Bits = [[0o2000000n, 'EPOLL_CLOEXEC']];
const EPOLL_EVENTS: Bits = [
  [0x1n, 'EPOLLIN'],
  [0x2n, 'EPOLLPRI'],
  [0x4n, 'EPOLLOUT'],
  [0x8n, 'EPOLLERR'],
  [0x10n, 'EPOLLHUP'],
  [0x20n, 'EPOLLNVAL'],
  [0x40n, 'EPOLLRDNORM'],
  [0x80n, 'EPOLLRDBAND'],
  [0x100n, 'EPOLLWRNORM'],
  [0x200n, 'EPOLLWRBAND'],
  [0x400n, 'EPOLLMSG'],
  [0x2000n, 'EPOLLRDHUP'],
  [1n << 28n, 'EPOLLEXCLUSIVE'],
  [1n << 29n, 'EPOLLWAKEUP'],
  [1n << 30n, 'EPOLLONESHOT'],
  [1n << 31n, 'EPOLLET'],
];
const POLL_EVENTS: Bits = [
  [0x1n, 'POLLIN'],
  [0x2n, 'POLLPRI'],
  [0x4n, 'POLLOUT'],
  [0x8n, 'POLLERR'],
  [0x10n, 'POLLHUP'],
  [0x20n, 'POLLNVAL'],
  [0x40n, 'POLLRDNORM'],
  [0x80n, 'POLLRDBAND'],
  [0x100n, 'POLLWRNORM'],
  [0x200n, 'POLLWRBAND'],
  [0x2000n, 'POLLRDHUP'],
];
const PROT_FLAGS: Bits = [
  [1n, 'PROT_READ'],
  [2n, 'PROT_WRITE'],
  [4n, 'PROT_EXEC'],
  [0x1000000n, 'PROT_GROWSDOWN'],
  [0x2000000n, 'PROT_GROWSUP'],
];
const MAP_TYPES = new Map<bigint, string>([
  [1n, 'MAP_SHARED'],
  [2n, 'MAP_PRIVATE'],
  [3n, 'MAP_SHARED_VALIDATE'],
]);
const MAP_FLAGS: Bits = [
  [0x10n, 'MAP_FIXED'],
  [0x20n, 'MAP_ANONYMOUS'],
  [0x40n, 'MAP_32BIT'],
  [0x100n, 'MAP_GROWSDOWN'],
  [0x800n, 'MAP_DENYWRITE'],
  [0x1000n, 'MAP_EXECUTABLE'],
  [0x2000n, 'MAP_LOCKED'],
  [0x4000n, 'MAP_NORESERVE'],
  [0x8000n, 'MAP_POPULATE'],
  [0x10000n, 'MAP_NONBLOCK'],
  [0x20000n, 'MAP_STACK'],
  [0x40000n, 'MAP_HUGETLB'],
  [0x80000n, 'MAP_SYNC'],
  [0x100000n, 'MAP_FIXED_NOREPLACE'],
];
const MSG_FLAGS: Bits = [
  [0x1n, 'MSG_OOB'],
  [0x2n, 'MSG_PEEK'],
  [0x4n, 'MSG_DONTROUTE'],
  [0x8n, 'MSG_CTRUNC'],
  [0x20n, 'MSG_TRUNC'],
  [0x40n, 'MSG_DONTWAIT'],
  [0x80n, 'MSG_EOR'],
  [0x100n, 'MSG_WAITALL'],
  [0x4000n, 'MSG_NOSIGNAL'],
  [0x8000n, 'MSG_MORE'],
  [0x40000000n, 'MSG_CMSG_CLOEXEC'],
];
const AT_FLAGS: Bits = [
  [0x100n, 'AT_SYMLINK_NOFOLLOW'],
  [0x200n, 'AT_REMOVEDIR'],
  [0x400n, 'AT_SYMLINK_FOLLOW'],
  [0x800n, 'AT_NO_AUTOMOUNT'],
  [0x1000n, 'AT_EMPTY_PATH'],
];
const ACCESS_BITS: Bits = [
  [4n, 'R_OK'],
  [2n, 'W_OK'],
  [1n, 'X_OK'],
];
const WAIT_OPTIONS: Bits = [
  [1n, 'WNOHANG'],
  [2n, 'WUNTRACED'],
  [8n, 'WCONTINUED'],
  [0x40000000n, '__WALL'],
  [0x80000000n, '__WCLONE'],
];

const AF_NAMES = new Map<bigint, string>([
  [0n, 'AF_UNSPEC'],
  [1n, 'AF_UNIX'],
  [2n, 'AF_INET'],
  [10n, 'AF_INET6'],
  [16n, 'AF_NETLINK'],
  [17n, 'AF_PACKET'],
]);
const SOCK_TYPES = new Map<bigint, string>([
  [1n, 'SOCK_STREAM'],
  [2n, 'SOCK_DGRAM'],
  [3n, 'SOCK_RAW'],
  [4n, 'SOCK_RDM'],
  [5n, 'SOCK_SEQPACKET'],
  [6n, 'SOCK_DCCP'],
  [10n, 'SOCK_PACKET'],
]);
const IPPROTO_NAMES = new Map<bigint, string>([
  [0n, 'IPPROTO_IP'],
  [1n, 'IPPROTO_ICMP'],
  [6n, 'IPPROTO_TCP'],
  [17n, 'IPPROTO_UDP'],
  [41n, 'IPPROTO_IPV6'],
  [58n, 'IPPROTO_ICMPV6'],
  [132n, 'IPPROTO_SCTP'],
]);
const SOL_NAMES = new Map<bigint, string>([
  [1n, 'SOL_SOCKET'],
  [0n, 'SOL_IP'],
  [6n, 'SOL_TCP'],
  [17n, 'SOL_UDP'],
  [41n, 'SOL_IPV6'],
]);
const SO_NAMES = new Map<bigint, string>([
  [1n, 'SO_DEBUG'],
  [2n, 'SO_REUSEADDR'],
  [3n, 'SO_TYPE'],
  [4n, 'SO_ERROR'],
  [5n, 'SO_DONTROUTE'],
  [6n, 'SO_BROADCAST'],
  [7n, 'SO_SNDBUF'],
  [8n, 'SO_RCVBUF'],
  [9n, 'SO_KEEPALIVE'],
  [10n, 'SO_OOBINLINE'],
  [13n, 'SO_LINGER'],
  [15n, 'SO_REUSEPORT'],
  [20n, 'SO_RCVTIMEO_OLD'],
  [21n, 'SO_SNDTIMEO_OLD'],
]);
const TCP_NAMES = new Map<bigint, string>([
  [1n, 'TCP_NODELAY'],
  [2n, 'TCP_MAXSEG'],
  [3n, 'TCP_CORK'],
  [4n, 'TCP_KEEPIDLE'],
  [5n, 'TCP_KEEPINTVL'],
  [6n, 'TCP_KEEPCNT'],
  [9n, 'TCP_DEFER_ACCEPT'],
  [23n, 'TCP_FASTOPEN'],
]);
const FCNTL_CMDS = new Map<bigint, string>([
  [0n, 'F_DUPFD'],
  [1n, 'F_GETFD'],
  [2n, 'F_SETFD'],
  [3n, 'F_GETFL'],
  [4n, 'F_SETFL'],
  [5n, 'F_GETLK'],
  [6n, 'F_SETLK'],
  [7n, 'F_SETLKW'],
  [8n, 'F_SETOWN'],
  [9n, 'F_GETOWN'],
  [10n, 'F_SETSIG'],
  [11n, 'F_GETSIG'],
  [15n, 'F_SETOWN_EX'],
  [16n, 'F_GETOWN_EX'],
  [36n, 'F_OFD_GETLK'],
  [37n, 'F_OFD_SETLK'],
  [38n, 'F_OFD_SETLKW'],
  [1024n, 'F_SETLEASE'],
  [1025n, 'F_GETLEASE'],
  [1026n, 'F_NOTIFY'],
  [1030n, 'F_DUPFD_CLOEXEC'],
  [1031n, 'F_SETPIPE_SZ'],
  [1032n, 'F_GETPIPE_SZ'],
  [1033n, 'F_ADD_SEALS'],
  [1034n, 'F_GET_SEALS'],
]);
/** fcntl commands that take no third argument. */
const FCNTL_NO_ARG = new Set<bigint>([1n, 3n, 9n, 11n, 1025n, 1032n, 1034n]);
const EPOLL_CTL_OPS = new Map<bigint, string>([
  [1n, 'EPOLL_CTL_ADD'],
  [2n, 'EPOLL_CTL_DEL'],
  [3n, 'EPOLL_CTL_MOD'],
]);
const SEEK_WHENCE = new Map<bigint, string>([
  [0n, 'SEEK_SET'],
  [1n, 'SEEK_CUR'],
  [2n, 'SEEK_END'],
  [3n, 'SEEK_DATA'],
  [4n, 'SEEK_HOLE'],
]);
const SHUT_HOW = new Map<bigint, string>([
  [0n, 'SHUT_RD'],
  [1n, 'SHUT_WR'],
  [2n, 'SHUT_RDWR'],
]);
const SIGPROCMASK_HOW = new Map<bigint, string>([
  [0n, 'SIG_BLOCK'],
  [1n, 'SIG_UNBLOCK'],
  [2n, 'SIG_SETMASK'],
]);
const CLOCK_IDS = new Map<bigint, string>([
  [0n, 'CLOCK_REALTIME'],
  [1n, 'CLOCK_MONOTONIC'],
  [2n, 'CLOCK_PROCESS_CPUTIME_ID'],
  [3n, 'CLOCK_THREAD_CPUTIME_ID'],
  [4n, 'CLOCK_MONOTONIC_RAW'],
  [5n, 'CLOCK_REALTIME_COARSE'],
  [6n, 'CLOCK_MONOTONIC_COARSE'],
  [7n, 'CLOCK_BOOTTIME'],
]);
const SIGNALS = [
  '', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL',
  'SIGUSR1', 'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD',
  'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ',
  'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
] as const;
const IOCTL_REQUESTS = new Map<bigint, string>([
  [0x5401n, 'TCGETS'],
  [0x5402n, 'TCSETS'],
  [0x5413n, 'TIOCGWINSZ'],
  [0x5414n, 'TIOCSWINSZ'],
  [0x541bn, 'FIONREAD'],
  [0x5421n, 'FIONBIO'],
  [0x5450n, 'FIONCLEX'],
  [0x5451n, 'FIOCLEX'],
]);
const FUTEX_OPS = [
  'FUTEX_WAIT', 'FUTEX_WAKE', 'FUTEX_FD', 'FUTEX_REQUEUE', 'FUTEX_CMP_REQUEUE', 'FUTEX_WAKE_OP',
  'FUTEX_LOCK_PI', 'FUTEX_UNLOCK_PI', 'FUTEX_TRYLOCK_PI', 'FUTEX_WAIT_BITSET', 'FUTEX_WAKE_BITSET',
  'FUTEX_WAIT_REQUEUE_PI', 'FUTEX_CMP_REQUEUE_PI', 'FUTEX_LOCK_PI2',
] as const;
const FUTEX_PRIVATE_FLAG = 128n;
const FUTEX_CLOCK_REALTIME = 256n;
const AT_FDCWD = -100n;

// ---------------------------------------------------------------------------------------------
// Small formatters

function hex(v: bigint): string {
  return v === 0n ? '0' : `0x${BigInt.asUintN(64, v).toString(16)}`;
}

function pointer(v: bigint): string {
  return v === 0n ? 'NULL' : `0x${BigInt.asUintN(64, v).toString(16)}`;
}

function octal(v: bigint): string {
  return v === 0n ? '0' : `0${v.toString(8)}`;
}

/** `A|B|0x40` for a bit set; `zero` when no bit is set. */
function bitNames(v: bigint, bits: Bits, zero = '0'): string {
  let rest = BigInt.asUintN(64, v);
  const names: string[] = [];
  for (const [bit, name] of bits) {
    if (bit !== 0n && (rest & bit) === bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest !== 0n) names.push(hex(rest));
  return names.length === 0 ? zero : names.join('|');
}

function named(v: bigint, table: ReadonlyMap<bigint, string>): string {
  return table.get(v) ?? v.toString();
}

function signalName(v: bigint): string {
  const n = Number(v);
  if (n > 0 && n < SIGNALS.length) return SIGNALS[n]!;
  if (n >= 32 && n <= 64) return n === 32 ? 'SIGRTMIN' : `SIGRT_${n - 32}`;
  return v.toString();
}

function futexOp(v: bigint): string {
  const u = BigInt.asUintN(32, v);
  const cmd = u & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  const name = FUTEX_OPS[Number(cmd)];
  if (name === undefined) return hex(u);
  const priv = (u & FUTEX_PRIVATE_FLAG) !== 0n ? '_PRIVATE' : '';
  return (u & FUTEX_CLOCK_REALTIME) !== 0n ? `${name}${priv}|FUTEX_CLOCK_REALTIME` : `${name}${priv}`;
}

/** A signal set as strace shows it: [HUP INT TERM], or [] when empty. */
function sigset(bytes: Uint8Array): string {
  const names: string[] = [];
  for (let i = 0; i < bytes.length * 8 && i < 64; i++) {
    if ((bytes[i >> 3]! >> (i & 7)) & 1) names.push(signalName(BigInt(i + 1)).replace(/^SIG/, ''));
  }
  return `[${names.join(' ')}]`;
}

function openFlags(v: bigint): string {
  const u = BigInt.asUintN(32, v);
  const mode = ACCESS_MODES[Number(u & O_ACCMODE)]!;
  const rest = u & ~O_ACCMODE;
  return rest === 0n ? mode : `${mode}|${bitNames(rest, OPEN_FLAGS)}`;
}

function mmapFlags(v: bigint): string {
  const u = BigInt.asUintN(32, v);
  const type = MAP_TYPES.get(u & 0xfn);
  const rest = type === undefined ? u : u & ~0xfn;
  const restText = rest === 0n ? '' : bitNames(rest, MAP_FLAGS);
  if (type === undefined) return restText === '' ? '0' : restText;
  return restText === '' ? type : `${type}|${restText}`;
}

function socketType(v: bigint): string {
  const u = BigInt.asUintN(32, v);
  const flags = u & (0o2000000n | 0o4000n);
  const base = u & ~(0o2000000n | 0o4000n);
  const baseText = SOCK_TYPES.get(base) ?? hex(base);
  return flags === 0n ? baseText : `${baseText}|${bitNames(flags, SOCK_FLAGS)}`;
}

/** Escapes bytes the way mvr string literals are written; cuts after `limit` bytes. */
export function escapeBytes(bytes: Uint8Array, limit: number = MAX_SHOWN_BYTES): string {
  let s = '"';
  const n = Math.min(bytes.length, limit);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0x22) s += '\\"';
    else if (b === 0x5c) s += '\\\\';
    else if (b === 0x0a) s += '\\n';
    else if (b === 0x0d) s += '\\r';
    else if (b === 0x09) s += '\\t';
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  s += '"';
  if (bytes.length > limit) s += '...';
  return s;
}

function cString(bytes: Uint8Array): Uint8Array {
  const nul = bytes.indexOf(0);
  return nul >= 0 ? bytes.subarray(0, nul) : bytes;
}

class Reader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  has(offset: number, size: number): boolean {
    return offset + size <= this.bytes.length;
  }
  u16be(o: number): number {
    return this.view.getUint16(o, false);
  }
  u32be(o: number): number {
    return this.view.getUint32(o, false);
  }
  u16(o: number): number {
    return this.view.getUint16(o, true);
  }
  u32(o: number): number {
    return this.view.getUint32(o, true);
  }
  i32(o: number): number {
    return this.view.getInt32(o, true);
  }
  i64(o: number): bigint {
    return this.view.getBigInt64(o, true);
  }
  u64(o: number): bigint {
    return this.view.getBigUint64(o, true);
  }
}

function ipv6Text(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // The longest run of two or more zero groups becomes '::'.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const h = (g: number[]): string => g.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return h(groups);
  return `${h(groups.slice(0, bestStart))}::${h(groups.slice(bestStart + bestLen))}`;
}

function sockaddr(bytes: Uint8Array): string | undefined {
  const r = new Reader(bytes);
  if (!r.has(0, 2)) return undefined;
  const family = BigInt(r.u16(0));
  const fam = `sa_family=${named(family, AF_NAMES)}`;
  if (family === 2n && r.has(0, 8)) {
    const a = bytes.subarray(4, 8).join('.');
    return `{${fam}, sin_port=htons(${r.u16be(2)}), sin_addr=inet_addr("${a}")}`;
  }
  if (family === 10n && r.has(0, 24)) {
    const scope = r.has(24, 4) ? `, sin6_scope_id=${r.u32(24)}` : '';
    return (
      `{${fam}, sin6_port=htons(${r.u16be(2)}), sin6_flowinfo=htonl(${r.u32be(4)}), ` +
      `inet_pton(AF_INET6, "${ipv6Text(bytes.subarray(8, 24))}", &sin6_addr)${scope}}`
    );
  }
  if (family === 1n) {
    const path = bytes.subarray(2);
    // An abstract socket name starts with a NUL byte; strace shows it as @name.
    if (path.length > 0 && path[0] === 0) return `{${fam}, sun_path=@${escapeBytes(cString(path.subarray(1)), 108)}}`;
    return `{${fam}, sun_path=${escapeBytes(cString(path), 108)}}`;
  }
  return `{${fam}, ...}`;
}

function timespec(r: Reader, o: number, sub: 'nsec' | 'usec' = 'nsec'): string {
  return `{tv_sec=${r.i64(o)}, tv_${sub}=${r.i64(o + 8)}}`;
}

function epollEvent(r: Reader, o: number): string {
  const data = r.u64(o + 4);
  return `{events=${bitNames(BigInt(r.u32(o)), EPOLL_EVENTS)}, data={u32=${data & 0xffffffffn}, u64=${data}}}`;
}

function waitStatus(s: number): string {
  const sig = s & 0x7f;
  if (sig === 0) return `[{WIFEXITED(s) && WEXITSTATUS(s) == ${(s >> 8) & 0xff}}]`;
  if (sig === 0x7f) return `[{WIFSTOPPED(s) && WSTOPSIG(s) == ${signalName(BigInt((s >> 8) & 0xff))}}]`;
  const core = s & 0x80 ? ' && WCOREDUMP(s)' : '';
  return `[{WIFSIGNALED(s) && WTERMSIG(s) == ${signalName(BigInt(sig))}${core}}]`;
}

const S_IFMT = new Map<number, string>([
  [0o140000, 'S_IFSOCK'],
  [0o120000, 'S_IFLNK'],
  [0o100000, 'S_IFREG'],
  [0o60000, 'S_IFBLK'],
  [0o40000, 'S_IFDIR'],
  [0o20000, 'S_IFCHR'],
  [0o10000, 'S_IFIFO'],
]);

function statStruct(r: Reader): string | undefined {
  if (!r.has(0, 56)) return undefined;
  const mode = r.u32(24);
  const type = S_IFMT.get(mode & 0o170000) ?? `0${(mode & 0o170000).toString(8)}`;
  return `{st_mode=${type}|0${(mode & 0o7777).toString(8).padStart(3, '0')}, st_size=${r.i64(48)}, ...}`;
}

// ---------------------------------------------------------------------------------------------
// Per-syscall knowledge

interface Ctx {
  sc: SyscallInfo;
  args: bigint[];
  bufs: readonly (Uint8Array | undefined)[];
  ret: bigint | undefined;
  failed: boolean;
}

/** Decodes a structure the kernel read or wrote; undefined → show the address. */
function decodeStruct(ctx: Ctx, i: number, bytes: Uint8Array): string | undefined {
  const { sc } = ctx;
  const p = sc.params[i]!;
  const r = new Reader(bytes);
  switch (sc.name) {
    case 'pipe':
    case 'pipe2':
    case 'socketpair':
      return r.has(0, 8) ? `[${r.i32(0)}, ${r.i32(4)}]` : undefined;
    case 'epoll_ctl':
      return r.has(0, 12) ? epollEvent(r, 0) : undefined;
    case 'epoll_wait':
    case 'epoll_pwait':
    case 'epoll_pwait2': {
      if (p.name !== 'events') break;
      const n = ctx.ret !== undefined && !ctx.failed ? Number(ctx.ret) : Math.floor(bytes.length / 12);
      const shown: string[] = [];
      for (let k = 0; k < n && r.has(k * 12, 12); k++) shown.push(epollEvent(r, k * 12));
      return `[${shown.join(', ')}]`;
    }
    case 'poll':
    case 'ppoll': {
      if (p.name !== 'fds') break;
      const shown: string[] = [];
      for (let k = 0; r.has(k * 8, 8); k++) {
        const revents = r.u16(k * 8 + 6);
        const rev = revents !== 0 ? `, revents=${bitNames(BigInt(revents), POLL_EVENTS)}` : '';
        shown.push(`{fd=${r.i32(k * 8)}, events=${bitNames(BigInt(r.u16(k * 8 + 4)), POLL_EVENTS)}${rev}}`);
      }
      return `[${shown.join(', ')}]`;
    }
    case 'wait4':
      if (p.name === 'wstatus' && r.has(0, 4)) return waitStatus(r.i32(0));
      break;
    case 'gettimeofday':
      if (p.name === 'tv' && r.has(0, 16)) return timespec(r, 0, 'usec');
      break;
    case 'timerfd_settime':
    case 'timerfd_gettime':
    case 'setitimer':
    case 'getitimer':
      if (r.has(0, 32)) {
        const sub = sc.name.endsWith('itimer') ? 'usec' : 'nsec';
        return `{it_interval=${timespec(r, 0, sub)}, it_value=${timespec(r, 16, sub)}}`;
      }
      break;
    case 'stat':
    case 'fstat':
    case 'lstat':
    case 'newfstatat':
      return statStruct(r);
    case 'time':
      return r.has(0, 8) ? `[${r.i64(0)}]` : undefined;
    case 'select':
      if (p.name === 'timeout' && r.has(0, 16)) return timespec(r, 0, 'usec');
      break;
  }
  // Signal sets sized by a sigsetsize parameter (rt_sigprocmask, ppoll, epoll_pwait, signalfd).
  if (p.lenParam !== undefined && /^(sigsetsize|sizemask)$/.test(sc.params[p.lenParam]?.name ?? '')) return sigset(bytes);
  if (p.fixedSize === 16 && /^(req|rem|request|remain|tp|res|tmo_p|timeout)$/.test(p.name) && r.has(0, 16)) {
    return timespec(r, 0);
  }
  if (p.name === 'addr' || p.name === 'dest_addr' || p.name === 'src_addr') return sockaddr(bytes);
  if (p.fixedSize === 4 && p.dir === 'inout' && r.has(0, 4)) return `[${r.u32(0)}]`; // socklen_t
  return undefined;
}

/** The flags or constant an integer-like argument stands for, when we know it. */
function decodeScalar(ctx: Ctx, i: number, v: bigint): string | undefined {
  const { sc, args } = ctx;
  const p = sc.params[i]!;
  const s32 = BigInt.asIntN(32, v);
  switch (sc.name) {
    case 'open':
    case 'openat':
      if (p.name === 'flags') return openFlags(v);
      if (p.name === 'mode') return octal(BigInt.asUintN(32, v));
      break;
    case 'fcntl':
      if (p.name === 'cmd') return named(s32, FCNTL_CMDS);
      if (p.name === 'arg') {
        const cmd = BigInt.asIntN(32, args[1] ?? 0n);
        if (cmd === 4n) return openFlags(v);
        if (cmd === 2n) return bitNames(BigInt.asUintN(32, v), [[1n, 'FD_CLOEXEC']]);
      }
      break;
    case 'epoll_ctl':
      if (p.name === 'op') return named(s32, EPOLL_CTL_OPS);
      break;
    case 'epoll_create1':
      return bitNames(v, EPOLL_CREATE_FLAGS);
    case 'socket':
    case 'socketpair':
      if (p.name === 'domain') return named(s32, AF_NAMES);
      if (p.name === 'type') return socketType(v);
      if (p.name === 'protocol') {
        const domain = BigInt.asIntN(32, args[0] ?? 0n);
        if (domain === 2n || domain === 10n) return named(s32, IPPROTO_NAMES);
      }
      break;
    case 'accept4':
      if (p.name === 'flags') return bitNames(v, SOCK_FLAGS);
      break;
    case 'setsockopt':
    case 'getsockopt':
      if (p.name === 'level') return named(s32, SOL_NAMES);
      if (p.name === 'optname') {
        const level = BigInt.asIntN(32, args[1] ?? 0n);
        if (level === 1n) return named(s32, SO_NAMES);
        if (level === 6n) return named(s32, TCP_NAMES);
      }
      break;
    case 'sendto':
    case 'recvfrom':
    case 'sendmsg':
    case 'recvmsg':
    case 'sendmmsg':
    case 'recvmmsg':
      if (p.name === 'flags') return bitNames(v, MSG_FLAGS);
      break;
    case 'pipe2':
    case 'dup3':
    case 'inotify_init1':
    case 'signalfd4':
      if (p.name === 'flags') return bitNames(v, CLOEXEC_NONBLOCK);
      break;
    case 'eventfd2':
      if (p.name === 'flags') return bitNames(v, EFD_FLAGS);
      break;
    case 'timerfd_create':
      if (p.name === 'clockid') return named(s32, CLOCK_IDS);
      if (p.name === 'flags') return bitNames(v, TFD_FLAGS);
      break;
    case 'mmap':
    case 'mprotect':
      if (p.name === 'prot') return bitNames(v, PROT_FLAGS, 'PROT_NONE');
      if (p.name === 'flags') return mmapFlags(v);
      break;
    case 'lseek':
      if (p.name === 'whence') return named(s32, SEEK_WHENCE);
      break;
    case 'shutdown':
      if (p.name === 'how') return named(s32, SHUT_HOW);
      break;
    case 'rt_sigprocmask':
      if (p.name === 'how') return named(s32, SIGPROCMASK_HOW);
      break;
    case 'kill':
    case 'tkill':
    case 'tgkill':
      if (p.name === 'sig') return signalName(s32);
      break;
    case 'rt_sigaction':
      if (p.name === 'signum') return signalName(s32);
      break;
    case 'futex':
      if (p.name === 'futex_op') return futexOp(v);
      break;
    case 'clock_gettime':
    case 'clock_getres':
    case 'clock_nanosleep':
      if (p.name === 'clockid') return named(s32, CLOCK_IDS);
      break;
    case 'access':
    case 'faccessat':
    case 'faccessat2':
      if (p.name === 'mode') return bitNames(v, ACCESS_BITS, 'F_OK');
      break;
    case 'wait4':
    case 'waitid':
      if (p.name === 'options') return bitNames(v, WAIT_OPTIONS);
      break;
    case 'ioctl':
      if (p.name === 'request') return IOCTL_REQUESTS.get(BigInt.asUintN(32, v)) ?? hex(BigInt.asUintN(32, v));
      break;
    case 'unlinkat':
    case 'newfstatat':
    case 'fchownat':
    case 'linkat':
    case 'utimensat':
    case 'faccessat2':
    case 'statx':
      if (p.name === 'flags') return bitNames(v, AT_FLAGS);
      break;
  }
  if (p.kind === 'flags' && p.name === 'mode') return octal(BigInt.asUintN(32, v));
  return undefined;
}

/** Arguments strace leaves out: open's mode without O_CREAT/O_TMPFILE, fcntl's unused arg. */
function shownArity(ctx: Ctx): number {
  const { sc, args } = ctx;
  if (sc.name === 'open' || sc.name === 'openat') {
    const flagsIndex = sc.name === 'open' ? 1 : 2;
    const flags = BigInt.asUintN(32, args[flagsIndex] ?? 0n);
    if ((flags & O_CREAT) === 0n && (flags & O_TMPFILE) !== O_TMPFILE) return flagsIndex + 1;
  }
  if (sc.name === 'fcntl' && FCNTL_NO_ARG.has(BigInt.asIntN(32, args[1] ?? 0n))) return 2;
  return sc.arity;
}

function formatArg(ctx: Ctx, i: number): string {
  const { sc, bufs, failed } = ctx;
  const v = ctx.args[i] ?? 0n;
  if (!sc.detailed) return hex(v);
  const p: ParamInfo = sc.params[i]!;
  const buf = bufs[i];
  switch (p.kind) {
    case 'fd': {
      const fd = BigInt.asIntN(32, v);
      return fd === AT_FDCWD && p.name.endsWith('dirfd') ? 'AT_FDCWD' : fd.toString();
    }
    case 'size':
      return BigInt.asUintN(64, v).toString();
    case 'int':
      return decodeScalar(ctx, i, v) ?? BigInt.asIntN(64, v).toString();
    case 'flags':
      return decodeScalar(ctx, i, v) ?? hex(BigInt.asUintN(64, v));
    case 'ptr':
      return pointer(v);
    case 'path':
      return buf !== undefined ? escapeBytes(cString(buf), 4096) : pointer(v);
    case 'in_bytes':
      if (buf === undefined) return pointer(v);
      if (sc.name === 'setsockopt' && buf.length === 4) return `[${new Reader(buf).i32(0)}]`;
      return escapeBytes(buf);
    case 'out_bytes':
      return buf !== undefined && !failed ? escapeBytes(buf) : pointer(v);
    case 'in_struct':
    case 'out_struct':
      if (buf === undefined || (p.kind === 'out_struct' && failed) || v === 0n) return pointer(v);
      return decodeStruct(ctx, i, buf) ?? pointer(v);
  }
}

const ADDRESS_RESULT = new Set(['mmap', 'mremap', 'brk', 'shmat']);

function formatReturn(ctx: Ctx): string {
  const { sc, ret, args } = ctx;
  if (ret === undefined) return '?';
  const r = BigInt.asIntN(64, ret);
  if (r < 0n && r >= -4095n) {
    const n = Number(-r);
    const e = ERRNO_BY_NR.get(n);
    return e ? `-1 ${e.name} (${e.text})` : `-1 ERRNO_${n} (Unknown error ${n})`;
  }
  if (ADDRESS_RESULT.has(sc.name)) return hex(r);
  if (sc.name === 'fcntl') {
    const cmd = BigInt.asIntN(32, args[1] ?? 0n);
    if (cmd === 3n) return `${hex(r)} (flags ${openFlags(r)})`;
    if (cmd === 1n) return `${hex(r)} (flags ${bitNames(r, [[1n, 'FD_CLOEXEC']])})`;
  }
  return r.toString();
}

function toBig(v: bigint | number): bigint {
  if (typeof v === 'bigint') return v;
  return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
}

/**
 * One syscall as strace would print it: `name(args) = ret`.
 * @param nr    x86-64 syscall number (unknown numbers print as syscall_NNN with hex arguments)
 * @param args  the raw argument registers (extra entries are ignored, missing ones are 0)
 * @param bufs  recorded memory per argument: input bytes/paths/structures as passed, outputs as
 *              returned; undefined where nothing was recorded (shown as the address)
 * @param ret   the raw return value (-4095..-1 are errors); omitted → `= ?`
 */
export function formatCall(
  nr: number,
  args: readonly bigint[] | readonly number[],
  bufs: readonly (Uint8Array | undefined)[],
  ret?: bigint | number,
): string {
  const rawArgs = (args as readonly (bigint | number)[]).map(toBig);
  const retBig = ret === undefined ? undefined : toBig(ret);
  const sc = syscallByNr(nr);
  if (sc === undefined) {
    const shown = rawArgs.slice(0, 6).map(hex).join(', ');
    const ctx: Ctx = {
      sc: { name: `syscall_${nr}`, nr, arity: 0, params: [], detailed: false, effect: 'external', recorded: true },
      args: rawArgs,
      bufs,
      ret: retBig,
      failed: false,
    };
    return `syscall_${nr}(${shown}) = ${formatReturn(ctx)}`;
  }
  const rs = retBig === undefined ? undefined : BigInt.asIntN(64, retBig);
  const ctx: Ctx = { sc, args: rawArgs, bufs, ret: retBig, failed: rs !== undefined && rs < 0n && rs >= -4095n };
  const n = shownArity(ctx);
  const shown: string[] = [];
  for (let i = 0; i < n; i++) shown.push(formatArg(ctx, i));
  return `${sc.name}(${shown.join(', ')}) = ${formatReturn(ctx)}`;
}
