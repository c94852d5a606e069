// The syscall tables travel as JSON text (compiler/syscalls/table.generated.ts): V8 parses JSON
// much faster than the equivalent object literals, which it compiles as code and keeps in the
// CLI's code cache. JSON has no bigint, so the generator writes each as a decimal string, and
// these functions put the bigints back in the fields that hold them. A JSON.parse reviver would
// do it generically but costs a call per value (~20 ms of a `mvrc check` start-up);
// scripts/gen-syscalls.ts checks that the round trip gives back exactly the data it wrote.
import type { SyscallInfo, ValueSet } from './types.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

export function syscallsFromJson(json: string): readonly SyscallInfo[] {
  const rows = JSON.parse(json) as Mutable<SyscallInfo>[];
  for (const s of rows) {
    const c = s.commands;
    if (!c) continue;
    if (c.mask !== undefined) c.mask = BigInt(c.mask);
    for (const e of c.entries) {
      for (const m of e.match as Record<string, unknown>[]) {
        if ('eq' in m) m.eq = BigInt(m.eq as string);
        if ('all' in m) m.all = BigInt(m.all as string);
      }
    }
  }
  return rows as readonly SyscallInfo[];
}

export function valueSetsFromJson(json: string): readonly ValueSet[] {
  const rows = JSON.parse(json) as Mutable<ValueSet>[];
  for (const v of rows) {
    if (v.mask !== undefined) v.mask = BigInt(v.mask);
    for (const e of v.entries as unknown as unknown[][]) e[1] = BigInt(e[1] as string);
  }
  return rows as readonly ValueSet[];
}
