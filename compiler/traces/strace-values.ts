// strace's notation for the memory an argument points to — structures `{a=1, b=...}`, arrays
// `[...]`, iovecs, msghdrs, sockaddrs, signal sets `[INT TERM]`, `htons(80)`, `inet_addr("...")`,
// value-result changes `128 => 16` — read back into the bytes the kernel read or wrote, by the
// layouts of the syscall model (compiler/syscalls/x86_64.tsv). What cannot be read gives no bytes.
import { flatten } from '../syscalls/layout.ts';
import { sockaddrLayout, structByName } from '../syscalls/meaning.ts';
import type { ParamInfo, StructField, StructInfo } from '../syscalls/types.ts';
import { nameValue } from '../syscalls/values.ts';

export type SVal =
  | { t: 'str'; bytes: Uint8Array; truncated: boolean; abstract?: boolean }
  | { t: 'word'; text: string }
  | { t: 'struct'; items: { name: string | null; value: SVal }[]; more: boolean }
  | { t: 'array'; items: SVal[]; more: boolean; negated: boolean }
  | { t: 'call'; fn: string; args: SVal[] }
  | { t: 'change'; before: SVal; after: SVal };

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** The text without its comments (`/* 12 vars *\/`), strings left whole; one pass. */
export function stripComments(text: string): string {
  if (!text.includes('/*')) return text;
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const s = parseQuoted(text, i);
      if (!s) return text;
      i = s.end - 1;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) break;
      out += text.slice(start, i);
      start = end + 2;
      i = end + 1;
    }
  }
  return out + text.slice(start);
}

/** A C-escaped string at text[at] === '"' (strace -xx: \xNN). */
export function parseQuoted(text: string, at: number): { bytes: Uint8Array; end: number; truncated: boolean } | undefined {
  if (text[at] !== '"') return undefined;
  // The bytes go to a scratch buffer, copied out once at the end: a number[] of every byte was a
  // third of the strace reader's garbage on large traces. A UTF-16 unit gives at most 3 bytes.
  if (quotedScratch.length < 3 * (text.length - at)) quotedScratch = new Uint8Array(Math.max(2 * quotedScratch.length, 3 * (text.length - at)));
  const buf = quotedScratch;
  let n = 0;
  const out = { push: (b: number): void => void (buf[n++] = b) };
  let i = at + 1;
  for (;;) {
    if (i >= text.length) return undefined;
    const c = text[i]!;
    if (c === '"') {
      i++;
      break;
    }
    if (c !== '\\') {
      const code = text.codePointAt(i)!;
      if (code < 0x80) {
        buf[n++] = code;
        i++;
        continue;
      }
      for (const b of Buffer.from(String.fromCodePoint(code), 'utf8')) out.push(b);
      i += code > 0xffff ? 2 : 1;
      continue;
    }
    const e = text[i + 1];
    if (e === undefined) return undefined;
    i += 2;
    switch (e) {
      case 'x': {
        // one or two hex digits, read by character code (the reader's hot path under -xx)
        const h1 = hexDigit(text.charCodeAt(i));
        if (h1 < 0) return undefined;
        const h2 = hexDigit(text.charCodeAt(i + 1));
        buf[n++] = h2 < 0 ? h1 : h1 * 16 + h2;
        i += h2 < 0 ? 1 : 2;
        break;
      }
      case 'n': out.push(10); break;
      case 't': out.push(9); break;
      case 'r': out.push(13); break;
      case 'v': out.push(11); break;
      case 'f': out.push(12); break;
      case 'a': out.push(7); break;
      case 'b': out.push(8); break;
      case 'e': out.push(27); break;
      case '\\': out.push(92); break;
      case '"': out.push(34); break;
      case "'": out.push(39); break;
      case '?': out.push(63); break;
      default: {
        if (e >= '0' && e <= '7') {
          const m = /^[0-7]{0,2}/.exec(text.slice(i, i + 2))!;
          out.push(parseInt(e + m[0], 8) & 0xff);
          i += m[0].length;
          break;
        }
        return undefined;
      }
    }
  }
  let truncated = false;
  if (text.startsWith('...', i)) {
    truncated = true;
    i += 3;
  }
  return { bytes: buf.slice(0, n), end: i, truncated };
}

let quotedScratch = new Uint8Array(1 << 12);

/**
 * Where a `-y`/`-yy` annotation that starts at text[at] === '<' ends (the index after its '>'),
 * or -1 when text[at] does not start one. strace writes one right after a descriptor: `3</path>`,
 * `AT_FDCWD</home/u>`, `3<TCP:[1.2.3.4:80->5.6.7.8:9]>`, `1</dev/pts/0<char 136:0>>`; a path in
 * it may hold `,` `(` `)` (strace escapes `<` `>` in paths), and a socket's `->` is inside brackets.
 */
export function decorationEnd(text: string, at: number): number {
  // `1<<20` is a shift, not an annotation.
  if (text[at] !== '<' || text[at + 1] === '<' || at === 0 || !/[0-9A-Z_]/.test(text[at - 1]!)) return -1;
  let angle = 0;
  let square = 0;
  for (let i = at; i < text.length; i++) {
    const c = text[i]!;
    if (c === '[') square++;
    else if (c === ']') square = Math.max(0, square - 1);
    else if (square === 0 && c === '<') angle++;
    else if (square === 0 && c === '>' && --angle === 0) return i + 1;
    else if (c === '\n') return -1;
  }
  return -1;
}

/** Splits at top-level separators (`,`), skipping strings, `-y` annotations and brackets. */
function splitTop(text: string, sep: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const s = parseQuoted(text, i);
      if (!s) return undefined;
      i = s.end - 1;
      continue;
    }
    if (c === '<') {
      const end = decorationEnd(text, i);
      if (end > 0) {
        i = end - 1;
        continue;
      }
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (depth === 0 && text.startsWith(sep, i)) {
      out.push(text.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim());
}

/** Parses one value of strace's notation (never throws: what it cannot read is a word). */
export function parseValue(text: string): SVal {
  const t = stripComments(text).trim();
  const change = splitTop(t, ' => ');
  if (change && change.length === 2) return { t: 'change', before: parseValue(change[0]!), after: parseValue(change[1]!) };
  if (t.startsWith('"') || t.startsWith('@"')) {
    const s = parseQuoted(t, t.startsWith('@') ? 1 : 0);
    if (s && t.slice(s.end).trim() === '') return { t: 'str', bytes: s.bytes, truncated: s.truncated, ...(t.startsWith('@') ? { abstract: true } : {}) };
    return { t: 'word', text: t };
  }
  const negated = t.startsWith('~[');
  if ((t.startsWith('[') || negated) && t.endsWith(']')) {
    const inner = t.slice(negated ? 2 : 1, -1).trim();
    if (inner === '') return { t: 'array', items: [], more: false, negated };
    let parts = splitTop(inner, ',') ?? [];
    // A signal set or an fd_set: names or numbers separated by spaces.
    if (parts.length === 1 && /^[A-Za-z0-9_ ]+$/.test(parts[0]!) && parts[0]!.includes(' ')) parts = parts[0]!.split(/\s+/);
    const more = parts[parts.length - 1] === '...';
    if (more) parts.pop();
    return { t: 'array', items: parts.map(parseValue), more, negated };
  }
  if (t.startsWith('{') && t.endsWith('}')) {
    const parts = splitTop(t.slice(1, -1), ',') ?? [];
    const items: { name: string | null; value: SVal }[] = [];
    let more = false;
    for (const p of parts) {
      if (p === '') continue;
      if (p === '...') {
        more = true;
        continue;
      }
      const m = /^([A-Za-z_][A-Za-z0-9_.]*)=(.*)$/s.exec(p);
      if (m) items.push({ name: m[1]!, value: parseValue(m[2]!) });
      else items.push({ name: null, value: parseValue(p) });
    }
    return { t: 'struct', items, more };
  }
  const call = /^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$/s.exec(t);
  if (call) return { t: 'call', fn: call[1]!, args: (splitTop(call[2]!, ',') ?? []).map(parseValue) };
  return { t: 'word', text: t };
}

const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

/**
 * A short plain decimal (`-?(0|[1-9][0-9]*)`, at most 15 characters), read without a pattern or
 * a string copy; undefined for anything else. Most numbers in a trace are these: it is what
 * parseNumber and the result reader make of them, at a fraction of the cost.
 */
export function plainDecimal(text: string): bigint | undefined {
  const len = text.length;
  if (len === 0 || len > 15) return undefined;
  let i = text.charCodeAt(0) === 45 && len > 1 ? 1 : 0;
  const neg = i === 1;
  if (text.charCodeAt(i) === 48 && i + 1 !== len) return undefined;
  let v = 0;
  for (; i < len; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    v = v * 10 + c;
  }
  return BigInt(neg ? -v : v);
}

/** A plain number as strace prints it: decimal, 0x hex, leading-0 octal, optional sign. */
export function parseNumber(text: string): bigint | undefined {
  const plain = plainDecimal(text);
  if (plain !== undefined) return plain;
  const t = text.trim();
  const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[0-7]+|\d+)$/.exec(t);
  if (!m) return undefined;
  const digits = m[2]!;
  let v: bigint;
  if (/^0[xX]/.test(digits)) v = BigInt(digits);
  // A leading 0 is octal when the digits are (`08` is read as decimal, not a thrown SyntaxError).
  else if (digits.length > 1 && digits.startsWith('0') && /^[0-7]+$/.test(digits)) v = BigInt(`0o${digits.slice(1)}`);
  else v = BigInt(digits);
  if (m[1] === '-') v = -v;
  if (v < INT64_MIN || v > UINT64_MAX) return undefined;
  return BigInt.asIntN(64, v);
}

/** A number, a name of the model's value sets, a product (8192*1024), a shift (1<<20), or an OR
 *  of those; undefined when a part is not one of them. */
export function wordValue(text: string): bigint | undefined {
  let t = text.trim();
  if (t === 'NULL') return 0n;
  // A descriptor shown with -y: `3</etc/hosts>` is 3.
  const lt = t.indexOf('<');
  if (lt > 0 && t.endsWith('>') && decorationEnd(t, lt) === t.length) t = t.slice(0, lt);
  if (t.includes('|')) {
    let v = 0n;
    for (const part of t.split('|')) {
      const x = wordValue(part);
      if (x === undefined) return undefined;
      v |= BigInt.asUintN(64, x);
    }
    return BigInt.asIntN(64, v);
  }
  const n = parseNumber(t);
  if (n !== undefined) return n;
  const named = nameValue(t);
  if (named !== undefined) return BigInt.asIntN(64, named);
  const prod = /^(.+?)\*(.+)$/.exec(t);
  if (prod) {
    const a = wordValue(prod[1]!);
    const b = wordValue(prod[2]!);
    return a !== undefined && b !== undefined ? BigInt.asIntN(64, a * b) : undefined;
  }
  const shift = /^(.+?)<<(.+)$/.exec(t);
  if (shift) {
    const a = wordValue(shift[1]!);
    const b = wordValue(shift[2]!);
    return a !== undefined && b !== undefined && b < 64n ? BigInt.asIntN(64, a << b) : undefined;
  }
  return undefined;
}

/** The value of a scalar notation: a word, htons()/htonl(), makedev(), a wait status. */
export function numberOf(v: SVal, output = true): bigint | undefined {
  switch (v.t) {
    case 'word':
      return wordValue(v.text) ?? waitStatus(v.text);
    case 'change':
      return numberOf(output ? v.after : v.before, output);
    case 'call': {
      const a = v.args.map((x) => numberOf(x, output));
      if (v.fn === 'htons' || v.fn === 'htonl' || v.fn === 'ntohs' || v.fn === 'ntohl') return a[0];
      if (v.fn === 'makedev' && a[0] !== undefined && a[1] !== undefined) {
        const [maj, min] = [BigInt.asUintN(64, a[0]), BigInt.asUintN(64, a[1])];
        return BigInt.asIntN(64, ((maj & 0xfffn) << 8n) | (min & 0xffn) | ((maj & ~0xfffn) << 32n) | ((min & ~0xffn) << 12n));
      }
      return undefined;
    }
    case 'array':
      return v.items.length === 1 ? numberOf(v.items[0]!, output) : undefined;
    case 'struct':
      // strace's wait status: [{WIFEXITED(s) && WEXITSTATUS(s) == 0}]
      return v.items.length === 1 && v.items[0]!.name === null ? numberOf(v.items[0]!.value, output) : undefined;
    default:
      return undefined;
  }
}

function waitStatus(text: string): bigint | undefined {
  let m = /^WIFEXITED\(s\) && WEXITSTATUS\(s\) == (\d+)$/.exec(text);
  if (m) return BigInt(Number(m[1]) << 8);
  m = /^WIFSIGNALED\(s\) && WTERMSIG\(s\) == ([A-Z0-9_]+)( && WCOREDUMP\(s\))?$/.exec(text);
  if (m) {
    const sig = nameValue(m[1]!);
    return sig === undefined ? undefined : sig | (m[2] ? 0x80n : 0n);
  }
  m = /^WIFSTOPPED\(s\) && WSTOPSIG\(s\) == ([A-Z0-9_]+)$/.exec(text);
  if (m) {
    const sig = nameValue(m[1]!);
    return sig === undefined ? undefined : (sig << 8n) | 0x7fn;
  }
  return undefined;
}

function ipv4(text: string): Uint8Array | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!m) return undefined;
  const b = [m[1], m[2], m[3], m[4]].map(Number);
  return b.every((x) => x <= 255) ? Uint8Array.from(b) : undefined;
}

function ipv6(text: string): Uint8Array | undefined {
  let t = text;
  const tail4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  let v4: Uint8Array | undefined;
  if (tail4) {
    v4 = ipv4(tail4[1]!);
    if (!v4) return undefined;
    t = t.slice(0, -tail4[1]!.length) + '0:0';
  }
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => (s === '' ? [] : s.split(':').map((g) => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : NaN)));
  const a = groups(halves[0]!);
  const b = halves.length === 2 ? groups(halves[1]!) : [];
  if (!a || !b || [...a, ...b].some(Number.isNaN)) return undefined;
  const fill = 8 - a.length - b.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const all = [...a, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...b];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  if (v4) out.set(v4, 12);
  return out;
}

function text(v: SVal): string | undefined {
  return v.t === 'str' ? Buffer.from(v.bytes).toString('latin1') : undefined;
}

function writeInt(out: Uint8Array, at: number, size: number, v: bigint, bigEndian = false): void {
  let u = BigInt.asUintN(64, v);
  for (let k = 0; k < size && at + k < out.length; k++) {
    out[bigEndian ? at + size - 1 - k : at + k] = Number(u & 0xffn);
    u >>= 8n;
  }
}

/** Signal sets as strace shows them: [INT TERM], ~[RTMIN RT_1], []. */
function sigsetBytes(v: SVal, size: number): Uint8Array | undefined {
  if (v.t !== 'array') return undefined;
  const out = new Uint8Array(size);
  for (const item of v.items) {
    if (item.t !== 'word') return undefined;
    const sig = nameValue(`SIG${item.text}`) ?? parseNumber(item.text);
    if (sig === undefined || sig < 1n || sig > BigInt(size * 8)) return undefined;
    const bit = Number(sig) - 1;
    out[bit >> 3]! |= 1 << (bit & 7);
  }
  if (v.negated) for (let i = 0; i < size; i++) out[i] = ~out[i]! & 0xff;
  return out;
}

/** Writes one field's value; false when the notation does not fit the field. */
function writeField(out: Uint8Array, base: number, f: StructField, v: SVal, output: boolean): boolean {
  const at = base + f.offset;
  if (v.t === 'change') return writeField(out, base, f, output ? v.after : v.before, output);
  if (f.type.startsWith('struct:')) {
    const sub = structByName(f.type.slice(7));
    if (!sub) return false;
    if ((f.count ?? 1) > 1) {
      if (v.t !== 'array') return false;
      v.items.slice(0, f.count).forEach((item, k) => encodeInto(sub, item, out, at + k * sub.size, output));
      return true;
    }
    return encodeInto(sub, v, out, at, output);
  }
  switch (f.type) {
    case 'pad':
      return true;
    case 'bytes':
    case 'cstr':
    case 'sunpath': {
      if (v.t !== 'str') return false;
      let b = v.bytes;
      if (v.abstract) b = Uint8Array.from([0, ...b]);
      out.set(b.subarray(0, Math.max(0, Math.min(b.length, (f.count ?? 0), out.length - at))), at);
      return true;
    }
    case 'inaddr': {
      const a = v.t === 'call' && (v.fn === 'inet_addr' || v.fn === 'htonl') ? v.args[0] : v;
      const s = a ? text(a) : undefined;
      const b = s !== undefined ? ipv4(s) : undefined;
      if (b) out.set(b.subarray(0, Math.max(0, out.length - at)), at);
      else {
        const n = a ? numberOf(a, output) : undefined;
        if (n === undefined) return false;
        writeInt(out, at, 4, n, true);
      }
      return true;
    }
    case 'in6addr': {
      const a = v.t === 'call' && v.fn === 'inet_pton' ? v.args[1] : v;
      const s = a ? text(a) : undefined;
      const b = s !== undefined ? ipv6(s) : undefined;
      if (!b) return false;
      out.set(b.subarray(0, Math.max(0, out.length - at)), at);
      return true;
    }
    case 'sigset': {
      const b = sigsetBytes(v, f.count ?? 8);
      if (!b) return false;
      out.set(b.subarray(0, Math.max(0, out.length - at)), at);
      return true;
    }
    default: {
      const size = { i8: 1, u8: 1, i16: 2, u16: 2, i32: 4, u32: 4, i64: 8, u64: 8, be16: 2, be32: 4, ptr: 8, fd: 4 }[f.type as string] ?? 0;
      const n = (f.count ?? 1) > 1 && v.t === 'array' ? undefined : numberOf(v, output);
      if ((f.count ?? 1) > 1) {
        if (v.t !== 'array') return false;
        v.items.slice(0, f.count).forEach((item, k) => {
          const x = numberOf(item, output);
          if (x !== undefined) writeInt(out, at + k * size, size, x, f.type.startsWith('be'));
        });
        return true;
      }
      if (n === undefined) return false;
      writeInt(out, at, size, n, f.type.startsWith('be'));
      return true;
    }
  }
}

function fieldNamed(s: StructInfo, name: string): StructField | undefined {
  return s.fields.find((f) => f.name === name || f.label === name);
}

/** Writes a structure's notation into `out` at `base`; false when nothing of it could be read. */
function encodeInto(s: StructInfo, v: SVal, out: Uint8Array, base: number, output: boolean): boolean {
  if (v.t === 'change') return encodeInto(s, output ? v.after : v.before, out, base, output);
  // A single value behind a pointer: [1], [3, 4], "worker".
  if (s.fields.length === 1 && v.t !== 'struct') return writeField(out, base, s.fields[0]!, v.t === 'array' && (s.fields[0]!.count ?? 1) === 1 && v.items.length === 1 ? v.items[0]! : v, output);
  if (v.t === 'array' && s.fields.length === 1) return writeField(out, base, s.fields[0]!, v, output);
  if (v.t !== 'struct') return false;
  let any = false;
  for (const item of v.items) {
    let f: StructField | undefined;
    const value = item.value;
    if (item.name !== null) f = fieldNamed(s, item.name);
    else if (value.t === 'call' && value.fn === 'inet_pton') {
      // inet_pton(AF_INET6, "::1", &sin6_addr): the field is the third argument.
      const target = value.args[2];
      if (target?.t === 'word') f = fieldNamed(s, target.text.replace(/^&/, ''));
    }
    if (!f) continue;
    if (writeField(out, base, f, value, output)) any = true;
  }
  return any || v.items.length === 0;
}

/** The bytes of a structure written in strace's notation (unknown fields stay zero). */
export function encodeStruct(s: StructInfo, v: SVal, output: boolean): Uint8Array | undefined {
  const out = new Uint8Array(s.size);
  return encodeInto(s, v, out, 0, output) ? out : undefined;
}

/** A socket address: its family's layout, as long as the address it describes. */
export function encodeSockaddr(v: SVal, output: boolean): Uint8Array | undefined {
  if (v.t === 'change') return encodeSockaddr(output ? v.after : v.before, output);
  if (v.t !== 'struct') return undefined;
  const famItem = v.items.find((i) => i.name === 'sa_family');
  const family = famItem ? numberOf(famItem.value, output) : undefined;
  if (family === undefined) return undefined;
  const layout = sockaddrLayout(family);
  if (!layout) {
    const b = new Uint8Array(2);
    writeInt(b, 0, 2, family);
    return b;
  }
  const out = encodeStruct(layout, v, output);
  if (!out) return undefined;
  const path = flatten(layout, structByName).find((ff) => ff.field.type === 'sunpath');
  if (path) {
    // sockaddr_un: the family and the path with its NUL, or the abstract name.
    const item = v.items.find((i) => i.name === path.field.name);
    if (!item || item.value.t !== 'str') return out.subarray(0, path.offset);
    // The path and its NUL, or the NUL that starts an abstract name and the name.
    const len = item.value.bytes.length + 1;
    return out.subarray(0, Math.min(out.length, path.offset + len));
  }
  return out;
}

/** One control message buffer (cmsghdr + data + padding to 8 bytes), in order. */
function encodeCmsgs(v: SVal, output: boolean): Uint8Array | undefined {
  if (v.t === 'change') return encodeCmsgs(output ? v.after : v.before, output);
  if (v.t !== 'array') return undefined;
  const chunks: number[] = [];
  for (const item of v.items) {
    if (item.t !== 'struct') return undefined;
    const get = (n: string): SVal | undefined => item.items.find((i) => i.name === n)?.value;
    const level = numberOf(get('cmsg_level') ?? { t: 'word', text: '0' }, output) ?? 0n;
    const type = numberOf(get('cmsg_type') ?? { t: 'word', text: '0' }, output) ?? 0n;
    const dataV = get('cmsg_data');
    let data: Uint8Array = new Uint8Array(0);
    if (dataV?.t === 'str') data = dataV.bytes;
    else if (dataV?.t === 'array') {
      data = new Uint8Array(dataV.items.length * 4);
      dataV.items.forEach((x, k) => writeInt(data, k * 4, 4, numberOf(x, output) ?? 0n));
    } else if (dataV?.t === 'struct') {
      const ucred = structByName('ucred');
      data = (ucred && encodeStruct(ucred, dataV, output)) ?? new Uint8Array(0);
    }
    const len = numberOf(get('cmsg_len') ?? { t: 'word', text: String(16 + data.length) }, output) ?? BigInt(16 + data.length);
    const hdr = new Uint8Array(16);
    writeInt(hdr, 0, 8, len);
    writeInt(hdr, 8, 4, level);
    writeInt(hdr, 12, 4, type);
    chunks.push(...hdr, ...data);
    while (chunks.length % 8) chunks.push(0);
  }
  return Uint8Array.from(chunks);
}

export interface Gathered {
  data: Uint8Array;
  /** The capacity the iovecs offer (the sum of their lengths). */
  cap: number;
  truncated: boolean;
}

/** An iovec array: the data of its iov_base strings in order, and the sum of its iov_lens. */
export function encodeIovecs(v: SVal, output: boolean): Gathered | undefined {
  if (v.t === 'change') return encodeIovecs(output ? v.after : v.before, output);
  if (v.t !== 'array') return undefined;
  const parts: Uint8Array[] = [];
  let cap = 0;
  let truncated = v.more;
  for (const item of v.items) {
    if (item.t !== 'struct') return undefined;
    const base = item.items.find((i) => i.name === 'iov_base')?.value;
    const len = item.items.find((i) => i.name === 'iov_len')?.value;
    if (base?.t === 'str') {
      parts.push(base.bytes);
      truncated ||= base.truncated;
    }
    const n = len ? numberOf(len, output) : undefined;
    if (n !== undefined) cap += Number(n);
  }
  const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  return { data, cap, truncated };
}

export interface Message extends Gathered {
  name?: Uint8Array;
  nameCap?: number;
  control?: Uint8Array;
  controlCap?: number;
  flags?: number;
}

/** A struct msghdr: its data (the iovecs), name, control data and flags. */
export function encodeMsghdr(v: SVal, output: boolean): Message | undefined {
  if (v.t === 'change') return encodeMsghdr(output ? v.after : v.before, output);
  if (v.t !== 'struct') return undefined;
  const get = (n: string): SVal | undefined => v.items.find((i) => i.name === n)?.value;
  const iov = get('msg_iov');
  const g = iov ? encodeIovecs(iov, output) : { data: new Uint8Array(0), cap: 0, truncated: false };
  if (!g) return undefined;
  const m: Message = { ...g };
  const name = get('msg_name');
  if (name && name.t !== 'word') {
    const b = encodeSockaddr(name, output);
    if (b) m.name = b;
  }
  const namelen = get('msg_namelen');
  if (namelen) {
    const cap = numberOf(namelen, false);
    if (cap !== undefined) m.nameCap = Number(cap);
  }
  const control = get('msg_control');
  if (control) {
    const b = encodeCmsgs(control, output);
    if (b) m.control = b;
  }
  const controllen = get('msg_controllen');
  if (controllen) {
    const cap = numberOf(controllen, false);
    if (cap !== undefined) m.controlCap = Number(cap);
  }
  const flags = get('msg_flags');
  if (flags) {
    const f = numberOf(flags, output);
    if (f !== undefined) m.flags = Number(BigInt.asIntN(32, f));
  }
  return m;
}

/**
 * mvrc's encoding of an mmsghdr vector's messages (docs/traces.md, "Gathered data"): per message,
 * four little-endian u32 — the data length (msg_len, or what its iovecs hold when sending), the
 * name length, the control data length, msg_flags — then the name and control bytes.
 */
export function mmsgMeta(msgs: readonly { len: number; name?: Uint8Array; control?: Uint8Array; flags?: number }[]): Uint8Array {
  const chunks: number[] = [];
  for (const m of msgs) {
    const h = new Uint8Array(16);
    writeInt(h, 0, 4, BigInt(m.len));
    writeInt(h, 4, 4, BigInt(m.name?.length ?? 0));
    writeInt(h, 8, 4, BigInt(m.control?.length ?? 0));
    writeInt(h, 12, 4, BigInt(m.flags ?? 0));
    chunks.push(...h, ...(m.name ?? []), ...(m.control ?? []));
  }
  return Uint8Array.from(chunks);
}

/** An mmsghdr vector: every message's data in order, and their layout (mmsgMeta). */
export function encodeMmsghdrs(v: SVal, output: boolean): { data: Uint8Array; meta: Uint8Array; cap: number; truncated: boolean } | undefined {
  if (v.t !== 'array') return undefined;
  const msgs: { len: number; name?: Uint8Array; control?: Uint8Array; flags?: number; data: Uint8Array }[] = [];
  let cap = 0;
  let truncated = v.more;
  for (const item of v.items) {
    if (item.t !== 'struct') return undefined;
    const hdr = item.items.find((i) => i.name === 'msg_hdr')?.value;
    const m = hdr ? encodeMsghdr(hdr, output) : undefined;
    if (!m) return undefined;
    const lenV = item.items.find((i) => i.name === 'msg_len')?.value;
    const len = lenV ? Number(numberOf(lenV, output) ?? BigInt(m.data.length)) : m.data.length;
    const data = output ? m.data.subarray(0, len) : m.data;
    cap += m.cap;
    truncated ||= m.truncated;
    msgs.push({ len: output ? len : m.data.length, ...(m.name ? { name: m.name } : {}), ...(m.control ? { control: m.control } : {}), ...(m.flags !== undefined ? { flags: m.flags } : {}), data });
  }
  const data = new Uint8Array(msgs.reduce((n, m) => n + m.data.length, 0));
  let o = 0;
  for (const m of msgs) {
    data.set(m.data, o);
    o += m.data.length;
  }
  return { data, meta: mmsgMeta(msgs), cap, truncated };
}

/** What an argument's notation holds: its bytes, the capacity it offers, and derived parts. */
export interface Encoded {
  bytes?: Uint8Array;
  cap?: number;
  truncated?: boolean;
  /** Derived parameters (msghdr parts), by the part they hold. */
  parts?: { name?: Uint8Array; nameCap?: number; control?: Uint8Array; controlCap?: number; flags?: Uint8Array; msgs?: Uint8Array };
}

/** The bytes of a parameter from its notation, by the parameter's type. */
export function encodeParam(p: ParamInfo, v: SVal): Encoded | undefined {
  const output = p.dir !== 'in';
  if (v.t === 'str' && p.type !== 'iovec' && p.type !== 'msghdr' && p.type !== 'mmsghdr') return { bytes: v.bytes, truncated: v.truncated };
  switch (p.type) {
    case undefined:
      return undefined;
    case 'iovec': {
      const g = encodeIovecs(v, output);
      return g && { bytes: g.data, cap: g.cap, truncated: g.truncated };
    }
    case 'msghdr': {
      const m = encodeMsghdr(v, output);
      if (!m) return undefined;
      const flags = new Uint8Array(4);
      if (m.flags !== undefined) writeInt(flags, 0, 4, BigInt(m.flags));
      return {
        bytes: m.data,
        cap: m.cap,
        truncated: m.truncated,
        parts: {
          ...(m.name ? { name: m.name } : {}),
          ...(m.nameCap !== undefined ? { nameCap: m.nameCap } : {}),
          ...(m.control ? { control: m.control } : {}),
          ...(m.controlCap !== undefined ? { controlCap: m.controlCap } : {}),
          ...(m.flags !== undefined ? { flags } : {}),
        },
      };
    }
    case 'mmsghdr': {
      const g = encodeMmsghdrs(v, output);
      return g && { bytes: g.data, cap: g.cap, truncated: g.truncated, parts: { msgs: g.meta } };
    }
    case 'sockaddr': {
      const b = encodeSockaddr(v, output);
      return b && { bytes: b };
    }
    case 'cmsg': {
      const b = encodeCmsgs(v, output);
      return b && { bytes: b };
    }
    case 'sigset': {
      const b = sigsetBytes(v.t === 'change' ? (output ? v.after : v.before) : v, 8);
      return b && { bytes: b };
    }
    case 'cstr':
    case 'mmsg_meta':
      return undefined;
    default: {
      const s = structByName(p.type);
      if (!s) return undefined;
      // An array of structures (poll fds, epoll events, gid lists): each element in turn.
      const inner = v.t === 'change' ? (output ? v.after : v.before) : v;
      if (p.fixedSize !== undefined && p.lenParam !== undefined && inner.t === 'array' && !(s.fields.length === 1 && (s.fields[0]!.count ?? 1) > 1)) {
        const out = new Uint8Array(inner.items.length * s.size);
        for (const [k, item] of inner.items.entries()) {
          const b = encodeStruct(s, item, output);
          if (b) out.set(b, k * s.size);
        }
        return { bytes: out, truncated: inner.more };
      }
      const b = encodeStruct(s, inner, output);
      return b && { bytes: b, ...(inner.t === 'struct' && inner.more ? { truncated: false } : {}) };
    }
  }
}
