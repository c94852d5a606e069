// Reads strace output (`strace -f -s 4096 -xx -o FILE CMD...`) into the trace model of
// compiler/traces/trace.ts, so that `mvrc verify` / `mvrc infer` can compare runs recorded without mvrc.
//
// What is read (docs/traces.md, "strace input"):
// - a line per call, `name(args) = ret`, optionally prefixed by a pid (`1234  ` with -f -o FILE,
//   `[pid 1234] ` on stderr) and by a timestamp (-t/-tt/-ttt), optionally followed by ` <0.000012>`
//   (-T); `thread` is the pid (0 for lines without one), the first thread seen is the main thread
//   (the others' creation order, by which verify and infer pair them: traceThreads in trace.ts);
// - `<unfinished ...>` / `<... name resumed>` pairs: one event, at the line where it started; a
//   call never resumed (its process exited) is an event that did not return;
// - `--- SIGINT {...} ---`: a signal delivered before the thread's next event;
// - `+++ exited with N +++`, `+++ killed by SIGKILL +++`, `strace: ...` messages: ignored;
// - `= -1 ENOENT (...)`: ret = -errno; `= ?`: the call did not return (noRet);
// - arguments by the syscall model's parameters for the call's command: integers in decimal, hex
//   or (leading 0) octal, `NULL`, symbolic constants and `A|B|0x10` flag sets (the model's value
//   sets; an expression with a name the model lacks gets a value derived from its text, see
//   symbolicValue); `"..."` strings become the argument's bytes (\xNN and the C escapes), a
//   trailing `...` marks them cut (truncated); memory strace decodes (iovecs, msghdrs, sockaddrs,
//   structures, signal sets) is read back into bytes by its type (compiler/traces/strace-values.ts),
//   the parts of a msghdr into the derived parameters; arguments and input bytes are kept in their
//   meaningful form (compiler/syscalls/meaning.ts).
// Lines that cannot be read are MVR9006, unknown syscall names MVR9007; reading goes on.
import { Diag } from '../core/diagnostic-messages.ts';
import type { DiagnosticBag } from '../core/diagnostics.ts';
import { span, type SourceFile, type Span } from '../core/span.ts';
import { syscallByName, syscallByNr } from '../syscalls/lookup.ts';
import { canonicalArgs, isGathered, meaningfulInputs, paramsOf } from '../syscalls/meaning.ts';
import type { ParamInfo, ParamKind } from '../syscalls/types.ts';
import { valueSet } from '../syscalls/values.ts';
import { decorationEnd, encodeParam, numberOf, parseNumber, parseQuoted, parseValue, plainDecimal, wordValue } from './strace-values.ts';
import { forEachLine, lastLineCut, type Trace, type TraceEndInfo, type TraceEvent, type TraceSignal } from './trace.ts';

// ---------------------------------------------------------------------------------------------
// Names: the model's value sets (compiler/syscalls/x86_64.tsv), read back into numbers.

/** A signal's number from strace's name (SIGINT, SIGRT_3, SIGRTMIN); undefined when unknown. */
export function signalNumber(name: string): number | undefined {
  const v = valueSet('signal')?.entries.find(([n]) => n === name)?.[1];
  return v !== undefined && v >= 1n && v <= 64n ? Number(v) : undefined;
}

const ERRNO_BY_NAME = new Map<string, number>((valueSet('errno')?.entries ?? []).map(([name, v]) => [name, Number(v)]));

/** Marks a value derived from unknown text: bit 62, so it is far from any real flag set. */
const SYMBOLIC_TAG = 1n << 62n;

/**
 * The value of an argument mvrc cannot decode (a constant its table lacks, an expression):
 * FNV-1a (64-bit) of the text, cut to 48 bits, with bit 62 set. The same text in two traces
 * gives the same value, so such arguments still compare equal or unequal as their spelling
 * does (the same value spelled differently compares unequal).
 */
export function symbolicValue(text: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(text, 'utf8')) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return SYMBOLIC_TAG | (h & 0xffffffffffffn);
}

export { decorationEnd, parseNumber } from './strace-values.ts';

/**
 * The address of memory strace shows by its contents (`"hello"`): never compared, but it must not
 * look like NULL. A 32-bit hash of the text under the symbolic tag: one BigInt per argument, not
 * one per byte as symbolicValue's (this was the strace reader's hottest path).
 */
function addressStandIn(text: string): bigint {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return SYMBOLIC_TAG | BigInt(h >>> 0);
}

/** A scalar argument: a number, a name of the model's value sets, or an OR of those; else a value
 *  from its text (symbolicValue). */
export function scalarValue(text: string): bigint {
  const t = text.trim();
  return wordValue(t) ?? numberOf(parseValue(t)) ?? symbolicValue(t);
}

// ---------------------------------------------------------------------------------------------
// Strings and argument lists. Every scan here looks at each character a bounded number of times
// (no backtracking pattern runs over a whole line): one 1 MB line took over 300 s with the
// pattern that looked for strace's "attached" message, so reading is kept linear in the input.

/** A C-escaped string strace printed, at text[at] === '"' (its bytes, the index after it and a
 *  trailing `...`, whether it was cut); undefined when it is not terminated or holds a bad escape. */
export function parseCString(text: string, at: number): { bytes: Uint8Array; end: number; truncated: boolean } | undefined {
  return parseQuoted(text, at);
}

/**
 * The index after the C string that starts at text[at] === '"' (and after a trailing `...`), or
 * -1 when it is not terminated: what splitting an argument list needs, without decoding it (the
 * escapes are checked when the string is decoded).
 */
export function skipCString(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) i++; // a backslash escapes the next character
    else if (c === 34) return text.startsWith('...', i + 1) ? i + 4 : i + 1;
  }
  return -1;
}

/** `3</path>` / `AT_FDCWD</dir>` (strace -y): the descriptor and what it names; else undefined. */
export function splitDecoration(text: string): { fd: string; path: string } | undefined {
  const open = text.indexOf('<');
  if (open <= 0 || !text.endsWith('>')) return undefined;
  const fd = text.slice(0, open);
  if (!/^(?:-?\d+|AT_FDCWD)$/.test(fd)) return undefined;
  if (decorationEnd(text, open) !== text.length) return undefined;
  return { fd, path: text.slice(open + 1, -1) };
}

/**
 * Splits `text` (an argument list without its parentheses) at top-level commas, skipping strings,
 * comments (left out of the arguments), `-y` annotations and nested brackets. Returns undefined
 * when a string or bracket is not closed.
 */
export function splitArgs(text: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  let piece = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const end = skipCString(text, i);
      if (end < 0) return undefined;
      i = end;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return undefined;
      piece += text.slice(start, i);
      i = end + 2;
      start = i;
      continue;
    }
    if (c === '<') {
      const end = decorationEnd(text, i);
      if (end > 0) {
        i = end;
        continue;
      }
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth < 0) return undefined;
    } else if (c === ',' && depth === 0) {
      out.push((piece + text.slice(start, i)).trim());
      piece = '';
      start = i + 1;
    }
    i++;
  }
  if (depth !== 0) return undefined;
  const last = (piece + text.slice(start)).trim();
  if (out.length > 0 || last !== '') out.push(last);
  return out;
}

/** The index of the ')' closing the argument list that starts after text[open] === '('. */
function closingParen(text: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const end = skipCString(text, i);
      if (end < 0) return -1;
      i = end;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return -1;
      i = end + 2;
      continue;
    }
    if (c === '<') {
      const end = decorationEnd(text, i);
      if (end > 0) {
        i = end;
        continue;
      }
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return c === ')' ? i : -1;
    }
    i++;
  }
  return -1;
}

/** The strings of an argv array as strace prints it (`["ls", "-l"]`, maybe `...` at the end). */
export function parseArgv(text: string): string[] | undefined {
  const t = text.trim();
  if (!t.startsWith('[')) return undefined;
  const out: string[] = [];
  let i = 1;
  for (;;) {
    while (t[i] === ' ' || t[i] === ',') i++;
    if (t[i] === ']') return out;
    if (t[i] !== '"') return out.length ? out : undefined; // `...` or a count: what was shown
    const s = parseCString(t, i);
    if (!s) return undefined;
    out.push(Buffer.from(s.bytes).toString('utf8'));
    i = s.end;
  }
}

interface ParsedArgs {
  args: bigint[];
  bufs: (Uint8Array | null)[];
  /** Capacities offered by outputs whose capacity is not an argument (iovecs, msghdr parts). */
  caps: (number | null)[];
  truncated: boolean;
  /** `-y` annotations, by argument position: what the descriptor names. */
  fdPaths?: (string | undefined)[];
  /** paramsOf the call, as the arguments were read. */
  ps: (ParamInfo | undefined)[];
}

const MEMORY: ReadonlySet<ParamKind> = new Set<ParamKind>(['in_bytes', 'out_bytes', 'path', 'in_struct', 'out_struct']);
const PART_OF: Record<string, 'name' | 'control' | 'flags' | 'msgs'> = { name: 'name', control: 'control', flags: 'flags', msgs: 'msgs' };

/**
 * The arguments of one call: scalars by value (names from the model's value sets), memory by
 * what strace shows of it, read by the parameter's type — the data of iovecs and msghdrs (their
 * names and control data into the derived parameters), sockaddrs, structures, strings. A
 * parameter's description may depend on another argument (fcntl's cmd, ioctl's request): the
 * scalars are read first, then the memory by the call's command. Named arguments (`flags=...`,
 * clone's) go to the parameter of that name or alias.
 */
/** A pointer argument's value: NULL is 0, an address its number, anything else a stand-in. */
function pointerValue(text: string): bigint {
  return text === 'NULL' ? 0n : (parseNumber(text) ?? addressStandIn(text));
}

function parseArgList(name: string, nr: number, raw: string[]): ParsedArgs | string {
  const sc = syscallByNr(nr);
  const args = [0n, 0n, 0n, 0n, 0n, 0n];
  const bufs: (Uint8Array | null)[] = [null, null, null, null, null, null];
  const caps: (number | null)[] = [null, null, null, null, null, null];
  let truncated = false;
  let fdPaths: (string | undefined)[] | undefined;
  if (raw.length > 6) return `${name} has ${raw.length} arguments; a syscall takes at most 6`;
  // Where each argument goes and its text (two arrays: no object per argument).
  const places: number[] = [];
  const texts: string[] = [];
  for (let k = 0; k < raw.length; k++) {
    let text = raw[k]!;
    let pos = k;
    const c0 = text.charCodeAt(0);
    const named = (c0 >= 97 && c0 <= 122) || c0 === 95 ? /^([a-z_]+)=(.*)$/s.exec(text) : null;
    if (named) {
      const at = sc?.params.findIndex((p) => p.name === named[1] || p.alias?.includes(named[1]!)) ?? -1;
      if (at >= 0) {
        pos = at;
        text = named[2]!;
      } else if (sc?.params.some((p) => p.alias)) text = named[2]!;
    }
    // fds shown with -y: 3</path/to/file>
    const fdDecor = splitDecoration(text);
    if (fdDecor) {
      text = fdDecor.fd;
      (fdPaths ??= [])[pos] = fdDecor.path;
    }
    places.push(pos);
    texts.push(text);
  }
  // Scalars first: they decide the command.
  for (let k = 0; k < places.length; k++) {
    const pos = places[k]!;
    const text = texts[k]!;
    const kind: ParamKind = sc?.params[pos]?.kind ?? 'int';
    if (MEMORY.has(kind) || kind === 'ptr') args[pos] = text.startsWith('"') ? addressStandIn(text) : pointerValue(text);
    else args[pos] = scalarValue(text);
  }
  const ps = paramsOf(sc, args);
  for (let k = 0; k < places.length; k++) {
    const pos = places[k]!;
    const text = texts[k]!;
    const p = ps[pos];
    if (!p) continue;
    if (!MEMORY.has(p.kind)) {
      // A parameter the command makes a scalar (ioctl's TCFLSH queue) or a pointer.
      if (p.kind !== (sc?.params[pos]?.kind ?? 'int')) args[pos] = p.kind === 'ptr' ? pointerValue(text) : scalarValue(text);
      continue;
    }
    // Memory: the address when strace shows one (NULL: 0), else a value from the text (a pointer
    // is never compared, and it must not look like NULL in reports).
    if (!text.startsWith('"')) args[pos] = pointerValue(text);
    if (text.startsWith('"') && p.kind !== 'in_struct' && p.kind !== 'out_struct' && !isGathered(p)) {
      const s = parseCString(text, 0);
      if (!s || text.slice(s.end).trim() !== '') return `argument ${pos + 1} of ${name} is not a well-formed string`;
      bufs[pos] = s.bytes;
      truncated ||= s.truncated;
      continue;
    }
    if (/^(NULL|-?\d+|0x[0-9a-fA-F]+)$/.test(text)) continue; // an address only
    const enc = encodeParam(p, parseValue(text));
    if (!enc) continue;
    if (enc.bytes) bufs[pos] = enc.bytes;
    if (enc.cap !== undefined) caps[pos] = enc.cap;
    truncated ||= enc.truncated === true;
    if (enc.parts && sc) {
      // Derived parameters: the parts of this msghdr.
      ps.forEach((q, j) => {
        if (!q?.derived || q.derived.from !== pos) return;
        const part = PART_OF[q.derived.part]!;
        const b = enc.parts![part];
        if (b instanceof Uint8Array) bufs[j] = b;
        const cap = part === 'name' ? enc.parts!.nameCap : part === 'control' ? enc.parts!.controlCap : part === 'flags' ? 4 : undefined;
        if (cap !== undefined) caps[j] = cap;
      });
    }
  }
  return fdPaths ? { args, bufs, caps, truncated, fdPaths, ps } : { args, bufs, caps, truncated, ps };
}

// ---------------------------------------------------------------------------------------------
// Return values

function parseReturn(text: string): { ret: bigint; noRet: boolean; fdPath?: string } | undefined {
  // The common case, a plain decimal (what the patterns below make of it), without them.
  const plain = plainDecimal(text);
  if (plain !== undefined) return { ret: plain, noRet: false };
  let t = text.trim();
  // `-T` adds ` <0.000012>` at the end (looked for from the last '<' only: no backtracking).
  const lt = t.lastIndexOf('<');
  if (lt > 0 && /\s/.test(t[lt - 1]!) && /^<\d+(?:\.\d+)?>$/.test(t.slice(lt))) t = t.slice(0, lt).trim();
  // `-y` shows a returned fd as `3</path>`.
  const deco = splitDecoration(t);
  if (deco) {
    const v = parseNumber(deco.fd);
    if (v !== undefined) return { ret: v, noRet: false, fdPath: deco.path };
  }
  if (t === '?' || t.startsWith('? ')) {
    // `? ERESTARTSYS (To be restarted ...)`: interrupted by a signal; record the restart code.
    const m = /^\?\s+([A-Z][A-Z0-9_]*)\b/.exec(t);
    const e = m ? ERRNO_BY_NAME.get(m[1]!) : undefined;
    return e !== undefined ? { ret: BigInt(-e), noRet: false } : { ret: 0n, noRet: true };
  }
  const err = /^-1\s+([A-Z][A-Z0-9_]*)\b/.exec(t);
  if (err) {
    const e = ERRNO_BY_NAME.get(err[1]!);
    if (e === undefined) return undefined;
    return { ret: BigInt(-e), noRet: false };
  }
  const errn = /^-1\s+\(errno (\d+)\)/.exec(t);
  if (errn) return { ret: -BigInt(errn[1]!), noRet: false };
  const m = /^(-?(?:0[xX][0-9a-fA-F]+|\d+))(\s+\(.*\))?$/s.exec(t);
  if (!m) return undefined;
  const hexOrDec = m[1]!;
  const v = /^-?0[xX]/.test(hexOrDec) ? BigInt.asIntN(64, BigInt(hexOrDec.replace(/^-/, '')) * (hexOrDec.startsWith('-') ? -1n : 1n)) : BigInt.asIntN(64, BigInt(hexOrDec));
  return { ret: v, noRet: false };
}

// ---------------------------------------------------------------------------------------------
// Lines

const PREFIX = /^(?:\[pid\s+(\d+)\]\s+|(\d+)\s+)?(?:(?:\d{2}:\d{2}:\d{2}(?:\.\d+)?|\d+\.\d+)\s+)?/;
const ATTACHED = 'strace: Process ';
const ATTACHED_LINE = /^strace: Process \d+ attached(?: with \d+ threads)?$/;

interface Pending {
  name: string;
  nr: number;
  text: string;
  span: Span;
  line: number;
}

/** Where a reader's events and signals go (a Trace in memory, or a stream: compiler/traces/stream.ts). */
export interface TraceSink {
  /** An event, with the text of its call (arguments and result; for clone3's flags). */
  event(e: TraceEvent, callText: string): void;
  signal(s: TraceSignal): void;
  /** Events and signals of thread `from` (read before its pid was known) are thread `to`'s. */
  relabel(from: number, to: number): void;
}

/** `... <unfinished ...>` (optionally followed by `)`) at the end: the index where it starts, or -1. */
function unfinishedAt(body: string): number {
  let end = body.length;
  while (end > 0 && isSpace(body.charCodeAt(end - 1))) end--;
  if (body[end - 1] === ')') {
    end--;
    while (end > 0 && isSpace(body.charCodeAt(end - 1))) end--;
  }
  const tag = '<unfinished ...>';
  if (end < tag.length || !body.startsWith(tag, end - tag.length)) return -1;
  let start = end - tag.length;
  while (start > 0 && isSpace(body.charCodeAt(start - 1))) start--;
  return start;
}

/** A letter, '_', '+', '-' or '<': how a call, an exit, a signal or a resumed call starts. */
function startsBody(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 43 || c === 45 || c === 60;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13;
}

/**
 * Reads strace output a line at a time (see the header of this file), so that a whole trace
 * (parseStraceTrace) and a stream read a chunk at a time (compiler/traces/stream.ts) are read
 * alike. Each line is looked at a bounded number of times whatever its length.
 */
export class StraceReader {
  /** What the trace leaves out, and whether it shows the program's exit (reportTraceShape). */
  readonly end: TraceEndInfo = { cutLines: 0, exited: false };
  /** The traced command (the first execve's argv), its line's span and number. */
  command: string[] | null = null;
  commandAt: { span: Span; line: number } | undefined;
  private readonly next = new Map<number, bigint>();
  private readonly pending = new Map<number, Pending>();
  private firstPid: number | null = null;
  private firstSeen: number | null = null;
  private readonly alive = new Set<number>();
  private readonly exited = new Set<number>();
  private held: { line: string; at: Span; lineNo: number } | undefined;

  constructor(
    private readonly path: string,
    private readonly diags: DiagnosticBag,
    private readonly sink: TraceSink,
  ) {}

  /** The start offset of the earliest unfinished call that may create a thread (Infinity: none):
   *  until it resumes, the creation order of the threads after it is not known. */
  pendingCreatorOffset(): number {
    let min = Infinity;
    for (const p of this.pending.values()) if (syscallByNr(p.nr)?.task && p.span.offset < min) min = p.span.offset;
    return min;
  }

  /** One line of the file (without its newline), its offset and its 1-based number. */
  line(text: string, offset: number, lineNo: number): void {
    let line = text.endsWith('\r') ? text.slice(0, -1) : text;
    let at = span(offset, line.length);
    let startLine = lineNo;
    if (this.held) {
      // On stderr, strace's own messages can cut a call's line in two:
      //   clone(child_stack=NULL, flags=...|SIGCHLDstrace: Process 29036 attached
      //   , child_tidptr=0x7f6d1ebcba10) = 29036
      const h = this.held;
      this.held = undefined;
      line = h.line + line;
      at = span(h.at.offset, offset + at.length - h.at.offset);
      startLine = h.lineNo;
    } else {
      const k = line.lastIndexOf(ATTACHED);
      if (k > 0 && line.slice(0, k).trim() !== '' && ATTACHED_LINE.test(line.slice(k))) {
        this.held = { line: line.slice(0, k), at, lineNo };
        return;
      }
    }
    this.take(line, at, startLine);
  }

  /** The end of the input: calls still unfinished did not return (their process exited or was killed). */
  finish(): void {
    if (this.held) {
      const h = this.held;
      this.held = undefined;
      this.take(h.line, h.at, h.lineNo);
    }
    for (const [thread, p] of this.pending) this.finishCall(thread, p.name, p.nr, p.text + ')', p.span, p.line, true);
    this.pending.clear();
    this.end.exited = this.firstSeen !== null && this.exited.has(this.firstSeen);
  }

  private bad(line: number, at: Span, why: string): void {
    this.diags.add(Diag.TraceLineInvalid, this.path, at, [line, why]);
  }

  private relabel(from: number, to: number): void {
    this.sink.relabel(from, to);
    for (const m of [this.next, this.pending] as Map<number, unknown>[]) {
      if (m.has(from)) {
        m.set(to, m.get(from));
        m.delete(from);
      }
    }
    if (this.alive.delete(from)) this.alive.add(to);
    if (this.exited.delete(from)) this.exited.add(to);
    if (this.firstSeen === from) this.firstSeen = to;
  }

  private take(line: string, at: Span, startLine: number): void {
    // The common prefix, a pid and spaces before the call (`-f -o FILE`), is read by hand; any
    // other (none, `[pid N]`, timestamps, other spaces) by the pattern.
    // PREFIX reads such a line alike: its digits and spaces, then no timestamp (no digit follows).
    let explicit: string | undefined;
    let body: string;
    let d = 0;
    while (d < line.length && line.charCodeAt(d) >= 48 && line.charCodeAt(d) <= 57) d++;
    let b = d;
    while (b < line.length && (line.charCodeAt(b) === 32 || line.charCodeAt(b) === 9)) b++;
    if (d > 0 && b > d && b < line.length && startsBody(line.charCodeAt(b))) {
      explicit = line.slice(0, d);
      body = line.slice(b);
    } else {
      if (line.trim() === '') return;
      const trimmed = line.trimStart();
      const pm = PREFIX.exec(trimmed)!;
      explicit = pm[1] ?? pm[2];
      body = trimmed.slice(pm[0].length);
    }
    // Lines without a pid (strace writing to stderr shows none while it traces one process) belong
    // to the only live process when there is one, else to the first process, whose pid is learned
    // from the result of a call that returns the caller's thread id (`->tid` in the syscall model:
    // set_tid_address, getpid, gettid; 0 until then).
    let thread = explicit !== undefined ? Number(explicit) : this.alive.size === 1 ? this.alive.values().next().value! : (this.firstPid ?? 0);

    if (body.startsWith('strace: ')) return; // strace's own messages
    if (body.startsWith('+++ ')) {
      this.alive.delete(thread); // exited or killed
      this.exited.add(thread);
      return;
    }
    this.alive.add(thread);
    this.firstSeen ??= thread;
    if (explicit === undefined && this.firstPid === null && thread === 0) {
      const name = /^[a-z_0-9]+(?=\()/.exec(body)?.[0];
      const eq = body.lastIndexOf('=');
      const ret = eq > 0 && body.endsWith(')', body.slice(0, eq).trimEnd().length) ? body.slice(eq + 1).trim() : '';
      if (name && /^\d+$/.test(ret) && syscallByName(name)?.ret?.kind === 'tid' && Number(ret) > 0) {
        this.firstPid = Number(ret);
        this.relabel(0, this.firstPid);
        thread = this.firstPid;
      }
    }
    if (body.startsWith('--- ')) {
      const m = /^--- (SIG[A-Z0-9_]+)\b/.exec(body);
      const sig = m ? signalNumber(m[1]!) : undefined;
      if (sig === undefined) this.bad(startLine, at, 'a signal line names no signal this reader knows');
      // A signal that arrives while a call of the thread is unfinished is handled after that call.
      else this.sink.signal({ thread, before: (this.next.get(thread) ?? 0n) + (this.pending.has(thread) ? 1n : 0n), signal: sig, span: at });
      return;
    }
    if (body.startsWith('<... ')) {
      const resumed = /^<\.\.\. ([A-Za-z0-9_]+) resumed>\s?/.exec(body);
      if (resumed) {
        const name = resumed[1]!;
        const p = this.pending.get(thread);
        if (!p || p.name !== name) {
          this.bad(startLine, at, `'${name}' resumes a call this thread did not start`);
          return;
        }
        this.pending.delete(thread);
        const rest = body.slice(resumed[0].length);
        const u = unfinishedAt(rest);
        if (u >= 0) {
          // resumed, then unfinished again (e.g. around a signal): keep collecting
          this.pending.set(thread, { ...p, text: p.text + rest.slice(0, u) });
          return;
        }
        this.finishCall(thread, p.name, p.nr, p.text + rest, p.span, p.line);
        return;
      }
    }
    // A name (`[A-Za-z_][A-Za-z0-9_]*`) right before '(', read by hand.
    let n = 0;
    for (; n < body.length; n++) {
      const c = body.charCodeAt(n);
      if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (n > 0 && c >= 48 && c <= 57))) break;
    }
    if (n === 0 || body.charCodeAt(n) !== 40) {
      this.bad(startLine, at, 'it is not a system call, a signal or an exit line of strace');
      return;
    }
    const name = body.slice(0, n);
    const unfinished = unfinishedAt(body);
    if (this.pending.has(thread)) {
      // the thread's earlier call never resumed: it did not return
      const p = this.pending.get(thread)!;
      this.pending.delete(thread);
      this.finishCall(thread, p.name, p.nr, p.text + ')', p.span, p.line, true);
    }
    const nr = this.lookup(name, at);
    if (nr === undefined) return;
    if (unfinished >= 0) {
      this.pending.set(thread, { name, nr, text: body.slice(0, unfinished), span: at, line: startLine });
      return;
    }
    this.finishCall(thread, name, nr, body, at, startLine);
  }

  private lookup(name: string, at: Span): number | undefined {
    const known = syscallByName(name);
    if (known) return known.nr;
    const m = /^syscall_(0x[0-9a-fA-F]+|\d+)$/.exec(name);
    if (m) {
      const nr = Number(BigInt(m[1]!));
      if (nr >= 0 && nr < 1024) return nr;
    }
    this.diags.add(Diag.TraceUnknownSyscall, this.path, at, [name]);
    return undefined;
  }

  private finishCall(thread: number, name: string, nr: number, whole: string, at: Span, line: number, noReturn = false): void {
    const open = whole.indexOf('(');
    const close = closingParen(whole, open);
    if (close < 0) return this.bad(line, at, 'its argument list is not closed');
    const argText = whole.slice(open + 1, close);
    if (noReturn) return this.emit(thread, name, nr, argText, null, at, line, whole);
    const after = whole.slice(close + 1);
    // ` = ` (the common case read by hand) or any spaces around '='.
    const eq = after.startsWith(' = ') ? 3 : (/^\s*=\s*/.exec(after)?.[0].length ?? -1);
    if (eq < 0) return this.bad(line, at, "it has no return value ('= N' after the arguments)");
    this.emit(thread, name, nr, argText, after.slice(eq), at, line, whole);
  }

  private emit(thread: number, name: string, nr: number, argText: string, retText: string | null, at: Span, line: number, whole: string): void {
    const raw = splitArgs(argText);
    if (!raw) return this.bad(line, at, 'its argument list is not well formed (an unclosed string or bracket)');
    const parsed = parseArgList(name, nr, raw);
    if (typeof parsed === 'string') return this.bad(line, at, parsed);
    let ret = 0n;
    let noRet = true;
    let retPath: string | undefined;
    if (retText !== null) {
      const r = parseReturn(retText);
      if (!r) return this.bad(line, at, `its return value '${retText.trim().slice(0, 80)}' is not a number, '-1 ERRNO (...)' or '?'`);
      ret = r.ret;
      noRet = r.noRet;
      retPath = r.fdPath;
    }
    const sc = syscallByNr(nr);
    // Without a command table a call's parameters do not depend on its arguments: the ones the
    // arguments were read by serve below (paramsOf thrice per event was a tenth of the reading).
    const ps = sc && !sc.commands ? parsed.ps : undefined;
    if (!noRet && ret < 0n && ret >= -4095n) {
      // A failed call returned nothing in its output buffers; strace shows their addresses.
      (ps ?? paramsOf(sc, parsed.args)).forEach((p, j) => {
        if (p && (p.kind === 'out_bytes' || p.kind === 'out_struct')) parsed.bufs[j] = null;
      });
    }
    if (parsed.truncated) {
      this.end.cutLines++;
      if (!this.end.firstCut) {
        const cut = parsed.bufs.reduce((m, b) => Math.max(m, b?.length ?? 0), 0);
        this.end.firstCut = { line, span: at, name, length: cut };
      }
    }
    if (sc?.name === 'execve' && this.command === null && thread === this.firstSeen && raw[1] !== undefined) {
      const argv = parseArgv(raw[1]);
      if (argv) {
        this.command = argv;
        this.commandAt = { span: at, line };
      }
    }
    const index = this.next.get(thread) ?? 0n;
    this.next.set(thread, index + 1n);
    const args = canonicalArgs(sc, parsed.args, ps);
    const ev: TraceEvent = { index, nr, args, ret, bufs: meaningfulInputs(sc, args, parsed.bufs, ps), name, thread, truncated: parsed.truncated, noRet, span: at };
    if (parsed.caps.some((c) => c !== null)) ev.caps = parsed.caps;
    if (parsed.fdPaths || retPath !== undefined) {
      const paths = parsed.fdPaths ?? [];
      if (retPath !== undefined) paths[6] = retPath;
      ev.fdPaths = paths;
    }
    this.sink.event(ev, whole);
  }
}

/** Reads strace output held in memory (see the header of this file). */
export function parseStraceTrace(file: SourceFile, diags: DiagnosticBag): Trace {
  const trace: Trace = { file, format: 'strace', command: null, events: [], signals: [] };
  // Events read before the first pid is known (thread 0), to relabel without a pass over all.
  const early: (TraceEvent | TraceSignal)[] = [];
  const reader = new StraceReader(file.path, diags, {
    event: (e) => {
      trace.events.push(e);
      if (e.thread === 0) early.push(e);
    },
    signal: (g) => {
      trace.signals.push(g);
      if (g.thread === 0) early.push(g);
    },
    relabel: (from, to) => {
      for (const x of from === 0 ? early : [...trace.events, ...trace.signals]) if (x.thread === from) x.thread = to;
    },
  });
  forEachLine(file.text, (line, offset, lineNo) => reader.line(line, offset, lineNo));
  reader.finish();
  // Events of one thread keep their order; a resumed call takes the place of its start.
  trace.events.sort((a, b) => a.span.offset - b.span.offset);
  trace.command = reader.command;
  if (reader.commandAt) trace.commandAt = reader.commandAt;
  trace.end = { ...reader.end, ...lastLineCut(file.text) };
  return trace;
}
