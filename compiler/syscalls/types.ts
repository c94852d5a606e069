// Types of the syscall table. The data lives in compiler/syscalls/x86_64.tsv (one source of truth);
// scripts/gen-syscalls.ts generates compiler/syscalls/table.generated.ts and
// runtime-c/include/mvr_syscalls.h from it. Use compiler/syscalls/lookup.ts to look things up.

/** What a parameter holds; also the kind a rule variable bound to it has (LANGUAGE.md §4). */
export type ParamKind =
  | 'fd' // a file descriptor number
  | 'int' // any other integer (signal number, pid, whence, ...)
  | 'size' // a byte count or length
  | 'flags' // a bit set or mode
  | 'ptr' // an address whose value is never compared (and whose memory is not copied)
  | 'in_bytes' // a buffer the kernel reads; its length is given by lenParam
  | 'out_bytes' // a buffer the kernel writes; capacity from lenParam, bytes written = ret (or fixed)
  | 'path' // a NUL-terminated string the kernel reads
  | 'in_struct' // a fixed-size or lenParam-sized structure the kernel reads (compared by content)
  | 'out_struct'; // a structure the kernel writes (copied from leader to follower)

export type Direction = 'in' | 'out' | 'inout';

/** local: affects only the calling process (memory, signal masks, own identity);
 *  readonly: observes the world without changing it; external: visible effect outside. */
export type EffectClass = 'local' | 'readonly' | 'external';

export interface ParamInfo {
  name: string;
  kind: ParamKind;
  dir: Direction;
  /** Index of the parameter that gives this buffer's length (in_bytes, out_bytes, in/out_struct).
   *  That parameter is a 'size' (its value), or a 4-byte 'inout' out_struct: a socklen_t the
   *  kernel reads as the capacity and updates with the real length (accept, recvfrom, getsockopt). */
  lenParam?: number;
  /** out_bytes: the number of bytes written is the return value (for an array of fixedSize
   *  elements: the number of elements, as in epoll_wait). */
  lenFromRet?: boolean;
  /** Fixed size in bytes of a structure (x86-64), when not given by lenParam. With lenParam as
   *  well: the size of one element of an array of lenParam elements (poll fds, epoll events). */
  fixedSize?: number;
}

export interface SyscallInfo {
  name: string;
  nr: number;
  /** Number of parameters the kernel takes. */
  arity: number;
  /** Parameter descriptions; when `detailed` is false they are all 'int' placeholders named a0..a5. */
  params: ParamInfo[];
  detailed: boolean;
  effect: EffectClass;
  /** The parameter naming the fd that the effect applies to (write, send, close...), if any. */
  fdParam?: number;
  /** The call returns a new fd (open, socket, accept, dup...). */
  returnsFd?: boolean;
}
