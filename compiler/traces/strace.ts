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
import type { ParamKind } from '../syscalls/types.ts';
import { valueSet } from '../syscalls/values.ts';
import { encodeParam, numberOf, parseNumber, parseQuoted, parseValue, wordValue } from './strace-values.ts';
import type { Trace, TraceEvent } from './trace.ts';

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

export { parseNumber } from './strace-values.ts';

/** A scalar argument: a number, a name of the model's value sets, or an OR of those; else a value
 *  from its text (symbolicValue). */
export function scalarValue(text: string): bigint {
  const t = text.trim();
  return wordValue(t) ?? numberOf(parseValue(t)) ?? symbolicValue(t);
}

// ---------------------------------------------------------------------------------------------
// Strings and argument lists

/** A C-escaped string strace printed, at text[at] === '"' (its bytes, the index after it and a
 *  trailing `...`, whether it was cut); undefined when it is not terminated or holds a bad escape. */
export function parseCString(text: string, at: number): { bytes: Uint8Array; end: number; truncated: boolean } | undefined {
  return parseQuoted(text, at);
}

/**
 * Splits `text` (an argument list without its parentheses) at top-level commas, skipping strings,
 * comments and nested brackets. Returns undefined when a string or bracket is not closed.
 */
export function splitArgs(text: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const s = parseCString(text, i);
      if (!s) return undefined;
      i = s.end;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return undefined;
      i = end + 2;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth < 0) return undefined;
    } else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  if (depth !== 0) return undefined;
  const last = text.slice(start);
  if (out.length > 0 || last.trim() !== '') out.push(last);
  return out.map((a) => a.replace(/\/\*.*?\*\//g, '').trim());
}

/** The index of the ')' closing the argument list that starts after text[open] === '('. */
function closingParen(text: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const s = parseCString(text, i);
      if (!s) return -1;
      i = s.end;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return -1;
      i = end + 2;
      continue;
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

interface ParsedArgs {
  args: bigint[];
  bufs: (Uint8Array | null)[];
  /** Capacities offered by outputs whose capacity is not an argument (iovecs, msghdr parts). */
  caps: (number | null)[];
  truncated: boolean;
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
function parseArgList(name: string, nr: number, raw: string[]): ParsedArgs | string {
  const sc = syscallByNr(nr);
  const args = [0n, 0n, 0n, 0n, 0n, 0n];
  const bufs: (Uint8Array | null)[] = [null, null, null, null, null, null];
  const caps: (number | null)[] = [null, null, null, null, null, null];
  let truncated = false;
  if (raw.length > 6) return `${name} has ${raw.length} arguments; a syscall takes at most 6`;
  const placed: { pos: number; text: string }[] = [];
  for (let k = 0; k < raw.length; k++) {
    let text = raw[k]!;
    let pos = k;
    const named = /^([a-z_]+)=(.*)$/s.exec(text);
    if (named) {
      const at = sc?.params.findIndex((p) => p.name === named[1] || p.alias?.includes(named[1]!)) ?? -1;
      if (at >= 0) {
        pos = at;
        text = named[2]!;
      } else if (sc?.params.some((p) => p.alias)) text = named[2]!;
    }
    // fds shown with -y: 3</path/to/file>
    const fdDecor = /^(-?\d+)<.*>$/s.exec(text);
    if (fdDecor) text = fdDecor[1]!;
    placed.push({ pos, text });
  }
  const pointerValue = (text: string): bigint => (text === 'NULL' ? 0n : (parseNumber(text) ?? symbolicValue(text)));
  // Scalars first: they decide the command.
  for (const { pos, text } of placed) {
    const kind: ParamKind = sc?.params[pos]?.kind ?? 'int';
    if (MEMORY.has(kind) || kind === 'ptr') args[pos] = text.startsWith('"') ? symbolicValue(text) : pointerValue(text);
    else args[pos] = scalarValue(text);
  }
  const ps = paramsOf(sc, args);
  for (const { pos, text } of placed) {
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
  return { args, bufs, caps, truncated };
}

// ---------------------------------------------------------------------------------------------
// Return values

function parseReturn(text: string): { ret: bigint; noRet: boolean } | undefined {
  // `-T` adds ` <0.000012>` at the end; `-y` shows a returned fd as `3</path>`.
  const t = text.replace(/\s+<\d+(\.\d+)?>\s*$/, '').trim().replace(/^(\d+)<.*>$/s, '$1');
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

interface Pending {
  name: string;
  nr: number;
  text: string;
  span: Span;
  line: number;
}

/** Reads strace output (see the header of this file). */
export function parseStraceTrace(file: SourceFile, diags: DiagnosticBag): Trace {
  const trace: Trace = { file, format: 'strace', command: null, events: [], signals: [] };
  const text = file.text;
  const next = new Map<number, bigint>();
  const pending = new Map<number, Pending>();
  let offset = 0;
  let lineNo = 0;

  const bad = (line: number, at: Span, why: string): void => void diags.add(Diag.TraceLineInvalid, file.path, at, [line, why]);

  const emit = (thread: number, name: string, nr: number, argText: string, retText: string | null, at: Span, line: number): void => {
    const raw = splitArgs(argText);
    if (!raw) return bad(line, at, 'its argument list is not well formed (an unclosed string or bracket)');
    const parsed = parseArgList(name, nr, raw);
    if (typeof parsed === 'string') return bad(line, at, parsed);
    let ret = 0n;
    let noRet = true;
    if (retText !== null) {
      const r = parseReturn(retText);
      if (!r) return bad(line, at, `its return value '${retText.trim()}' is not a number, '-1 ERRNO (...)' or '?'`);
      ret = r.ret;
      noRet = r.noRet;
    }
    const sc = syscallByNr(nr);
    if (!noRet && ret < 0n && ret >= -4095n) {
      // A failed call returned nothing in its output buffers; strace shows their addresses.
      paramsOf(sc, parsed.args).forEach((p, j) => {
        if (p && (p.kind === 'out_bytes' || p.kind === 'out_struct')) parsed.bufs[j] = null;
      });
    }
    const index = next.get(thread) ?? 0n;
    next.set(thread, index + 1n);
    const args = canonicalArgs(sc, parsed.args);
    const ev: TraceEvent = { index, nr, args, ret, bufs: meaningfulInputs(sc, args, parsed.bufs), name, thread, truncated: parsed.truncated, noRet, span: at };
    if (parsed.caps.some((c) => c !== null)) ev.caps = parsed.caps;
    trace.events.push(ev);
  };

  const lookup = (name: string, at: Span): number | undefined => {
    const known = syscallByName(name);
    if (known) return known.nr;
    const m = /^syscall_(0x[0-9a-fA-F]+|\d+)$/.exec(name);
    if (m) {
      const nr = Number(BigInt(m[1]!));
      if (nr >= 0 && nr < 1024) return nr;
    }
    diags.add(Diag.TraceUnknownSyscall, file.path, at, [name]);
    return undefined;
  };

  // Lines without a pid (strace writing to stderr shows none while it traces one process) belong
  // to the only live process when there is one, else to the first process, whose pid is learned
  // from the result of a call that returns the caller's thread id (`->tid` in the syscall model:
  // set_tid_address, getpid, gettid; 0 until then).
  let firstPid: number | null = null;
  const alive = new Set<number>();
  const relabel = (from: number, to: number): void => {
    for (const e of trace.events) if (e.thread === from) e.thread = to;
    for (const g of trace.signals) if (g.thread === from) g.thread = to;
    for (const m of [next, pending] as Map<number, unknown>[]) {
      if (m.has(from)) {
        m.set(to, m.get(from));
        m.delete(from);
      }
    }
    if (alive.delete(from)) alive.add(to);
  };
  const readLine = (): { line: string; at: Span } => {
    const start = offset;
    const nl = text.indexOf('\n', offset);
    const end = nl < 0 ? text.length : nl;
    let line = text.slice(offset, end);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    offset = end + 1;
    lineNo++;
    return { line, at: span(start, line.length) };
  };

  while (offset < text.length) {
    let { line, at } = readLine();
    const startLine = lineNo;
    // On stderr, strace's own messages can cut a call's line in two:
    //   clone(child_stack=NULL, flags=...|SIGCHLDstrace: Process 29036 attached
    //   , child_tidptr=0x7f6d1ebcba10) = 29036
    const cut = /^(.*\S.*?)strace: Process \d+ attached(?: with \d+ threads)?$/.exec(line);
    if (cut && offset < text.length) {
      const rest = readLine();
      line = cut[1]! + rest.line;
      at = span(at.offset, rest.at.offset + rest.at.length - at.offset);
    }
    if (line.trim() === '') continue;
    const trimmed = line.trimStart();
    const pm = PREFIX.exec(trimmed)!;
    const explicit = pm[1] ?? pm[2];
    let thread = explicit !== undefined ? Number(explicit) : alive.size === 1 ? [...alive][0]! : (firstPid ?? 0);
    const body = trimmed.slice(pm[0].length);

    if (body.startsWith('strace: ')) continue; // strace's own messages
    if (body.startsWith('+++ ')) {
      alive.delete(thread); // exited or killed
      continue;
    }
    alive.add(thread);
    if (explicit === undefined && firstPid === null && thread === 0) {
      const m = /^([a-z_0-9]+)\(.*\)\s*=\s*(\d+)\s*$/.exec(body);
      if (m && syscallByName(m[1]!)?.ret?.kind === 'tid' && Number(m[2]) > 0) {
        firstPid = Number(m[2]);
        relabel(0, firstPid);
        thread = firstPid;
      }
    }
    if (body.startsWith('--- ')) {
      const m = /^--- (SIG[A-Z0-9_]+)\b/.exec(body);
      const sig = m ? signalNumber(m[1]!) : undefined;
      if (sig === undefined) bad(startLine, at, 'a signal line names no signal this reader knows');
      // A signal that arrives while a call of the thread is unfinished is handled after that call.
      else trace.signals.push({ thread, before: (next.get(thread) ?? 0n) + (pending.has(thread) ? 1n : 0n), signal: sig, span: at });
      continue;
    }
    const resumed = /^<\.\.\. ([A-Za-z0-9_]+) resumed>\s?(.*)$/s.exec(body);
    if (resumed) {
      const name = resumed[1]!;
      const p = pending.get(thread);
      if (!p || p.name !== name) {
        bad(startLine, at, `'${name}' resumes a call this thread did not start`);
        continue;
      }
      pending.delete(thread);
      const rest = resumed[2]!;
      if (/<unfinished \.\.\.>\s*\)?\s*$/.test(rest)) {
        // resumed, then unfinished again (e.g. around a signal): keep collecting
        pending.set(thread, { ...p, text: p.text + rest.replace(/\s*<unfinished \.\.\.>\s*\)?\s*$/, '') });
        continue;
      }
      finishCall(thread, p.name, p.nr, p.text + rest, p.span, p.line);
      continue;
    }
    const call = /^([A-Za-z_][A-Za-z0-9_]*)\(/.exec(body);
    if (!call) {
      bad(startLine, at, 'it is not a system call, a signal or an exit line of strace');
      continue;
    }
    const name = call[1]!;
    const unfinished = /\s*<unfinished \.\.\.>\s*$/.exec(body);
    if (pending.has(thread)) {
      // the thread's earlier call never resumed: it did not return
      const p = pending.get(thread)!;
      pending.delete(thread);
      finishCall(thread, p.name, p.nr, p.text + ')', p.span, p.line, true);
    }
    const nr = lookup(name, at);
    if (nr === undefined) continue;
    if (unfinished) {
      pending.set(thread, { name, nr, text: body.slice(0, unfinished.index), span: at, line: startLine });
      continue;
    }
    finishCall(thread, name, nr, body, at, startLine);
  }
  // Calls still unfinished when the trace ends (their process exited or was killed) did not return.
  for (const [thread, p] of pending) finishCall(thread, p.name, p.nr, p.text + ')', p.span, p.line, true);
  // Events of one thread keep their order; a resumed call takes the place of its start.
  trace.events.sort((a, b) => a.span.offset - b.span.offset);
  return trace;

  function finishCall(thread: number, name: string, nr: number, whole: string, at: Span, line: number, noReturn = false): void {
    const open = whole.indexOf('(');
    const close = closingParen(whole, open);
    if (close < 0) return bad(line, at, 'its argument list is not closed');
    const argText = whole.slice(open + 1, close);
    const after = whole.slice(close + 1);
    if (noReturn) return emit(thread, name, nr, argText, null, at, line);
    const rm = /^\s*=\s*(.*)$/s.exec(after);
    if (!rm) return bad(line, at, "it has no return value ('= N' after the arguments)");
    emit(thread, name, nr, argText, rm[1]!, at, line);
  }
}
