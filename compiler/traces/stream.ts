// Streaming `mvrc verify`: the two trace files are read a chunk at a time, line by line, and each
// thread's events are handed to its pair's interpreter as it needs them; an event is forgotten
// once the interpreter is past it (its low-water mark) and a follower call once it is decided.
// Memory is bounded by how far the two runs' threads drift apart in the files, not by their size,
// and a divergence near the start is found without reading the rest.
//
// The findings are the ones verifyTraces (verify.ts) gives on the same traces: both run the same
// PairRun over the same events (the readers of trace.ts/strace.ts, matchedEvents' filtering and
// traceThreads' creation order, done here incrementally).
import { closeSync, openSync, readSync } from 'node:fs';
import { Diag } from '../core/diagnostic-messages.ts';
import type { Diagnostic } from '../core/diagnostics.ts';
import type { DiagnosticBag } from '../core/diagnostics.ts';
import { span, type Span } from '../core/span.ts';
import { buildAutomaton } from '../lower/automaton.ts';
import type { Program } from '../check/program-types.ts';
import { RULE_DEFAULT } from '../semantics/interpreter.ts';
import { syscallByNr } from '../syscalls/lookup.ts';
import { StraceReader } from './strace.ts';
import { createsPairedChild, JsonTraceReader, reportTraceShape, threadName, type Trace, type TraceEndInfo, type TraceEvent, type TraceThread } from './trace.ts';
import { ImageStart } from './startup.ts';
import { PairRun, runtimeMatches, type ThreadPair, type VerifyFinding, type VerifyResult } from './verify.ts';

const CHUNK = 1 << 16;

/** Reads a file a chunk at a time and gives its lines (offsets count UTF-16 units, as in a string). */
class LineFile {
  private readonly fd: number;
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private carry = '';
  private offset = 0; // offset of the next line (of `carry`) in the text
  private lineNo = 0;
  private first = true;
  done = false;
  /** The file holds NUL bytes or is not UTF-8. */
  notText = false;
  /** Bytes read so far, and whether the last line had a newline. */
  bytes = 0;
  lastLine: { line: number; span: Span } | undefined;
  /** The first non-blank character of the text (format detection), once known. */
  firstChar: string | undefined;

  constructor(path: string) {
    this.fd = openSync(path, 'r');
  }

  /** Reads the next chunk and calls `f` for each complete line; at the end, for the last one. */
  read(f: (line: string, offset: number, lineNo: number) => void): boolean {
    if (this.done) return false;
    const n = readSync(this.fd, this.buf, 0, CHUNK, null);
    let text: string;
    try {
      if (n > 0 && this.buf.subarray(0, n).includes(0)) throw new Error('NUL');
      text = n > 0 ? this.decoder.decode(this.buf.subarray(0, n), { stream: true }) : this.decoder.decode();
    } catch {
      this.notText = true;
      this.close();
      return false;
    }
    this.bytes += n;
    if (this.first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.first = false;
    }
    if (this.firstChar === undefined) {
      const m = /\S/.exec(text);
      if (m) this.firstChar = m[0];
    }
    // Newlines are looked for in the new text only: a line longer than a chunk is joined once.
    let at = 0;
    let nl = text.indexOf('\n');
    if (nl >= 0 && this.carry !== '') {
      const line = this.carry + text.slice(0, nl);
      f(line, this.offset, ++this.lineNo);
      this.offset += line.length + 1;
      this.carry = '';
      at = nl + 1;
      nl = text.indexOf('\n', at);
    }
    while (nl >= 0) {
      f(text.slice(at, nl), this.offset, ++this.lineNo);
      this.offset += nl - at + 1;
      at = nl + 1;
      nl = text.indexOf('\n', at);
    }
    this.carry += text.slice(at);
    if (n === 0) {
      if (this.carry.length > 0) {
        this.lastLine = { line: this.lineNo + 1, span: span(this.offset, this.carry.length) };
        f(this.carry, this.offset, ++this.lineNo);
      }
      this.carry = '';
      this.close();
      return false;
    }
    return true;
  }

  close(): void {
    if (!this.done) closeSync(this.fd);
    this.done = true;
  }
}

interface Queue {
  /** Index (matched numbering) of events[head]. */
  base: number;
  head: number;
  events: TraceEvent[];
  /** Matched events taken so far (the thread's count once the file is read). */
  total: number;
  /** Still at the main thread's leading execve(s). */
  leading: boolean;
  /** After an execve that succeeded: the new image runs unrecorded. */
  ended: boolean;
  /** The start-up of the image the leading execve started (startup.ts). */
  start?: ImageStart;
}

/**
 * One trace file read as a stream of the events the runtime matches (matchedEvents), per thread,
 * with the threads in creation order (traceThreads) as far as the file read so far fixes it.
 */
export class TraceStream {
  readonly format: 'mvrc' | 'strace';
  private readonly file: LineFile;
  private readonly strace: StraceReader | undefined;
  private readonly json: JsonTraceReader | undefined;
  private readonly queues = new Map<number, Queue>();
  private main: number | undefined;
  private readonly threads: TraceThread[] = [];
  private readonly seen = new Set<number>();
  private readonly unpaired = new Set<number>();
  private readonly appearance: number[] = [];
  private readonly creators: { e: TraceEvent; paired: boolean }[] = [];
  private maxRing = -1;
  eof = false;
  /** Events read (all threads, before filtering): a measure of the work done. */
  eventsRead = 0;

  private constructor(
    readonly path: string,
    private readonly diags: DiagnosticBag,
    file: LineFile,
    format: 'mvrc' | 'strace',
  ) {
    this.file = file;
    this.format = format;
    if (format === 'strace') {
      this.strace = new StraceReader(path, diags, {
        event: (e, line) => this.take(e, line),
        signal: () => {},
        relabel: (from, to) => this.relabel(from, to),
      });
    } else this.json = new JsonTraceReader(path, diags, { event: (e) => this.take(e, ''), signal: () => {} });
  }

  /**
   * Opens a trace file (either format). Unreadable files, directories, non-text and empty files
   * are diagnostics (MVR9001/9009/9010/9008) and give undefined. `display` names it in them.
   */
  static open(path: string, diags: DiagnosticBag, display: string): TraceStream | undefined {
    const at = span(0, 0);
    let file: LineFile;
    try {
      file = new LineFile(path);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EISDIR') diags.add(Diag.TraceIsADirectory, display, at, [display]);
      else diags.add(Diag.CannotReadFile, display, at, [display, err.code === 'ENOENT' ? 'no such file or directory' : (err.message ?? String(e))]);
      return undefined;
    }
    // The format is the first non-blank character's: read until there is one.
    const early: [string, number, number][] = [];
    try {
      while (file.firstChar === undefined && file.read((l, o, n) => void early.push([l, o, n])));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EISDIR') diags.add(Diag.TraceIsADirectory, display, at, [display]);
      else diags.add(Diag.CannotReadFile, display, at, [display, err.message]);
      file.close();
      return undefined;
    }
    if (file.notText) {
      diags.add(Diag.TraceNotText, display, at, [display]);
      return undefined;
    }
    if (file.firstChar === undefined) {
      diags.add(Diag.TraceEmpty, display, at, [display]);
      return undefined;
    }
    const s = new TraceStream(display, diags, file, file.firstChar === '{' ? 'mvrc' : 'strace');
    for (const [l, o, n] of early) s.line(l, o, n);
    return s;
  }

  private line(l: string, offset: number, lineNo: number): void {
    if (this.strace) this.strace.line(l, offset, lineNo);
    else this.json!.line(l, offset, lineNo);
  }

  /** Reads the next chunk of the file; false at its end (then everything is known). */
  pull(): boolean {
    if (this.eof) return false;
    const more = this.file.read((l, o, n) => this.line(l, o, n));
    if (!more) {
      if (this.file.notText) this.diags.add(Diag.TraceNotText, this.path, span(0, 0), [this.path]);
      this.strace?.finish();
      this.eof = true;
    }
    this.resolve();
    return more;
  }

  /** What the reader learnt about the trace's end and cuts (reportTraceShape), once read. */
  endInfo(): TraceEndInfo {
    const end = (this.strace ?? this.json)!.end;
    return { ...end, ...(this.file.lastLine ? { cutMidLine: this.file.lastLine } : {}) };
  }

  get command(): string[] | null {
    return (this.strace ?? this.json)!.command;
  }

  /** A stand-in Trace for rendering findings (names, format, command); it holds no events. */
  shell(): Trace {
    const t: Trace = { file: { path: this.path, text: '' }, format: this.format, command: this.command, events: [], signals: [] };
    if (this.strace?.commandAt) t.commandAt = this.strace.commandAt;
    return t;
  }

  private queue(id: number): Queue {
    let q = this.queues.get(id);
    if (!q) {
      q = { base: 0, head: 0, events: [], total: 0, leading: true, ended: false };
      this.queues.set(id, q);
    }
    return q;
  }

  private take(e: TraceEvent, line: string): void {
    this.eventsRead++;
    let shared = false; // kept as a thread's creator, with the reader's numbering
    if (this.format === 'mvrc') {
      if (e.thread > this.maxRing) this.maxRing = e.thread;
    } else {
      if (this.main === undefined) {
        this.main = e.thread;
        this.threads.push({ id: e.thread });
        this.seen.add(e.thread);
      }
      if (!this.queues.has(e.thread)) this.appearance.push(e.thread);
      if (!e.noRet && e.ret > 0n) {
        const paired = createsPairedChild(e, () => line);
        if (paired !== null) {
          // kept in start order (a resumed call is read where it ends)
          let i = this.creators.length;
          while (i > 0 && this.creators[i - 1]!.e.span.offset > e.span.offset) i--;
          this.creators.splice(i, 0, { e, paired });
          shared = true;
        }
      }
    }
    if (this.unpaired.has(e.thread)) return;
    const q = this.queue(e.thread);
    if (q.ended) return;
    if (this.format === 'strace') {
      // As matchedEvents: the runtime starts inside the new image, and an image replaced later
      // runs unrecorded.
      const replaces = syscallByNr(e.nr)?.noReturn === 'success';
      if (q.leading && e.thread === this.main && replaces) {
        q.start = new ImageStart(); // the new image's start-up is not compared (startup.ts)
        return; // failed attempts too
      }
      q.leading = false;
      if (replaces && (e.noRet || e.ret === 0n)) q.ended = true;
    }
    if (!runtimeMatches(e.nr) || q.start?.skip(e)) return;
    const index = BigInt(q.total++);
    // Renumbered in place when nothing else holds the event (a copy of every event, its fields
    // spread, was a tenth of the reading after a leading execve shifted the numbering).
    if (e.index !== index && !shared) e.index = index;
    q.events.push(e.index === index ? e : { ...e, index });
  }

  private relabel(from: number, to: number): void {
    const q = this.queues.get(from);
    if (q) {
      for (let i = q.head; i < q.events.length; i++) q.events[i]!.thread = to;
      this.queues.delete(from);
      this.queues.set(to, q);
    }
    if (this.main === from) {
      this.main = to;
      this.threads[0] = { id: to };
      this.seen.delete(from);
      this.seen.add(to);
    }
    const k = this.appearance.indexOf(from);
    if (k >= 0) this.appearance[k] = to;
    for (const c of this.creators) if (c.e.thread === from) c.e.thread = to;
  }

  /** Fixes the creation order as far as the file read so far allows (traceThreads). */
  private resolve(): void {
    if (this.format === 'mvrc') {
      const n = this.eof ? Math.max(this.maxRing + 1, 1) : this.maxRing + 1;
      while (this.threads.length < n) this.threads.push({ id: this.threads.length });
      return;
    }
    // A creator is final once no earlier-started creating call is still unfinished.
    const limit = this.eof ? Infinity : this.strace!.pendingCreatorOffset();
    while (this.creators.length > 0 && this.creators[0]!.e.span.offset < limit) {
      const { e, paired } = this.creators.shift()!;
      const pid = Number(e.ret);
      if (!Number.isSafeInteger(pid) || this.seen.has(pid) || this.unpaired.has(pid)) continue;
      if (this.unpaired.has(e.thread) || !paired) {
        this.unpaired.add(pid);
        this.queues.delete(pid);
      } else {
        this.threads.push({ id: pid, creator: e });
        this.seen.add(pid);
      }
    }
    if (this.eof) {
      if (this.threads.length === 0) this.threads.push({ id: 0 });
      for (const id of this.appearance) {
        if (this.seen.has(id) || this.unpaired.has(id)) continue;
        this.threads.push({ id });
        this.seen.add(id);
      }
    }
  }

  /** Thread k in creation order; null when the trace has none; undefined when not known yet. */
  threadAt(k: number): TraceThread | null | undefined {
    if (k < this.threads.length) return this.threads[k]!;
    return this.eof ? null : undefined;
  }

  /** Bytes of the file read so far. */
  get bytesRead(): number {
    return this.file.bytes;
  }

  /** How many threads are known so far. */
  get threadCount(): number {
    return this.threads.length;
  }

  /** The thread's event `index`; null past its last one; undefined when not read yet. */
  eventOf(id: number, index: number): TraceEvent | null | undefined {
    const q = this.queues.get(id);
    if (!q) return this.eof ? null : undefined;
    const i = index - q.base;
    if (i < 0) throw new Error(`internal: event ${index} of thread ${id} was released`);
    if (q.head + i < q.events.length) return q.events[q.head + i]!;
    return this.eof || q.ended ? null : undefined;
  }

  /** The event, reading on as far as needed. */
  need(id: number, index: number): TraceEvent | null {
    for (;;) {
      const e = this.eventOf(id, index);
      if (e !== undefined) return e;
      this.pull();
    }
  }

  /** Forgets the thread's events below `below`. */
  release(id: number, below: number): void {
    const q = this.queues.get(id);
    if (!q) return;
    const drop = Math.min(below - q.base, q.events.length - q.head);
    if (drop <= 0) return;
    // Let go of the events now, not at the next compaction: held a few thousand events longer,
    // every event outlived two young-generation collections and was copied to the old one.
    for (let i = q.head; i < q.head + drop; i++) (q.events as (TraceEvent | undefined)[])[i] = undefined;
    q.head += drop;
    q.base += drop;
    if (q.head > 4096 && q.head * 2 > q.events.length) {
      q.events = q.events.slice(q.head);
      q.head = 0;
    }
  }

  /** The thread's number of matched events (reads the file to its end). */
  count(id: number): number {
    while (this.pull());
    return this.queues.get(id)?.total ?? 0;
  }

  /** Events held in memory now (for the bench's measure of boundedness). */
  held(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.events.length - q.head;
    return n;
  }

  close(): void {
    this.file.close();
  }
}

export interface StreamVerifyOptions {
  /** Go on after the first finding (every pair to its own first finding). Default: stop. */
  keepGoing?: boolean;
}

export interface StreamVerifyResult extends VerifyResult {
  /** The largest number of events held at once, both traces together. */
  peakHeld: number;
  /** False when verify stopped at a finding before reading the whole traces. */
  complete: boolean;
}

/**
 * mvrc verify over two trace streams: thread pairs by creation order, the follower thread's calls
 * against the leader thread's events, one PairRun per pair, as verifyTraces does in memory. Stops
 * at the first finding unless `keepGoing` (then each pair stops at its own first finding, as
 * verifyTraces does). Findings are in pair order.
 */
/** The finding for a thread only one version started (pair.leader or pair.follower is null): the
 *  same text from the interpreter and the native verifier (native.ts), which tests compare. */
export function unpairedThreadFinding(leader: TraceStream, follower: TraceStream, pair: ThreadPair): VerifyFinding {
  const side = pair.follower ? 'follower' : 'leader';
  const [s, th] = pair.follower ? [follower, pair.follower] : [leader, pair.leader!];
  const first = s.need(th.id, 0) ?? th.creator;
  return {
    kind: 'unpaired-thread',
    ...(first ? { [side]: first } : {}),
    rule: RULE_DEFAULT,
    message: `the ${side} started ${threadName(s.shell(), pair.index, th.id)}, which the ${side === 'follower' ? 'leader' : 'follower'} did not`,
    pair,
  };
}

export function verifyStreams(program: Program, leader: TraceStream, follower: TraceStream, opts: StreamVerifyOptions = {}): StreamVerifyResult {
  const automaton = buildAutomaton(program);
  interface Active {
    pair: ThreadPair;
    run: PairRun;
    next: number;
  }
  const findings: { k: number; f: VerifyFinding; pair?: ThreadPair }[] = [];
  const runs: Active[] = [];
  let active: Active[] = [];
  let k0 = 0;
  let stop = false;
  let peakHeld = 0;

  const newPair = (k: number, l: TraceThread | null, f: TraceThread | null): void => {
    const pair: ThreadPair = { index: k, leader: l, follower: f };
    if (l && f) {
      const lid = l.id;
      const view = {
        get: (index: bigint): { event: TraceEvent | null; eof: boolean } => {
          if (index < 0n) return { event: null, eof: true };
          const e = leader.need(lid, Number(index));
          return e ? { event: e, eof: false } : { event: null, eof: true };
        },
        release: (below: bigint): void => leader.release(lid, Number(below)),
      };
      const a: Active = { pair, run: new PairRun(automaton, view, () => leader.count(lid)), next: 0 };
      runs.push(a);
      active.push(a);
      return;
    }
    // A thread on one side only: the other version never created its counterpart.
    findings.push({ k, f: unpairedThreadFinding(leader, follower, pair) });
    if (!opts.keepGoing) stop = true;
  };

  while (!stop) {
    let progressed = false;
    for (;;) {
      const l = leader.threadAt(k0);
      const f = follower.threadAt(k0);
      if (l === undefined || f === undefined || (l === null && f === null)) break;
      newPair(k0++, l, f);
      progressed = true;
      if (stop) break;
    }
    for (const a of active) {
      if (stop) break;
      const fid = a.pair.follower!.id;
      while (!a.run.stopped) {
        const e = follower.eventOf(fid, a.next);
        if (e === undefined) break;
        progressed = true;
        if (e === null) {
          a.run.finish();
          break;
        }
        a.next++;
        follower.release(fid, a.next);
        a.run.step(e);
      }
      if (a.run.stopped) {
        for (const f of a.run.findings) findings.push({ k: a.pair.index, f, pair: a.pair });
        if (!opts.keepGoing && a.run.findings.some((f) => f.kind !== 'expected-divergence')) stop = true;
      }
    }
    active = active.filter((a) => !a.run.stopped);
    const held = leader.held() + follower.held();
    if (held > peakHeld) peakHeld = held;
    if (stop || progressed) continue;
    const wantLeader = leader.threadAt(k0) === undefined && follower.threadAt(k0) !== undefined;
    if (wantLeader && !leader.eof) leader.pull();
    else if (!follower.eof) follower.pull();
    else if (!leader.eof) leader.pull();
    else break;
  }

  const complete = !stop;
  const named = Math.max(leader.threadCount, follower.threadCount) > 1;
  findings.sort((a, b) => a.k - b.k);
  const total: StreamVerifyResult = { findings: [], followerCalls: 0, leaderEvents: 0, threadPairs: runs.length, rulesUsed: [], peakHeld, complete };
  const used = new Set<number>();
  for (const a of runs) {
    // Counting a thread's leader events reads its file to the end: only when verify went there.
    const r = a.run.result(!complete);
    total.followerCalls += r.followerCalls;
    total.leaderEvents += complete ? r.leaderEvents : 0;
    for (const id of r.rulesUsed) used.add(id);
  }
  for (const { f, pair } of findings) total.findings.push(named && pair ? { ...f, pair } : f);
  total.rulesUsed = [...used].sort((a, b) => a - b);
  return total;
}

/** Warnings about what each stream's trace leaves out (reportTraceShape), once read. */
export function reportStreamShape(s: TraceStream, diags: DiagnosticBag): void {
  const end = s.endInfo();
  // A stream stopped early has not seen the end: only the cuts it has seen are reported.
  if (!s.eof) reportTraceShape(s.path, { ...end, exited: true }, s.format, diags);
  else reportTraceShape(s.path, end, s.format, diags);
}

/**
 * The lines of a trace file that diagnostics point at, as a text for the renderer: the same line
 * numbers and columns, the other lines left empty, so that a code frame is shown without holding
 * the file. Returns the text and the diagnostics with their spans moved into it.
 */
export function excerptSource(path: string, display: string, diags: readonly Diagnostic[]): { text: string; diags: Diagnostic[] } {
  const wanted: Span[] = [];
  for (const d of diags) {
    if (d.file === display) wanted.push(d.span);
    for (const r of d.related) if (r.file === display) wanted.push(r.span);
  }
  if (wanted.length === 0) return { text: '', diags: [...diags] };
  const starts = [...new Set(wanted.map((s) => s.offset))].sort((a, b) => a - b);
  const ends = new Map<number, number>(wanted.map((s) => [s.offset, s.offset + s.length]));
  const parts: string[] = [];
  const moved = new Map<number, number>(); // file offset -> text offset (line starts)
  let textLen = 0;
  let prevLine = 0;
  let si = 0;
  let keepUntil = -1;
  let file: LineFile;
  try {
    file = new LineFile(path);
  } catch {
    return { text: '', diags: [...diags] }; // reported already (MVR9001/9009)
  }
  try {
    const visit = (line: string, offset: number, lineNo: number): void => {
      while (si < starts.length && starts[si]! < offset) si++; // a span inside a line: not expected
      const starts_here = si < starts.length && starts[si]! >= offset && starts[si]! <= offset + line.length;
      if (starts_here) keepUntil = Math.max(keepUntil, ends.get(starts[si]!) ?? offset);
      if (starts_here || offset <= keepUntil) {
        const gap = '\n'.repeat(lineNo - 1 - prevLine);
        parts.push(gap);
        textLen += gap.length;
        moved.set(offset, textLen);
        parts.push(line, '\n');
        textLen += line.length + 1;
        prevLine = lineNo;
      }
      while (si < starts.length && starts[si]! <= offset + line.length) si++;
    };
    while (si < starts.length && file.read(visit));
  } catch {
    return { text: '', diags: [...diags] }; // not a readable file: reported already
  } finally {
    file.close();
  }
  const lineStarts = [...moved.keys()].sort((a, b) => a - b);
  const move = (s: Span): Span => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (lineStarts[mid]! <= s.offset) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0) return span(0, 0);
    const base = lineStarts[best]!;
    return span(moved.get(base)! + (s.offset - base), s.length);
  };
  const out = diags.map((d) => ({
    ...d,
    ...(d.file === display ? { span: move(d.span) } : {}),
    related: d.related.map((r) => (r.file === display ? { ...r, span: move(r.span) } : r)),
  }));
  return { text: parts.join(''), diags: out };
}
