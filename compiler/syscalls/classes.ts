// Pure rules of the syscall model, without its data: the parameters a call has for its command,
// and how the default match treats each. The generator of the C tables (codegen-c/default-match.ts)
// uses them too, so they must not depend on the generated table (compiler/syscalls/meaning.ts adds
// what needs it).
import type { CommandEntry, ParamInfo, RetInfo, SelectorMatch, SyscallInfo } from './types.ts';

/** A parameter's value as the kernel reads it: the low 32 bits of an int, unsigned. */
export function argValue(p: ParamInfo | undefined, v: bigint): bigint {
  return p?.bits === 32 ? BigInt.asUintN(32, v) : BigInt.asUintN(64, v);
}

function condHolds(m: SelectorMatch, v: bigint): boolean {
  if ('any' in m) return true;
  if ('eq' in m) return v === m.eq;
  return (v & m.all) === m.all;
}

/** The command entries of a call's command table whose conditions hold, in order. */
export function commandEntries(sc: SyscallInfo, args: readonly bigint[]): CommandEntry[] {
  const c = sc.commands;
  if (!c) return [];
  const vals = c.selectors.map((s, k) => {
    const p = sc.params[s];
    let v = argValue(p, args[s] ?? 0n);
    if (k === 0 && c.mask !== undefined) v &= argValue(p, c.mask);
    return v;
  });
  return c.entries.filter((e) =>
    e.match.every((m, k) => {
      const p = sc.params[c.selectors[k]!];
      const norm: SelectorMatch = 'eq' in m ? { eq: argValue(p, m.eq) } : 'all' in m ? { all: argValue(p, m.all) } : m;
      return condHolds(norm, vals[k]!);
    }),
  );
}

/**
 * The parameters of a call, by position: the syscall's own with its command's replacements, then
 * the derived ones (msghdr parts) after the arity; undefined past the last. An unknown syscall has
 * none (callers compare all six registers then).
 */
export function paramsOf(sc: SyscallInfo | undefined, args: readonly bigint[]): (ParamInfo | undefined)[] {
  if (!sc) return [undefined, undefined, undefined, undefined, undefined, undefined];
  let base = baseParams.get(sc);
  if (!base) {
    base = [undefined, undefined, undefined, undefined, undefined, undefined];
    for (let j = 0; j < sc.params.length; j++) base[j] = sc.params[j];
    if (sc.extra) for (let k = 0; k < sc.extra.length; k++) base[sc.arity + k] = sc.extra[k];
    baseParams.set(sc, base);
  }
  const out = base.slice();
  // Readers call this for every event of a trace: most calls have no command table.
  if (!sc.commands) return out;
  for (const e of commandEntries(sc, args)) for (const { at, param } of e.params) out[at] = param;
  return out;
}

/** A syscall's own parameters, then the derived ones, by position (paramsOf without commands). */
const baseParams = new WeakMap<SyscallInfo, (ParamInfo | undefined)[]>();

/** Whether this call (with its command) returns a new descriptor. */
export function returnsFdOf(sc: SyscallInfo | undefined, args: readonly bigint[]): boolean {
  if (!sc) return false;
  return sc.returnsFd === true || commandEntries(sc, args).some((e) => e.returnsFd);
}

/** How the return value of this call is shown (its command's description first). */
export function retOf(sc: SyscallInfo | undefined, args: readonly bigint[]): RetInfo | undefined {
  if (!sc) return undefined;
  let r = sc.ret;
  for (const e of commandEntries(sc, args)) if (e.ret) r = e.ret;
  return r;
}

/**
 * How the default match treats a parameter: `none` (never compared: pointers, unused arguments,
 * sizes that only give another argument's length), `scalar` (by value), `content` (by meaningful
 * bytes), `out` / `outret` (an output the follower is given; outret: its length is the result).
 */
export type CompareClass = 'none' | 'scalar' | 'content' | 'out' | 'outret';

export function compareClass(p: ParamInfo | undefined): CompareClass {
  if (!p) return 'none';
  switch (p.kind) {
    case 'ptr':
      return 'none';
    case 'fd':
    case 'int':
    case 'size':
    case 'flags':
      return p.unused || p.layout ? 'none' : 'scalar';
    case 'in_bytes':
    case 'path':
    case 'in_struct':
      return p.unused ? 'none' : 'content';
    case 'out_bytes':
    case 'out_struct':
      if (p.unused) return 'none';
      return p.kind === 'out_bytes' && p.lenFromRet ? 'outret' : 'out';
  }
}

/** Whether the memory of a parameter is gathered or scattered data (iovecs, msghdr, mmsghdr). */
export function isGathered(p: ParamInfo | undefined): boolean {
  return p?.type === 'iovec' || p?.type === 'msghdr' || p?.type === 'mmsghdr';
}

/**
 * EMULATE's default result: the requested count for byte-count calls — the length parameter of
 * the first bytes parameter, or, for gathered data, the bytes gathered (in) or the capacity
 * offered (out) — else 0.
 */
export function emulatedCount(sc: SyscallInfo | undefined, call: { args: readonly bigint[]; bufs: readonly (Uint8Array | null)[]; caps: readonly number[] }): bigint {
  const c = countSource(sc);
  if (!c) return 0n;
  if (c.buf !== undefined) return sc!.params[c.buf]!.kind === 'in_bytes' ? BigInt(call.bufs[c.buf]?.length ?? 0) : BigInt(call.caps[c.buf] ?? 0);
  return call.args[c.arg!] ?? 0n;
}

/** Where EMULATE's count comes from: an argument, or a buffer's length (gathered data). */
export function countSource(sc: SyscallInfo | undefined): { arg?: number; buf?: number } | undefined {
  if (!sc) return undefined;
  for (const [j, p] of sc.params.entries()) {
    if (p.kind !== 'in_bytes' && p.kind !== 'out_bytes') continue;
    if (p.type === 'iovec' || p.type === 'msghdr') return { buf: j };
    if (p.lenParam !== undefined && sc.params[p.lenParam]?.kind === 'size') return { arg: p.lenParam };
  }
  return undefined;
}
