// System-call traces, as `mvrc record` writes them and `mvrc verify` / `mvrc infer` read them
// (docs/traces.md). One format in memory whatever the file was: mvrc's JSON lines, or strace
// output (`strace -f -s 4096 -xx`, compiler/traces/strace.ts). Each event keeps the span of the line
// it came from, so that findings point into the trace file like diagnostics into a rule file.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { MVR_TRACE_FORMAT_VERSION } from '../core/abi.generated.ts';
import { Diag } from '../core/diagnostic-messages.ts';
import { DiagnosticBag } from '../core/diagnostics.ts';
import { decodeSourceText, describeError } from '../core/source-io.ts';
import type { LeaderEvent } from '../semantics/interpreter.ts';
import { span, type SourceFile, type Span } from '../core/span.ts';
import { syscallByName, syscallByNr } from '../syscalls/lookup.ts';
import { canonicalArgs, meaningfulInputs } from '../syscalls/meaning.ts';

/** The version of the JSON-lines format this file reads and `mvrc record` writes (runtime-c/common/mvr_abi.tsv). */
export const TRACE_FORMAT_VERSION = MVR_TRACE_FORMAT_VERSION;
/** mvrc infer reads a trace whole into memory (a JavaScript string): larger ones are refused
 *  (MVR9014). mvrc verify streams its traces and takes any size (compiler/traces/stream.ts). */
export const MAX_TRACE_BYTES = 512 * 1024 * 1024;

export interface TraceEvent extends LeaderEvent {
  /** The syscall's name (from the table; `syscall_NNN` for numbers it does not know). */
  name: string;
  /** Which thread or process of the traced program made it: ring number (mvrc) or pid (strace). */
  thread: number;
  /** The record's buffers were cut at the recorder's per-buffer cap. */
  truncated: boolean;
  /** The call did not return (exit_group, execve...): `ret` is meaningless. */
  noRet: boolean;
  /** The capacity the call offered for outputs whose capacity is no argument (an iovec array's
   *  total length, a msghdr's name and control buffers), by position; null where unknown. */
  caps?: (number | null)[];
  /** Where the event is in its trace file. */
  span: Span;
  /** What descriptors name, by argument position (6: the result), when the trace says it
   *  (strace -y: `3</etc/hosts>`, `3<TCP:[...]>`). */
  fdPaths?: (string | undefined)[];
}

/** How a trace ends, and what its recorder left out (reportTraceShape). */
export interface TraceEndInfo {
  /** Events with a buffer cut by the recorder (strace -s N, mvrc record's cap). */
  cutLines: number;
  firstCut?: { line: number; span: Span; name: string; length: number };
  /** The program's exit is in the trace (strace: `+++ exited/killed +++` of the first process;
   *  mvrc: the `{"end":...}` line). */
  exited: boolean;
  /** The file's last line has no newline: the trace was cut in the middle of a line. */
  cutMidLine?: { line: number; span: Span };
}

export interface TraceSignal {
  thread: number;
  /** The signal's handler ran before this event index of the thread. */
  before: bigint;
  signal: number;
  span: Span;
}

export interface Trace {
  file: SourceFile;
  format: 'mvrc' | 'strace';
  /** The traced command, when the trace says it. */
  command: string[] | null;
  /** Every event, in file order. Events of one thread keep their order. */
  events: TraceEvent[];
  signals: TraceSignal[];
  /** The threads in creation order, when they were fixed before events were taken out of the
   *  trace (comparedTrace in compiler/traces/infer.ts); else traceThreads works them out. */
  threadOrder?: TraceThread[];
  /** Where the command was read (strace: the first execve), for MVR9013. */
  commandAt?: { span: Span; line: number };
  /** How the trace ends and what it leaves out (set by the readers). */
  end?: TraceEndInfo;
}

/** Calls `f` with each line of `text` (without its newline), its offset and its 1-based number. */
export function forEachLine(text: string, f: (line: string, offset: number, lineNo: number) => void): void {
  let offset = 0;
  let lineNo = 0;
  while (offset < text.length) {
    const nl = text.indexOf('\n', offset);
    const end = nl < 0 ? text.length : nl;
    f(text.slice(offset, end), offset, ++lineNo);
    offset = end + 1;
  }
}

/** When `text` does not end with a newline: its last line (cut in the middle, or written by hand). */
export function lastLineCut(text: string): { cutMidLine?: { line: number; span: Span } } {
  if (text.length === 0 || text.endsWith('\n')) return {};
  const start = text.lastIndexOf('\n') + 1;
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) line++;
  return { cutMidLine: { line, span: span(start, text.length - start) } };
}

/**
 * Warnings about what a trace leaves out, at the lines concerned: buffers cut by the recorder
 * (MVR9011: a difference past the cut is not seen, so the verdict holds only for the bytes shown),
 * a trace that ends without the program's exit or in the middle of a line (MVR9012).
 */
export function reportTraceShape(path: string, end: TraceEndInfo | undefined, format: Trace['format'], diags: DiagnosticBag): void {
  if (!end) return;
  if (end.firstCut) {
    const c = end.firstCut;
    const how = format === 'strace' ? `strace -s ${c.length}` : "mvrc record's buffer cap";
    diags.add(Diag.TraceBuffersCut, path, c.span, [c.line, c.name, c.length, how, end.cutLines]);
  }
  if (end.cutMidLine) diags.add(Diag.TraceCut, path, end.cutMidLine.span, [`its last line (line ${end.cutMidLine.line}) has no newline: it was cut in the middle of a line`]);
  else if (!end.exited) {
    const why = format === 'strace' ? "it ends without the program's exit ('+++ exited with N +++' or '+++ killed by SIG... +++' of the first process)" : 'it ends without its end line ({"end":...}), which mvrc record writes when the program exits';
    diags.add(Diag.TraceCut, path, span(0, 0), [why]);
  }
}

/**
 * Whether two argv arrays ran the same command line: the same arguments after the program's name
 * (`./kv-v1 --port 0`, `./kv-v2 --port 0`); a multi-call binary's applet is the program's name
 * (`busybox ls -l`, `/bin/ls -l`).
 */
export function sameCommandLine(l: readonly string[], f: readonly string[]): boolean {
  // `busybox ls -l`: the applet names the program.
  const args = (argv: readonly string[]): readonly string[] => (MULTI_CALL.has((argv[0] ?? '').slice((argv[0] ?? '').lastIndexOf('/') + 1)) ? argv.slice(2) : argv.slice(1));
  const [la, fa] = [args(l), args(f)];
  return la.length === fa.length && la.every((x, i) => x === fa[i]);
}

/** Multi-call binaries, whose first argument is the program they run. */
const MULTI_CALL = new Set(['busybox', 'toybox']);

/**
 * A warning (MVR9013) when the two traces ran different command lines (the arguments after the
 * program's name differ): verify and infer compare two runs of the same workload, and two runs
 * of different commands only look like a version change.
 */
export function reportCommandMismatch(leader: Trace, follower: Trace, diags: DiagnosticBag): void {
  const l = leader.command;
  const f = follower.command;
  if (!l || !f || sameCommandLine(l, f)) return;
  const show = (c: string[]): string => c.map((a) => JSON.stringify(a)).join(' ');
  diags.add(Diag.TraceCommandsDiffer, follower.file.path, follower.commandAt?.span ?? span(0, 0), [show(l), leader.file.path, show(f)]);
}

/** A thread or process of the traced program (traceThreads). */
export interface TraceThread {
  /** Its id in the trace's events: the ring number (mvrc) or the pid (strace). */
  id: number;
  /** The clone/clone3/fork call that created it, when the trace shows one (strace). */
  creator?: TraceEvent;
}

const CLONE_VM = 0x100n;
const CLONE_VFORK = 0x4000n;
const CLONE_THREAD = 0x10000n;

/**
 * Whether the child of a creating call is one the runtime pairs with a ring (runtime-c/agent/tasks.c,
 * handle_creation): threads and fork-like processes are; vfork and clone(CLONE_VM) without
 * CLONE_THREAD (posix_spawn, system) are not. Null for a call that creates nothing. How a call
 * creates a task, and where its clone flags are, is in the syscall model (`task=`).
 */
export function createsPairedChild(e: TraceEvent, line: () => string): boolean | null {
  const task = syscallByNr(e.nr)?.task;
  if (!task) return null;
  let flags: bigint | undefined;
  switch (task.how) {
    case 'fork':
      return true;
    case 'vfork':
      return false;
    case 'clone':
      flags = BigInt.asUintN(64, e.args[task.param ?? 0] ?? 0n);
      break;
    case 'clone3': {
      // The flags are the first field of struct clone_args: in its recorded bytes when there are
      // some, else (mvrc's JSON traces hold none) in strace's line.
      const b = e.bufs[task.param ?? 0];
      if (b && b.length >= 8) flags = new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true);
      else {
        const m = /flags=([A-Za-z0-9_|]+)/.exec(line());
        if (!m) return true;
        const names = m[1]!.split('|');
        flags = (names.includes('CLONE_VM') ? CLONE_VM : 0n) | (names.includes('CLONE_VFORK') ? CLONE_VFORK : 0n) | (names.includes('CLONE_THREAD') ? CLONE_THREAD : 0n);
      }
      break;
    }
  }
  if (flags & CLONE_VFORK) return false;
  return (flags & CLONE_VM) === 0n || (flags & CLONE_THREAD) !== 0n;
}

/**
 * The program's threads and child processes in creation order (index 0: the main thread, always
 * there, even in a trace without events), as the
 * runtime pairs them, one ring per pair (docs/runtime.md):
 * - mvrc JSON lines: `thread` is the ring number, already the creation order: ring k is entry k
 *   (a ring with no events in the trace is an entry without events);
 * - strace: the first pid seen is the main thread; then the children, in the order in which the
 *   clone/clone3/fork calls that created them started (the runtime takes a ring number when the
 *   creating call enters, and a resumed call keeps the line where it started) — their results name
 *   the children's pids; then pids whose creation the trace does not show, in the order they first
 *   appear. Children the runtime does not pair (vfork, posix_spawn/system: clone(CLONE_VM) without
 *   CLONE_THREAD) and their descendants are left out, as `mvrc record` leaves them out.
 */
export function traceThreads(trace: Trace): TraceThread[] {
  if (trace.threadOrder) return trace.threadOrder;
  if (trace.format === 'mvrc') {
    let max = -1;
    for (const e of trace.events) if (e.thread > max) max = e.thread;
    return Array.from({ length: Math.max(max + 1, 1) }, (_, id) => ({ id }));
  }
  const main = trace.events[0]?.thread;
  if (main === undefined) return [{ id: 0 }]; // the main thread exists, even without events
  const out: TraceThread[] = [{ id: main }];
  const seen = new Set<number>([main]);
  const unpaired = new Set<number>();
  const creators = trace.events.filter((e) => !e.noRet && e.ret > 0n && createsPairedChild(e, () => lineOf(trace, e)) !== null).sort((a, b) => a.span.offset - b.span.offset);
  for (const c of creators) {
    const pid = Number(c.ret);
    if (!Number.isSafeInteger(pid) || seen.has(pid) || unpaired.has(pid)) continue;
    if (unpaired.has(c.thread) || !createsPairedChild(c, () => lineOf(trace, c))) unpaired.add(pid);
    else {
      out.push({ id: pid, creator: c });
      seen.add(pid);
    }
  }
  for (const e of trace.events) {
    if (seen.has(e.thread) || unpaired.has(e.thread)) continue;
    out.push({ id: e.thread });
    seen.add(e.thread);
  }
  return out;
}

function lineOf(trace: Trace, e: TraceEvent): string {
  return trace.file.text.slice(e.span.offset, e.span.offset + e.span.length);
}

/** How a thread is named in findings: `thread 1` (mvrc), `thread 1 (pid 4243)` (strace). */
export function threadName(trace: Trace, index: number, id: number): string {
  return trace.format === 'strace' ? `thread ${index} (pid ${id})` : `thread ${index}`;
}

/** The events of one thread (the main thread: the first thread seen), indexed from 0. */
export function threadEvents(trace: Trace, thread?: number): TraceEvent[] {
  const t = thread ?? trace.events[0]?.thread;
  return trace.events.filter((e) => e.thread === t);
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function toInt64(v: unknown): bigint | null {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) {
    const b = BigInt(v);
    if (b >= INT64_MIN && b <= INT64_MAX) return b;
    if (b > INT64_MAX && b < 1n << 64n) return b - (1n << 64n); // unsigned spelling of a negative
  }
  return null;
}

function fromHex(s: unknown): Uint8Array | null {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return null;
  // Buffer's decoder, not a parseInt per byte: this is the JSON reader's hot path.
  const b = Buffer.from(s, 'hex');
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/**
 * Reads mvrc's JSON-lines trace format (docs/traces.md). Problems are diagnostics with the span of
 * the offending line; a line that cannot be read is skipped, so one run reports many.
 */
export function parseJsonTrace(file: SourceFile, diags: DiagnosticBag): Trace {
  const trace: Trace = { file, format: 'mvrc', command: null, events: [], signals: [] };
  const reader = new JsonTraceReader(file.path, diags, {
    event: (e) => void trace.events.push(e),
    signal: (g) => void trace.signals.push(g),
  });
  forEachLine(file.text, (line, offset, lineNo) => reader.line(line, offset, lineNo));
  trace.command = reader.command;
  trace.end = { ...reader.end, ...lastLineCut(file.text) };
  return trace;
}

/** Reads mvrc's JSON lines a line at a time (parseJsonTrace, and the streams of stream.ts). */
export class JsonTraceReader {
  readonly end: TraceEndInfo = { cutLines: 0, exited: false };
  command: string[] | null = null;
  private readonly next = new Map<number, bigint>(); // expected next index per thread
  constructor(
    private readonly path: string,
    private readonly diags: DiagnosticBag,
    private readonly sink: { event(e: TraceEvent, line: string): void; signal(g: TraceSignal): void },
  ) {}

  /** One line of the file (without its newline), its offset and its 1-based number. */
  line(line: string, offset: number, lineNo: number): void {
    const { diags, next } = this;
    const at = span(offset, line.length);
    if (line.trim() === '') return;
  const bad = (why: string): void => void diags.add(Diag.TraceLineInvalid, this.path, at, [lineNo, why]);
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    bad('it is not JSON');
    return;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    bad('it is not a JSON object');
    return;
  }
  const o = v as Record<string, unknown>;
  if ('mvrcTrace' in o) {
    if (o.mvrcTrace !== TRACE_FORMAT_VERSION) bad(`format version ${String(o.mvrcTrace)} is not supported (this mvrc reads version ${TRACE_FORMAT_VERSION})`);
    if (Array.isArray(o.command) && o.command.every((x) => typeof x === 'string')) this.command = o.command as string[];
    return;
  }
  if ('end' in o) {
    this.end.exited = true;
    return;
  }
  const thread = o.thread === undefined ? 0 : Number(o.thread);
  if (!Number.isSafeInteger(thread) || thread < 0) {
    bad("'thread' must be a non-negative integer");
    return;
  }
  if ('signal' in o) {
    const before = toInt64(o.before);
    const sig = Number(o.signal);
    if (before === null || !Number.isInteger(sig) || sig < 1 || sig > 64) {
      bad("a signal line needs 'signal' (1-64) and 'before' (an event index)");
      return;
    }
    this.sink.signal({ thread, before, signal: sig, span: at });
    return;
  }
  let nr: number | undefined;
  if (typeof o.nr === 'number' && Number.isInteger(o.nr) && o.nr >= 0 && o.nr < 1024) nr = o.nr;
  else if (typeof o.name === 'string') nr = syscallByName(o.name)?.nr;
  if (nr === undefined) {
    if (typeof o.name === 'string') diags.add(Diag.TraceUnknownSyscall, this.path, at, [o.name]);
    else bad("an event line needs 'nr' or 'name'");
    return;
  }
  const args: bigint[] = [];
  const rawArgs = Array.isArray(o.args) ? o.args : [];
  if (rawArgs.length > 6) {
    bad("'args' has more than 6 values");
    return;
  }
  let argsOk = true;
  for (let i = 0; i < 6; i++) {
    const a = i < rawArgs.length ? toInt64(rawArgs[i]) : 0n;
    if (a === null) argsOk = false;
    args.push(a ?? 0n);
  }
  if (!argsOk) {
    bad("'args' must be 64-bit integers (JSON numbers, or decimal strings beyond 2^53)");
    return;
  }
  const noRet = o.noret === true;
  const ret = o.ret === undefined && noRet ? 0n : toInt64(o.ret);
  if (ret === null) {
    bad("'ret' must be a 64-bit integer");
    return;
  }
  const bufs: (Uint8Array | null)[] = [null, null, null, null, null, null];
  let bufsOk = true;
  if (o.bufs !== undefined) {
    if (typeof o.bufs !== 'object' || o.bufs === null || Array.isArray(o.bufs)) bufsOk = false;
    else
      for (const [k, hex] of Object.entries(o.bufs as Record<string, unknown>)) {
        const i = Number(k);
        const b = fromHex(hex);
        if (!Number.isInteger(i) || i < 0 || i > 5 || b === null) bufsOk = false;
        else bufs[i] = b;
      }
  }
  if (!bufsOk) {
    bad("'bufs' must map argument positions 0-5 to hexadecimal strings");
    return;
  }
  const caps: (number | null)[] = [null, null, null, null, null, null];
  let capsOk = true;
  if (o.caps !== undefined) {
    if (typeof o.caps !== 'object' || o.caps === null || Array.isArray(o.caps)) capsOk = false;
    else
      for (const [k, c] of Object.entries(o.caps as Record<string, unknown>)) {
        const i = Number(k);
        if (!Number.isInteger(i) || i < 0 || i > 5 || typeof c !== 'number' || !Number.isSafeInteger(c) || c < 0) capsOk = false;
        else caps[i] = c;
      }
  }
  if (!capsOk) {
    bad("'caps' must map argument positions 0-5 to non-negative integers");
    return;
  }
  const expect = next.get(thread) ?? 0n;
  const index = o.i === undefined ? expect : toInt64(o.i);
  if (index === null || index !== expect) {
    bad(`event index ${String(o.i)} out of order: thread ${thread} expects ${expect}`);
    return;
  }
  next.set(thread, expect + 1n);
  if (o.truncated === true) {
    this.end.cutLines++;
    this.end.firstCut ??= { line: lineNo, span: at, name: syscallByNr(nr)?.name ?? `syscall_${nr}`, length: bufs.reduce((m, b) => Math.max(m, b?.length ?? 0), 0) };
  }
  // Arguments and input bytes as they mean something (compiler/syscalls/meaning.ts): a 32-bit
  // argument's upper half, the bytes after a sockaddr_un's path, padding and pointers inside
  // structures are not part of a call's meaning.
  const sc = syscallByNr(nr);
  const canonical = canonicalArgs(sc, args);
  const ev: TraceEvent = {
    index,
    nr,
    args: canonical,
    ret,
    bufs: meaningfulInputs(sc, canonical, bufs),
    name: sc?.name ?? `syscall_${nr}`,
    thread,
    truncated: o.truncated === true,
    noRet,
    span: at,
  };
  if (caps.some((c) => c !== null)) ev.caps = caps;
  this.sink.event(ev, '');
  }
}

/** True when the text looks like mvrc's JSON lines rather than strace output. */
export function isJsonTrace(text: string): boolean {
  return text.trimStart().startsWith('{');
}

/**
 * Reads a trace file of either format. Unreadable files, directories and oversized files are
 * diagnostics (MVR9001/9009/9004), like rule files; `display` is how the path is shown.
 */
export async function readTraceFile(path: string, diags: DiagnosticBag, display: string = path): Promise<Trace | undefined> {
  const at = span(0, 0);
  const shown = display;
  if (!existsSync(path)) {
    diags.add(Diag.CannotReadFile, shown, at, [shown, 'no such file or directory']);
    return undefined;
  }
  try {
    const st = statSync(path);
    if (st.isDirectory()) {
      diags.add(Diag.TraceIsADirectory, shown, at, [shown]);
      return undefined;
    }
    if (st.size > MAX_TRACE_BYTES) {
      diags.add(Diag.TraceTooLarge, shown, at, [shown, st.size, MAX_TRACE_BYTES]);
      return undefined;
    }
    const text = decodeSourceText(readFileSync(path));
    if (text === undefined) {
      diags.add(Diag.TraceNotText, shown, at, [shown]);
      return undefined;
    }
    const file: SourceFile = { path: shown, text };
    if (text.trim() === '') {
      diags.add(Diag.TraceEmpty, shown, at, [shown]);
      return undefined;
    }
    const { parseStraceTrace } = await import('./strace.ts');
    const trace = isJsonTrace(text) ? parseJsonTrace(file, diags) : parseStraceTrace(file, diags);
    reportTraceShape(shown, trace.end, trace.format, diags);
    return trace;
  } catch (e) {
    diags.add(Diag.CannotReadFile, shown, at, [shown, describeError(e as NodeJS.ErrnoException)]);
    return undefined;
  }
}
