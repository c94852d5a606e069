// Types of the syscall model. The data lives in compiler/syscalls/x86_64.tsv (one source of truth,
// its header documents every field); scripts/gen-syscalls.ts generates
// compiler/syscalls/table.generated.ts and the C headers from it. Use compiler/syscalls/lookup.ts
// to look things up and compiler/syscalls/meaning.ts to compare arguments by meaning.

/** What a parameter holds; also the kind a rule variable bound to it has (LANGUAGE.md §4). */
export type ParamKind =
  | 'fd' // a file descriptor number
  | 'int' // any other integer (signal number, pid, whence, ...)
  | 'size' // a byte count or length
  | 'flags' // a bit set or mode
  | 'ptr' // an address whose value is never compared (and whose memory is not copied)
  | 'in_bytes' // a buffer the kernel reads; its length is given by lenParam (or gathered: type iovec/msghdr)
  | 'out_bytes' // a buffer the kernel writes; capacity from lenParam, bytes written = ret (or fixed)
  | 'path' // a NUL-terminated string the kernel reads
  | 'in_struct' // a fixed-size or lenParam-sized structure the kernel reads (compared by meaning)
  | 'out_struct'; // a structure the kernel writes (copied from leader to follower)

export type Direction = 'in' | 'out' | 'inout';

/** local: affects only the calling process (memory, signal masks, own identity);
 *  readonly: observes the world without changing it; external: visible effect outside. */
export type EffectClass = 'local' | 'readonly' | 'external';

/**
 * Memory types with a meaning of their own (the rest are structure layouts, by name):
 * - sockaddr: a socket address, its length given by lenParam; meaningful bytes by family
 *   (sockaddr_un up to the path's NUL, or the abstract name; sockaddr_in without sin_zero);
 * - iovec: an iovec array of lenParam entries; its bytes are the data it gathers (in) or the data
 *   scattered into it (out), not the array itself;
 * - msghdr: a struct msghdr; its bytes are the data of its iovecs; its name, control data and
 *   flags are the syscall's derived parameters (`part`);
 * - mmsghdr: a vector of lenParam struct mmsghdr; its bytes are the data of every message in
 *   order; the per-message layout (lengths, names, control data) is a derived parameter;
 * - cmsg: control messages (ancillary data) as the kernel lays them out;
 * - mmsg_meta: mvrc's encoding of an mmsghdr vector's per-message layout (docs/traces.md);
 * - sigset: a signal set (a bit per signal, lenParam or fixed bytes);
 * - cstr: a NUL-terminated string in a fixed-size buffer (compared up to the NUL).
 */
export const SPECIAL_TYPES = ['sockaddr', 'iovec', 'msghdr', 'mmsghdr', 'cmsg', 'mmsg_meta', 'sigset', 'cstr'] as const;
export type SpecialType = (typeof SPECIAL_TYPES)[number];

/** Which part of a msghdr (or mmsghdr vector) a derived parameter holds. */
export type DerivedPart = 'name' | 'control' | 'flags' | 'msgs';

export interface ParamInfo {
  name: string;
  kind: ParamKind;
  dir: Direction;
  /** Index of the parameter that gives this buffer's length (in_bytes, out_bytes, in/out_struct).
   *  That parameter is a 'size' (its value), or a 4-byte 'inout' out_struct: a socklen_t the
   *  kernel reads as the capacity and updates with the real length (accept, recvfrom, getsockopt).
   *  For an iovec array or an mmsghdr vector: the number of entries. */
  lenParam?: number;
  /** out_bytes: the number of bytes written is the return value (for an array of fixedSize
   *  elements: the number of elements, as in epoll_wait). */
  lenFromRet?: boolean;
  /** Fixed size in bytes of a structure (x86-64), when not given by lenParam. With lenParam as
   *  well: the size of one element of an array of lenParam elements (poll fds, epoll events). */
  fixedSize?: number;
  /** The value set (VALUE_SETS) that names this integer's values, both ways (decode, encode). */
  values?: string;
  /** The memory's type: a structure layout (STRUCTS) or one of SPECIAL_TYPES. */
  type?: string;
  /** The kernel ignores this argument (for this call or command): never compared, not shown. */
  unused?: boolean;
  /** A length or count that only gives the size of another argument, which is compared by its
   *  meaning (an iovec count, a sockaddr's length): never compared itself. */
  layout?: boolean;
  /** How the number is shown: octal (modes), hex (addresses, masks) or decimal. */
  fmt?: 'oct' | 'hex' | 'dec';
  /** 32: the kernel reads only the low 32 bits (an int): only those are compared and shown. */
  bits?: 32;
  /** Names strace gives this argument when it prints it as `name=value` (clone). */
  alias?: string[];
  /** A derived parameter (at a position past the arity): a part of the memory of parameter `from`. */
  derived?: { from: number; part: DerivedPart };
}

/** What the return value is, for reports (and, when it is a new descriptor, for the runtime). */
export interface RetInfo {
  /** tid: the caller's own thread id (a process's main thread: its pid). */
  kind: 'fd' | 'int' | 'size' | 'ptr' | 'flags' | 'tid';
  values?: string;
  fmt?: 'oct' | 'hex' | 'dec';
}

/** How a call creates a thread or process (the runtime pairs the leader's with the follower's). */
export interface TaskInfo {
  /** fork: always a process; vfork: a process sharing memory until exec (never paired); clone:
   *  flags in parameter `param`; clone3: flags in the struct clone_args at parameter `param`. */
  how: 'fork' | 'vfork' | 'clone' | 'clone3';
  param?: number;
}

/** One selector condition of a command entry: any value, a value (under the table's mask), or
 *  every bit of a set present. */
export type SelectorMatch = { any: true } | { eq: bigint } | { all: bigint };

export interface CommandEntry {
  /** The entry's name as written (e.g. `F_SETFL`, `SOL_SOCKET,SO_LINGER`), for messages. */
  label: string;
  /** One condition per selector parameter. */
  match: SelectorMatch[];
  /** Parameter descriptions that replace the syscall's own, by position. */
  params: { at: number; param: ParamInfo }[];
  ret?: RetInfo;
  /** The call returns a new descriptor under this command (fcntl F_DUPFD). */
  returnsFd?: boolean;
  blocks?: boolean;
}

/** Per-command argument tables (fcntl, ioctl, prctl, futex, setsockopt ...): every entry whose
 *  conditions hold applies, in order; a later entry's parameter replaces an earlier one's. */
export interface CommandTable {
  /** The selector parameters (one or two). */
  selectors: number[];
  /** Applied to the first selector before comparing with `eq` (futex: the command bits). */
  mask?: bigint;
  entries: CommandEntry[];
}

export interface SyscallInfo {
  name: string;
  nr: number;
  /** Number of parameters the kernel takes. */
  arity: number;
  /** Parameter descriptions; when `detailed` is false they are all 'int' placeholders named a0..a5. */
  params: ParamInfo[];
  /** Derived parameters (msghdr name, control data, flags...), at positions arity, arity+1, ... */
  extra?: ParamInfo[];
  detailed: boolean;
  effect: EffectClass;
  /** The parameter naming the fd that the effect applies to (write, send, close...), if any. */
  fdParam?: number;
  /** The call returns a new fd (open, socket, accept, dup...). */
  returnsFd?: boolean;
  /** The runtime records the call in the leader and matches it in the follower (else each
   *  version executes it on its own, unmatched: memory, signal masks, futex...). */
  recorded: boolean;
  /** The call creates descriptors in memory: an int array at this parameter (pipe, socketpair),
   *  or 'scm' (SCM_RIGHTS control messages it receives: recvmsg, recvmmsg). */
  newFds?: number | 'scm';
  /** The call creates a thread or a process. */
  task?: TaskInfo;
  /** The call never returns ('always': exit, exit_group, rt_sigreturn) or not when it succeeds
   *  ('success': execve, execveat). */
  noReturn?: 'always' | 'success';
  /** The call may wait indefinitely for another party (read, accept, epoll_wait, wait4 ...). */
  blocks?: boolean;
  /** Not implemented on x86-64: the kernel returns ENOSYS whatever the arguments. */
  ni?: boolean;
  /** How the return value is shown (and whether it is a descriptor). */
  ret?: RetInfo;
  /** Per-command argument tables. */
  commands?: CommandTable;
}

/** A value set: names for the values of an integer, both ways (decode for reports, encode when
 *  reading strace output). `enum`: one value; `bits`: a set of flags; `enum+bits`: an enum in the
 *  bits of `mask` and flags in the others (open flags: the access mode, then O_CREAT|...). */
export interface ValueSet {
  name: string;
  kind: 'enum' | 'bits' | 'enum+bits';
  mask?: bigint;
  /** [name, value, description]; the first name of a value is the one shown. */
  entries: readonly (readonly [string, bigint, string?])[];
}

export type FieldType =
  | 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64'
  | 'be16' | 'be32' // network byte order (ports, addresses)
  | 'ptr' // an address: never compared
  | 'fd'
  | 'pad' // padding: never compared, never shown
  | 'bytes' // raw bytes (count = their number)
  | 'cstr' // a NUL-terminated string in `count` bytes (compared up to the NUL)
  | 'inaddr' | 'in6addr'
  | 'sigset' // a signal set of `count` bytes
  | 'sunpath'; // sockaddr_un's path: a cstr, or an abstract name (starting with NUL) as long as the address

export interface StructField {
  name: string;
  offset: number;
  /** A primitive type, or `struct:NAME` for a nested structure. */
  type: FieldType | `struct:${string}`;
  /** Array length (bytes, cstr, sigset: their size in bytes). */
  count?: number;
  values?: string;
  /** How the number is shown; `wstatus`: a wait status (WIFEXITED(s) && WEXITSTATUS(s) == 0);
   *  `union64`: a 64-bit union shown as strace shows epoll's data, {u32=N, u64=N}. */
  fmt?: 'oct' | 'hex' | 'dec' | 'wstatus' | 'union64';
  /** The name strace shows for the field, when not its C name (a sockaddr's family: sa_family). */
  label?: string;
  /** Never compared: it describes the process's own memory (a stack size, epoll data). */
  ignore?: boolean;
  /** Shown in reports when the structure is shown briefly (only such fields, then `...`). */
  brief?: boolean;
  /** Not shown when zero (poll's revents). */
  omit0?: boolean;
}

export interface StructInfo {
  name: string;
  size: number;
  /** The C type it is (for the sizeof/offsetof check against the system headers), if any. */
  ctype?: string;
  fields: StructField[];
}
