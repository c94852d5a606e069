// Value sets (the @values sections of compiler/syscalls/x86_64.tsv), both ways: a number shown by
// its names (`O_RDWR|O_CLOEXEC`, `SIGINT`, `EPOLL_CTL_ADD`) for reports, and names read back into
// numbers (strace output). One table per set serves both directions.
import { VALUE_SETS } from './table.generated.ts';
import type { ValueSet } from './types.ts';

const SETS = new Map<string, ValueSet>(VALUE_SETS.map((v) => [v.name, v]));
/** Every name of every set: C's macro names are one namespace (the generator checks that a name
 *  has one value everywhere). */
const NAMES = new Map<string, bigint>();
for (const v of VALUE_SETS) for (const [name, value] of v.entries) if (!NAMES.has(name)) NAMES.set(name, value);

export function valueSet(name: string): ValueSet | undefined {
  return SETS.get(name);
}

/** The value of a name in any set (O_CREAT, SIGINT, TCGETS, EAGAIN ...). */
export function nameValue(name: string): bigint | undefined {
  return NAMES.get(name);
}

export function hex(v: bigint): string {
  return v === 0n ? '0' : `0x${BigInt.asUintN(64, v).toString(16)}`;
}

export function octal(v: bigint): string {
  return v === 0n ? '0' : `0${BigInt.asUintN(64, v).toString(8)}`;
}

/** A number in a display format (decimal: signed). */
export function formatNumber(v: bigint, fmt: 'oct' | 'hex' | 'dec' | undefined, bits: 32 | 64 = 64): string {
  if (fmt === 'oct') return octal(BigInt.asUintN(bits, v));
  if (fmt === 'hex') return hex(BigInt.asUintN(bits, v));
  return BigInt.asIntN(bits, v).toString();
}

function sameValue(a: bigint, b: bigint, bits: 32 | 64): boolean {
  return BigInt.asUintN(bits, a) === BigInt.asUintN(bits, b);
}

/**
 * A value shown by its set's names: an enum's name (or the number), a bit set as `A|B|0x40`
 * (leftover bits in `fmt`, hex by default; an empty set as its zero name, or 0), an enum+bits as
 * the enum's name then the flags.
 */
export function formatValue(setName: string, v: bigint, fmt?: 'oct' | 'hex' | 'dec', bits: 32 | 64 = 64): string {
  const set = SETS.get(setName);
  if (!set) return formatNumber(v, fmt, bits);
  const u = BigInt.asUintN(bits, v);
  if (set.kind === 'enum') {
    for (const [name, value] of set.entries) if (sameValue(value, v, bits)) return name;
    return formatNumber(v, fmt, bits);
  }
  const mask = set.kind === 'enum+bits' ? BigInt.asUintN(bits, set.mask ?? 0n) : 0n;
  const names: string[] = [];
  let rest = u;
  if (set.kind === 'enum+bits') {
    const e = u & mask;
    const named = set.entries.find(([, value]) => (BigInt.asUintN(bits, value) & ~mask) === 0n && BigInt.asUintN(bits, value) === e);
    if (named) {
      names.push(named[0]);
      rest &= ~mask;
    }
  }
  let zeroName: string | undefined;
  for (const [name, value] of set.entries) {
    const b = BigInt.asUintN(bits, value);
    if (b === 0n) {
      zeroName ??= name;
      continue;
    }
    if ((b & mask) !== 0n && set.kind === 'enum+bits') continue; // part of the enum
    if ((rest & b) === b) {
      names.push(name);
      rest &= ~b;
    }
  }
  if (rest !== 0n || names.length === 0) {
    if (rest === 0n && zeroName !== undefined) return zeroName;
    names.push(fmt === 'oct' ? octal(rest) : fmt === 'dec' ? rest.toString() : hex(rest));
  }
  return names.join('|');
}

/** The description of a value (errno's strerror text), if its set has one. */
export function valueText(setName: string, v: bigint): string | undefined {
  const set = SETS.get(setName);
  return set?.entries.find(([, value]) => value === v)?.[2];
}

/** The name of a value in an enum set, when it has one. */
export function valueName(setName: string, v: bigint): string | undefined {
  return SETS.get(setName)?.entries.find(([, value]) => value === v)?.[0];
}
