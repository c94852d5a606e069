// strace-like rendering of one syscall for reports and diagnostics, from the syscall model
// (compiler/syscalls/x86_64.tsv): every argument by what it is for the call's command — flags and
// constants by their value sets' names, structures by their layouts, socket addresses by family,
// signal sets, msghdrs with their name and control data, gathered data as the bytes written:
//   write(3, "OK\r\n", 4) = 4
//   openat(AT_FDCWD, "/etc/x", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)
//   fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)
// Byte buffers are shown as escaped strings (\t \n \r \\ \" and \xNN, the escapes mvr strings
// accept), cut after 32 bytes with `...`; memory that was not recorded is shown as its address.
// describeDifference says where two calls differ: the argument, and for bytes the first byte
// that differs with the bytes around it.
import { flatten } from './layout.ts';
import { syscallByNr } from './lookup.ts';
import { firstDifference, paramsOf, retOf, sockaddrLayout, structByName, type CallLike } from './meaning.ts';
import type { ParamInfo, StructField, StructInfo, SyscallInfo } from './types.ts';
import { formatNumber, formatValue, hex, octal, valueSet } from './values.ts';

/** How many bytes of a buffer formatCall shows before `...`. */
export const MAX_SHOWN_BYTES = 32;

// ---------------------------------------------------------------------------------------------
// errno (the model's `errno` value set)

const ERRNO_BY_NR = new Map<number, { name: string; text: string }>();
for (const [name, v, text] of valueSet('errno')?.entries ?? []) {
  if (text !== undefined && !ERRNO_BY_NR.has(Number(v))) ERRNO_BY_NR.set(Number(v), { name, text });
}

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
  return [...ERRNO_BY_NR].map(([n, { name, text }]) => [n, name, text] as const);
}

// ---------------------------------------------------------------------------------------------
// Small formatters

function pointer(v: bigint): string {
  return v === 0n ? 'NULL' : `0x${BigInt.asUintN(64, v).toString(16)}`;
}

/** Escapes bytes the way mvr string literals are written; cuts after `limit` bytes. */
export function escapeBytes(bytes: Uint8Array, limit: number = MAX_SHOWN_BYTES): string {
  let s = '"';
  const n = Math.min(bytes.length, limit);
  for (let i = 0; i < n; i++) s += escapeByte(bytes[i]!);
  s += '"';
  if (bytes.length > limit) s += '...';
  return s;
}

function escapeByte(b: number): string {
  if (b === 0x22) return '\\"';
  if (b === 0x5c) return '\\\\';
  if (b === 0x0a) return '\\n';
  if (b === 0x0d) return '\\r';
  if (b === 0x09) return '\\t';
  if (b >= 0x20 && b < 0x7f) return String.fromCharCode(b);
  return `\\x${b.toString(16).padStart(2, '0')}`;
}

function cString(bytes: Uint8Array): Uint8Array {
  const nul = bytes.indexOf(0);
  return nul >= 0 ? bytes.subarray(0, nul) : bytes;
}

function signalName(n: number): string {
  return valueSet('signal')?.entries.find(([, v]) => v === BigInt(n))?.[0] ?? String(n);
}

/** A signal set as strace shows it: [INT TERM], or [] when empty. */
function sigset(bytes: Uint8Array): string {
  const names: string[] = [];
  for (let i = 0; i < bytes.length * 8 && i < 64; i++) {
    if ((bytes[i >> 3]! >> (i & 7)) & 1) names.push(signalName(i + 1).replace(/^SIG/, ''));
  }
  return `[${names.join(' ')}]`;
}

function waitStatus(s: number): string {
  const sig = s & 0x7f;
  if (sig === 0) return `{WIFEXITED(s) && WEXITSTATUS(s) == ${(s >> 8) & 0xff}}`;
  if (sig === 0x7f) return `{WIFSTOPPED(s) && WSTOPSIG(s) == ${signalName((s >> 8) & 0xff)}}`;
  const core = s & 0x80 ? ' && WCOREDUMP(s)' : '';
  return `{WIFSIGNALED(s) && WTERMSIG(s) == ${signalName(sig)}${core}}`;
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

// ---------------------------------------------------------------------------------------------
// Structures, by their layouts

const PRIM: Record<string, { size: number; signed: boolean }> = {
  i8: { size: 1, signed: true }, u8: { size: 1, signed: false }, i16: { size: 2, signed: true }, u16: { size: 2, signed: false },
  i32: { size: 4, signed: true }, u32: { size: 4, signed: false }, i64: { size: 8, signed: true }, u64: { size: 8, signed: false },
  fd: { size: 4, signed: true }, ptr: { size: 8, signed: false }, be16: { size: 2, signed: false }, be32: { size: 4, signed: false },
};

function readInt(b: Uint8Array, at: number, size: number, signed: boolean, bigEndian = false): bigint {
  let v = 0n;
  for (let k = 0; k < size; k++) v = (v << 8n) | BigInt(b[bigEndian ? at + k : at + size - 1 - k] ?? 0);
  return signed ? BigInt.asIntN(size * 8, v) : v;
}

function fieldSizeOf(f: StructField): number {
  if (f.type.startsWith('struct:')) return (structByName(f.type.slice(7))?.size ?? 0) * (f.count ?? 1);
  if (['bytes', 'cstr', 'pad', 'sigset', 'sunpath'].includes(f.type)) return f.count ?? 0;
  return (PRIM[f.type]?.size ?? (f.type === 'inaddr' ? 4 : f.type === 'in6addr' ? 16 : 0)) * (f.count ?? 1);
}

/** One number of a field, by its value set and format. */
function primText(f: StructField, v: bigint, size: number): string {
  if (f.fmt === 'wstatus') return waitStatus(Number(BigInt.asIntN(32, v)));
  if (f.fmt === 'union64') return `{u32=${BigInt.asUintN(32, v)}, u64=${BigInt.asUintN(64, v)}}`;
  if (f.type === 'ptr' && !f.values) return pointer(v);
  const bits = size >= 8 ? 64 : 32;
  const fmt = f.fmt === 'oct' || f.fmt === 'hex' || f.fmt === 'dec' ? f.fmt : undefined;
  if (f.values) return formatValue(f.values, v, fmt, bits);
  return fmt ? formatNumber(v, fmt, bits) : v.toString();
}

/** A field's value, or undefined when its bytes are not all there (a string may end early). */
function fieldText(f: StructField, b: Uint8Array, at: number): string | undefined {
  let size = fieldSizeOf(f);
  if (at + size > b.length) {
    if (!(f.type === 'cstr' || f.type === 'bytes' || f.type === 'sunpath') || at >= b.length) return undefined;
    size = b.length - at;
  }
  if (f.type.startsWith('struct:')) {
    const sub = structByName(f.type.slice(7));
    if (!sub) return undefined;
    if ((f.count ?? 1) === 1) return structText(sub, b.subarray(at, at + sub.size));
    const items: string[] = [];
    for (let k = 0; k < f.count!; k++) items.push(structText(sub, b.subarray(at + k * sub.size, at + (k + 1) * sub.size)));
    return `[${items.join(', ')}]`;
  }
  const slice = b.subarray(at, at + size);
  switch (f.type) {
    case 'bytes':
      return escapeBytes(slice);
    case 'cstr':
      return escapeBytes(cString(slice), size);
    case 'sunpath':
      // An abstract socket name starts with a NUL byte; strace shows it as @name.
      return slice[0] === 0 && slice.length > 0 ? `@${escapeBytes(cString(slice.subarray(1)), size)}` : escapeBytes(cString(slice), size);
    case 'sigset':
      return sigset(slice);
    case 'inaddr':
      return `inet_addr("${Array.from(slice).join('.')}")`;
    case 'in6addr':
      return `inet_pton(AF_INET6, "${ipv6Text(slice)}", &${f.label ?? f.name})`;
    case 'be16':
      return `htons(${readInt(b, at, 2, false, true)})`;
    case 'be32':
      return `htonl(${readInt(b, at, 4, false, true)})`;
    default: {
      const prim = PRIM[f.type];
      if (!prim) return undefined;
      const n = f.count ?? 1;
      const one = (o: number): string => primText(f, readInt(b, o, prim.size, prim.signed), prim.size);
      if (n === 1) return one(at);
      return `[${Array.from({ length: n }, (_, k) => one(at + k * prim.size)).join(', ')}]`;
    }
  }
}

/** A structure as strace shows it: {name=value, ...}; a single value behind a pointer as [v]. */
function structText(s: StructInfo, b: Uint8Array): string {
  if (s.fields.length === 1) {
    const f = s.fields[0]!;
    const t = fieldText(f, b, f.offset);
    if (t === undefined) return escapeBytes(b);
    if (f.type === 'cstr' || f.type === 'bytes' || (f.count ?? 1) > 1 || f.type.startsWith('struct:')) return t;
    return `[${t}]`;
  }
  const brief = s.fields.some((f) => f.brief);
  const parts: string[] = [];
  let cut = false;
  for (const f of s.fields) {
    if (f.type === 'pad' || (brief && !f.brief)) continue;
    const t = fieldText(f, b, f.offset);
    if (t === undefined) {
      cut = true;
      break;
    }
    if (f.omit0 && /^0$|^\[0\]$/.test(t)) continue;
    parts.push(f.type === 'in6addr' ? t : `${f.label ?? f.name}=${t}`);
  }
  if (brief || cut) parts.push('...');
  return `{${parts.join(', ')}}`;
}

function sockaddrText(b: Uint8Array): string | undefined {
  if (b.length < 2) return undefined;
  const family = b[0]! | (b[1]! << 8);
  const layout = sockaddrLayout(family);
  const fam = `sa_family=${formatValue('af', BigInt(family))}`;
  if (!layout) return `{${fam}, ...}`;
  // A sockaddr is as long as its address: the fields present are shown.
  const parts: string[] = [];
  for (const ff of flatten(layout, structByName)) {
    const f = ff.field;
    if (f.type === 'pad') continue;
    if (ff.offset >= b.length && f.type !== 'sunpath') break;
    const t = f.type === 'sunpath' ? fieldText({ ...f, count: Math.max(0, b.length - ff.offset) }, b, ff.offset) : fieldText(f, b, ff.offset);
    if (t === undefined) break;
    parts.push(f.type === 'in6addr' ? t : `${f.label ?? f.name}=${t}`);
  }
  return `{${parts.join(', ')}}`;
}

/** Control messages: [{cmsg_len=20, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[5]}]. */
function cmsgText(b: Uint8Array): string {
  const items: string[] = [];
  for (let o = 0; o + 16 <= b.length; ) {
    const len = Number(readInt(b, o, 8, false));
    const level = readInt(b, o + 8, 4, true);
    const type = readInt(b, o + 12, 4, true);
    const data = b.subarray(o + 16, Math.min(b.length, o + Math.max(16, len)));
    let shown = escapeBytes(data);
    if (level === 1n && type === 1n) shown = `[${Array.from({ length: data.length >> 2 }, (_, k) => readInt(data, k * 4, 4, true)).join(', ')}]`;
    else if (level === 1n && type === 2n && data.length >= 12) shown = structText(structByName('ucred')!, data);
    items.push(`{cmsg_len=${len}, cmsg_level=${formatValue('sol', level)}, cmsg_type=${formatValue('scm_type', type)}, cmsg_data=${shown}}`);
    if (len < 16) break;
    o += (len + 7) & ~7;
  }
  return `[${items.join(', ')}]`;
}

// ---------------------------------------------------------------------------------------------
// Calls

interface Ctx {
  sc: SyscallInfo;
  ps: (ParamInfo | undefined)[];
  args: bigint[];
  bufs: readonly (Uint8Array | undefined)[];
  ret: bigint | undefined;
  failed: boolean;
}

/** Memory the call read or wrote, by its type. */
function memoryText(ctx: Ctx, j: number, p: ParamInfo, buf: Uint8Array): string | undefined {
  const t = p.type;
  switch (t) {
    case undefined:
      return p.kind === 'in_struct' || p.kind === 'out_struct' ? undefined : escapeBytes(buf);
    case 'cstr':
      return escapeBytes(cString(buf));
    case 'iovec':
    case 'mmsghdr':
      // Gathered or scattered data: the bytes the call wrote or read, in order.
      return escapeBytes(buf);
    case 'msghdr': {
      const parts: string[] = [];
      ctx.ps.forEach((q, k) => {
        if (q?.derived?.from !== j) return;
        const b = ctx.bufs[k];
        if (q.derived.part === 'name') parts.push(`msg_name=${b ? (sockaddrText(b) ?? escapeBytes(b)) : 'NULL'}`);
        if (q.derived.part === 'control' && b && b.length) parts.push(`msg_control=${cmsgText(b)}`);
        if (q.derived.part === 'flags' && b && b.length >= 4) parts.push(`msg_flags=${formatValue('msg_flags', readInt(b, 0, 4, true), undefined, 32)}`);
      });
      parts.splice(Math.min(1, parts.length), 0, `msg_iov=${escapeBytes(buf)}`);
      return `{${parts.join(', ')}}`;
    }
    case 'sockaddr':
      return sockaddrText(buf);
    case 'sigset':
      return sigset(buf);
    case 'cmsg':
      return cmsgText(buf);
    case 'mmsg_meta':
      return undefined;
    default: {
      const s = structByName(t);
      if (!s) return undefined;
      if (p.lenParam !== undefined && p.fixedSize !== undefined) {
        // An array: the elements written (the result counts them), or the elements passed.
        const n = p.lenFromRet && ctx.ret !== undefined && !ctx.failed ? Number(ctx.ret) : Math.floor(buf.length / s.size);
        const items: string[] = [];
        for (let k = 0; k < n && (k + 1) * s.size <= buf.length; k++) items.push(structText(s, buf.subarray(k * s.size, (k + 1) * s.size)));
        return `[${items.join(', ')}]`;
      }
      return structText(s, buf);
    }
  }
}

function formatArg(ctx: Ctx, j: number): string {
  const { sc, bufs, failed } = ctx;
  const v = ctx.args[j] ?? 0n;
  const p = ctx.ps[j];
  if (!sc.detailed || !p) return hex(v);
  const buf = bufs[j];
  const bits = p.bits ?? 64;
  switch (p.kind) {
    case 'fd':
      return p.values ? formatValue(p.values, v, undefined, bits) : BigInt.asIntN(bits, v).toString();
    case 'size':
      return BigInt.asUintN(64, v).toString();
    case 'int':
      return p.values ? formatValue(p.values, v, p.fmt, bits) : formatNumber(v, p.fmt, bits);
    case 'flags':
      return p.values ? formatValue(p.values, v, p.fmt, bits) : formatNumber(v, p.fmt ?? 'hex', bits);
    case 'ptr':
      return pointer(v);
    case 'path':
      return buf !== undefined ? escapeBytes(cString(buf), 4096) : pointer(v);
    case 'in_bytes':
    case 'out_bytes':
    case 'in_struct':
    case 'out_struct': {
      const out = p.kind === 'out_bytes' || p.kind === 'out_struct';
      if (buf === undefined || (out && failed) || (v === 0n && p.kind.endsWith('struct'))) return pointer(v);
      return memoryText(ctx, j, p, buf) ?? pointer(v);
    }
  }
}

function formatReturn(sc: SyscallInfo | undefined, args: bigint[], ret: bigint | undefined): string {
  if (ret === undefined) return '?';
  const r = BigInt.asIntN(64, ret);
  if (r < 0n && r >= -4095n) {
    const n = Number(-r);
    const e = ERRNO_BY_NR.get(n);
    return e ? `-1 ${e.name} (${e.text})` : `-1 ERRNO_${n} (Unknown error ${n})`;
  }
  const info = retOf(sc, args);
  if (!info) return r.toString();
  switch (info.kind) {
    case 'ptr':
      return hex(r);
    case 'flags': {
      const shown = info.fmt === 'oct' ? octal(r) : hex(r);
      return info.values ? `${shown} (flags ${formatValue(info.values, r, undefined, 32)})` : shown;
    }
    case 'int':
      return info.fmt === 'oct' ? octal(r) : info.fmt === 'hex' ? hex(r) : r.toString();
    default:
      return r.toString();
  }
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
 *              returned, derived parameters (a msghdr's name, control data, flags) past the arity;
 *              undefined where nothing was recorded (shown as the address)
 * @param ret   the raw return value (-4095..-1 are errors); omitted → `= ?`
 */
export function formatCall(
  nr: number,
  args: readonly bigint[] | readonly number[],
  bufs: readonly (Uint8Array | undefined)[],
  ret?: bigint | number,
): string {
  const rawArgs = (args as readonly (bigint | number)[]).map(toBig);
  while (rawArgs.length < 6) rawArgs.push(0n);
  const retBig = ret === undefined ? undefined : toBig(ret);
  const sc = syscallByNr(nr);
  if (sc === undefined) {
    const shown = (args as readonly (bigint | number)[]).slice(0, 6).map((a) => hex(toBig(a))).join(', ');
    return `syscall_${nr}(${shown}) = ${formatReturn(undefined, rawArgs, retBig)}`;
  }
  const rs = retBig === undefined ? undefined : BigInt.asIntN(64, retBig);
  const ps = paramsOf(sc, rawArgs);
  const ctx: Ctx = { sc, ps, args: rawArgs, bufs, ret: retBig, failed: rs !== undefined && rs < 0n && rs >= -4095n };
  // Arguments the kernel ignores at the end of the list are not shown (as strace does:
  // fcntl(3, F_GETFL), open without O_CREAT).
  let n = sc.arity;
  while (n > 0 && ps[n - 1]?.unused) n--;
  const shown: string[] = [];
  for (let i = 0; i < n; i++) shown.push(formatArg(ctx, i));
  return `${sc.name}(${shown.join(', ')}) = ${formatReturn(sc, rawArgs, retBig)}`;
}

/** Bytes around `at`: `..."abc"...` with `before` bytes before it and `after` from it. */
function window(b: Uint8Array, at: number, before = 16, after = 16): string {
  const from = Math.max(0, at - before);
  const to = Math.min(b.length, at + after);
  let s = from > 0 ? '...' : '';
  s += '"';
  for (let i = from; i < to; i++) s += escapeByte(b[i]!);
  s += '"';
  if (to < b.length) s += '...';
  return s;
}

/**
 * Two byte strings that differ, shown where they differ: the whole of each when both are short,
 * else the first differing byte's offset and the bytes around it in each (not the first bytes of
 * each, which may well be equal).
 */
export function showBytesPair(a: Uint8Array, b: Uint8Array): [string, string, string] {
  let at = 0;
  while (at < a.length && at < b.length && a[at] === b[at]) at++;
  if (a.length <= MAX_SHOWN_BYTES && b.length <= MAX_SHOWN_BYTES) return [escapeBytes(a), escapeBytes(b), ''];
  return [window(a, at), window(b, at), ` (they differ at byte ${at})`];
}

/**
 * Where a follower's call does not mean what the leader's event means (the default match's first
 * differing input, compiler/syscalls/meaning.ts): `flags: O_RDWR (follower) vs O_RDONLY (leader)`,
 * or for bytes the first byte that differs with the bytes around it in both. Undefined when the
 * two are different syscalls or mean the same.
 */
export function describeDifference(nr: number, leader: CallLike, follower: CallLike, followerNr: number = nr): string | undefined {
  if (nr !== followerNr) return undefined;
  const sc = syscallByNr(nr);
  const d = firstDifference(sc, leader, follower);
  if (!d) return undefined;
  if (!sc || !d.param) return `argument ${d.arg + 1}: ${hex(follower.args[d.arg] ?? 0n)} (follower) vs ${hex(leader.args[d.arg] ?? 0n)} (leader)`;
  const p = d.param;
  const name = p.derived ? `${sc.params[p.derived.from]?.name ?? '?'}.${p.derived.part}` : p.name;
  if (d.leaderBytes === undefined || d.followerBytes === undefined) {
    const ctx = (c: CallLike): Ctx => ({ sc, ps: paramsOf(sc, leader.args.map(toBig)), args: c.args.map(toBig), bufs: c.bufs.map((b) => b ?? undefined), ret: undefined, failed: false });
    return `${name}: ${formatArg(ctx(follower), d.arg)} (follower) vs ${formatArg(ctx(leader), d.arg)} (leader)`;
  }
  const at = d.offset ?? 0;
  const f = d.followerBytes;
  const l = d.leaderBytes;
  const lengths = f.length === l.length ? `${f.length} bytes each` : `${f.length} bytes vs ${l.length}`;
  const where = at >= Math.min(f.length, l.length) ? `from byte ${at} (one is longer)` : `at byte ${at}`;
  return `${name} ${where} (${lengths}): ${window(f, at)} (follower) vs ${window(l, at)} (leader)`;
}
