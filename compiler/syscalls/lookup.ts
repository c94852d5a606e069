// Look-ups in the x86-64 syscall table (data: compiler/syscalls/x86_64.tsv, generated into
// compiler/syscalls/table.generated.ts by scripts/gen-syscalls.ts).
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

/** Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
 *  neighbouring characters each cost 1 (so 'opne' is 1 away from 'open'). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      }
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}

/**
 * The closest syscall name (or name in `extra`, e.g. the file's group names) for a "did you
 * mean" hint, or undefined when `name` is itself known or nothing is close: at most one edit for names of up to 4
 * characters, two up to 7, three beyond. Case is ignored ('Read' suggests 'read'). Ties go to
 * the candidate whose length is closest, then to the alphabetically first, so the answer is
 * stable.
 */
export function suggestSyscallName(name: string, extra: readonly string[] = []): string | undefined {
  if (name === '' || BY_NAME.has(name) || extra.includes(name)) return undefined;
  const wanted = name.toLowerCase();
  const limit = wanted.length <= 4 ? 1 : wanted.length <= 7 ? 2 : 3;
  let best: { name: string; dist: number; lenDiff: number } | undefined;
  const consider = (candidate: string): void => {
    // Lengths differing by more than the limit cannot be within it.
    if (Math.abs(candidate.length - wanted.length) > limit) return;
    const dist = editDistance(wanted, candidate.toLowerCase());
    if (dist > limit) return;
    const lenDiff = Math.abs(candidate.length - wanted.length);
    if (
      best === undefined ||
      dist < best.dist ||
      (dist === best.dist && (lenDiff < best.lenDiff || (lenDiff === best.lenDiff && candidate < best.name)))
    ) {
      best = { name: candidate, dist, lenDiff };
    }
  };
  for (const s of SYSCALL_TABLE) consider(s.name);
  for (const e of extra) consider(e);
  return best?.name;
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
