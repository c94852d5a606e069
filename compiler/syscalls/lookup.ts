// Look-ups in the x86-64 syscall table (data: compiler/syscalls/x86_64.tsv, generated into
// compiler/syscalls/table.generated.ts by scripts/gen-syscalls.ts).
import { closestName } from '../core/suggest.ts';
import { SYSCALL_TABLE } from './table.generated.ts';
import type { ParamKind, SyscallInfo } from './types.ts';

// The table is shared by every user of this module: freeze it so that no caller can change
// what another one sees.
for (const s of SYSCALL_TABLE) {
  for (const p of s.params) Object.freeze(p);
  Object.freeze(s.params);
  Object.freeze(s);
}
Object.freeze(SYSCALL_TABLE);

const BY_NAME = new Map<string, SyscallInfo>(SYSCALL_TABLE.map((s) => [s.name, s]));
const BY_NR = new Map<number, SyscallInfo>(SYSCALL_TABLE.map((s) => [s.nr, s]));

/** The syscall with this exact (kernel) name, e.g. 'pread64', 'newfstatat'. */
export function syscallByName(name: string): SyscallInfo | undefined {
  return BY_NAME.get(name);
}

/** The syscall with this x86-64 number. */
export function syscallByNr(nr: number): SyscallInfo | undefined {
  return BY_NR.get(nr);
}

/** Every syscall, sorted by number. */
export function allSyscalls(): readonly SyscallInfo[] {
  return SYSCALL_TABLE;
}

export { editDistance } from '../core/suggest.ts';

/**
 * The closest syscall name (or name in `extra`, e.g. the file's group names) for a "did you
 * mean" hint, or undefined when `name` is itself known or nothing is close (compiler/core/suggest.ts).
 */
export function suggestSyscallName(name: string, extra: readonly string[] = []): string | undefined {
  if (BY_NAME.has(name)) return undefined;
  return closestName(name, [...BY_NAME.keys(), ...extra]);
}

const KIND_DESCRIPTIONS: Record<ParamKind, string> = {
  fd: 'a file descriptor',
  int: 'an integer',
  size: 'a size',
  flags: 'flags',
  ptr: 'a pointer',
  in_bytes: 'input bytes',
  out_bytes: 'output bytes',
  path: 'a path',
  in_struct: 'an input structure',
  out_struct: 'an output structure',
};

/** A short phrase for messages: 'a file descriptor', 'input bytes', 'a path' ... */
export function paramKindDescription(kind: ParamKind): string {
  return KIND_DESCRIPTIONS[kind];
}
