// What an argument means, from the syscall model (compiler/syscalls/x86_64.tsv): the parameters a
// call has for its command (fcntl's cmd, ioctl's request ...), how each is compared by the default
// match, and its meaningful bytes. The reference interpreter, infer, verify and the reports use
// these functions; the C matcher (runtime-c/include/mvr_matcher.h, with the tables
// codegen-c/default-match.ts generates) implements the same rules, and test/differential.test.ts
// checks that both decide alike.
import { canonicalize, canonProgram, type CanonProgram } from './layout.ts';
import { SOCKADDR_FAMILIES, STRUCTS } from './table.generated.ts';
import { compareClass, paramsOf } from './classes.ts';
import type { ParamInfo, StructInfo, SyscallInfo } from './types.ts';
import { SPECIAL_TYPES } from './types.ts';

export { argValue, commandEntries, compareClass, countSource, emulatedCount, isGathered, paramsOf, retOf, returnsFdOf, type CompareClass } from './classes.ts';
import { argValue } from './classes.ts';

const STRUCT_BY_NAME = new Map<string, StructInfo>(STRUCTS.map((s) => [s.name, s]));
const FAMILY_LAYOUT = new Map<bigint, StructInfo>(SOCKADDR_FAMILIES.map(([f, n]) => [f, STRUCT_BY_NAME.get(n)!]));
const PROGRAMS = new Map<string, CanonProgram>();

/** A structure layout by name (x86_64.tsv, @struct). */
export function structByName(name: string): StructInfo | undefined {
  return STRUCT_BY_NAME.get(name);
}

/** The layout of a sockaddr of this address family, if the model has one. */
export function sockaddrLayout(family: bigint | number): StructInfo | undefined {
  return FAMILY_LAYOUT.get(BigInt(family));
}

function programOf(s: StructInfo): CanonProgram {
  let p = PROGRAMS.get(s.name);
  if (!p) PROGRAMS.set(s.name, (p = canonProgram(s, structByName)));
  return p;
}


/**
 * The meaningful bytes of an input: a sockaddr by its family's layout (sockaddr_in without
 * sin_zero, sockaddr_un up to its path's NUL), a structure without its padding and pointers, a
 * string up to its NUL. Idempotent: meaningful bytes are their own meaningful bytes.
 */
export function meaningfulBytes(p: ParamInfo | undefined, bytes: Uint8Array): Uint8Array {
  const t = p?.type;
  if (t === undefined) return bytes;
  if (t === 'cstr') {
    const nul = bytes.indexOf(0);
    return nul >= 0 ? bytes.subarray(0, nul) : bytes;
  }
  if (t === 'sockaddr') {
    if (bytes.length < 2) return bytes;
    const layout = sockaddrLayout(bytes[0]! | (bytes[1]! << 8));
    return layout ? canonicalize(programOf(layout), bytes) : bytes;
  }
  if ((SPECIAL_TYPES as readonly string[]).includes(t)) return bytes;
  const s = structByName(t);
  if (!s) return bytes;
  const prog = programOf(s);
  if (p!.lenParam !== undefined && p!.fixedSize !== undefined) {
    // An array of structures: each element keeps its size.
    const out = new Uint8Array(bytes.length);
    for (let o = 0; o < bytes.length; o += s.size) out.set(canonicalize(prog, bytes.subarray(o, Math.min(o + s.size, bytes.length)), true), o);
    return out;
  }
  return canonicalize(prog, bytes);
}

/** Byte buffers equal by content (null and empty are equal). */
export function bytesEqual(a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  const la = a?.length ?? 0;
  const lb = b?.length ?? 0;
  if (la !== lb) return false;
  for (let i = 0; i < la; i++) if (a![i] !== b![i]) return false;
  return true;
}

export interface CallLike {
  args: readonly bigint[];
  bufs: readonly (Uint8Array | null | undefined)[];
}

/** The parameters whose values or bytes the default match compares, for one call (the leader's:
 *  its command decides; a different command is a different scalar anyway). */
function compared(sc: SyscallInfo, e: CallLike): { j: number; p: ParamInfo; cls: 'scalar' | 'content' }[] {
  const out: { j: number; p: ParamInfo; cls: 'scalar' | 'content' }[] = [];
  paramsOf(sc, e.args).forEach((p, j) => {
    const cls = compareClass(p);
    if (cls === 'scalar' || cls === 'content') out.push({ j, p: p!, cls });
  });
  return out;
}

/**
 * The default match's comparison (docs/semantics.md, "The default match"): every input argument
 * of the leader's event `e` and the follower's call `c` (same syscall) means the same. Scalars by
 * value (32-bit ones by their low half), inputs by their meaningful bytes; pointers, unused
 * arguments and lengths that only size another argument are not compared. A syscall the table
 * does not know compares all six registers.
 */
export function inputsEqual(sc: SyscallInfo | undefined, e: CallLike, c: CallLike): boolean {
  return firstDifference(sc, e, c) === undefined;
}

export interface Difference {
  /** The parameter's position (derived parameters: past the arity). */
  arg: number;
  param?: ParamInfo;
  /** For bytes: the offset of the first byte that differs in the meaningful bytes. */
  offset?: number;
  /** The meaningful bytes compared (content parameters). */
  leaderBytes?: Uint8Array;
  followerBytes?: Uint8Array;
}

/** The first input argument in which `c` does not mean what `e` means, or undefined. */
export function firstDifference(sc: SyscallInfo | undefined, e: CallLike, c: CallLike): Difference | undefined {
  if (!sc) {
    for (let j = 0; j < 6; j++) if (BigInt.asIntN(64, e.args[j] ?? 0n) !== BigInt.asIntN(64, c.args[j] ?? 0n)) return { arg: j };
    return undefined;
  }
  for (const { j, p, cls } of compared(sc, e)) {
    if (cls === 'scalar') {
      if (argValue(p, e.args[j] ?? 0n) !== argValue(p, c.args[j] ?? 0n)) return { arg: j, param: p };
      continue;
    }
    const a = meaningfulBytes(p, e.bufs[j] ?? new Uint8Array(0));
    const b = meaningfulBytes(p, c.bufs[j] ?? new Uint8Array(0));
    if (bytesEqual(a, b)) continue;
    let k = 0;
    while (k < a.length && k < b.length && a[k] === b[k]) k++;
    return { arg: j, param: p, offset: k, leaderBytes: a, followerBytes: b };
  }
  return undefined;
}

/**
 * The key of the default match for one call: two calls of the same syscall with equal keys match
 * by default (infer aligns traces on it). Same rules as inputsEqual.
 */
export function matchKey(nr: number, sc: SyscallInfo | undefined, e: CallLike): string {
  const parts: string[] = [String(nr)];
  if (!sc) {
    for (let j = 0; j < 6; j++) parts.push(String(BigInt.asIntN(64, e.args[j] ?? 0n)));
    return parts.join('|');
  }
  for (const { j, p, cls } of compared(sc, e)) {
    if (cls === 'scalar') parts.push(`${j}=${argValue(p, e.args[j] ?? 0n)}`);
    else parts.push(`${j}:${Buffer.from(meaningfulBytes(p, e.bufs[j] ?? new Uint8Array(0))).toString('hex')}`);
  }
  return parts.join('|');
}

/**
 * The input buffers of a call in their meaningful form (what a recorder keeps, and what the trace
 * readers give the interpreter): so that literals in rules and bytes compared across calls are the
 * bytes that mean something.
 */
// `params`: paramsOf(sc, args), when the caller has it (a trace reader, once per event).
export function meaningfulInputs(sc: SyscallInfo | undefined, args: readonly bigint[], bufs: (Uint8Array | null)[], params?: readonly (ParamInfo | undefined)[]): (Uint8Array | null)[] {
  if (!sc) return bufs;
  const ps = params ?? paramsOf(sc, args);
  return bufs.map((b, j) => (b && compareClass(ps[j]) === 'content' ? meaningfulBytes(ps[j], b) : b));
}


/**
 * A call's arguments as the kernel reads them: a 32-bit argument's undefined upper half replaced —
 * by its sign for fd and int (AT_FDCWD is -100 however the caller loaded it), by zeros for flags.
 * Trace readers keep arguments in this form, so that rules and reports see what the kernel saw.
 */
// `params`: paramsOf(sc, args), when the caller has it.
export function canonicalArgs(sc: SyscallInfo | undefined, args: readonly bigint[], params?: readonly (ParamInfo | undefined)[]): bigint[] {
  if (!sc) return [...args];
  const ps = params ?? paramsOf(sc, args);
  const out = args.slice();
  for (let j = 0; j < out.length; j++) {
    const p = ps[j];
    if (p?.bits !== 32) continue;
    const v = out[j]!;
    // A value already in range is kept (no new BigInt per argument: readers call this per event).
    if (p.kind === 'flags') {
      if (v < 0n || v > 0xffffffffn) out[j] = BigInt.asUintN(32, v);
    } else if (v < -0x80000000n || v > 0x7fffffffn) out[j] = BigInt.asIntN(32, v);
  }
  return out;
}
