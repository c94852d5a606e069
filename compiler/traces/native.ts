// The native `mvrc verify`: the traces are read as verifyStreams reads them (stream.ts: the same
// readers, matched events, creation order and thread pairs), and each pair's events are streamed
// in a compact binary form to a program that runs the compiled rule module — the one `mvrc build`
// makes, with the runtime's matcher — over them (runtime-c/verify/mvr_verify.c, built by
// codegen-c/verify-build.ts). C blocks run as they would at run time. The program prints the
// findings by event index; the events they name are read again from the files (a second pass that
// stops at the last one) and the findings are made exactly as PairRun makes them (verify.ts), so
// diagnostics, spans and exit codes are the interpreter's (the last events sent of each thread are
// kept, so a finding among them needs no second read). The interpreter stays the reference: a
// differential test runs both on the same traces.
import { spawn } from 'node:child_process';
import { buildAutomaton } from '../lower/automaton.ts';
import { Reasons, RULE_DEFAULT } from '../semantics/interpreter.ts';
import type { Program } from '../check/program-types.ts';
import { showBytesPair } from '../syscalls/decode.ts';
import { syscallByNr } from '../syscalls/lookup.ts';
import { paramsOf } from '../syscalls/meaning.ts';
import { unpairedThreadFinding, type TraceStream, type StreamVerifyOptions, type StreamVerifyResult } from './stream.ts';
import type { TraceEvent, TraceThread } from './trace.ts';
import { followerCallOf, ruleAt, ruleName, type ThreadPair, type VerifyFinding } from './verify.ts';

/** Bytes buffered before they are written to the program. */
const FLUSH_AT = 1 << 18;

/** A growable buffer of little-endian records, written through a DataView: Buffer's
 *  writeUInt32LE/writeBigInt64LE check and split each value in JavaScript (a fifth of the
 *  serialising); setBigInt64 wraps to 64 bits as BigInt.asIntN does. */
class Records {
  buf = Buffer.allocUnsafe(1 << 20);
  view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  n = 0;
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + k));
    this.buf.copy(b, 0, 0, this.n);
    this.buf = b;
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  head(type: string, pair: number, more: number): void {
    this.room(5 + more);
    this.buf[this.n] = type.charCodeAt(0);
    this.view.setUint32(this.n + 1, pair, true);
    this.n += 5;
  }
  u8(v: number): void {
    this.buf[this.n++] = v;
  }
  u32(v: number): void {
    this.view.setUint32(this.n, v >>> 0, true);
    this.n += 4;
  }
  i64(v: bigint): void {
    this.view.setBigInt64(this.n, v, true);
    this.n += 8;
  }
  bytes(b: Uint8Array): void {
    this.room(4 + b.length);
    this.u32(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.n));
    this.n = 0;
    return out;
  }
}

function leaderRecord(w: Records, k: number, e: TraceEvent): void {
  let mask = 0;
  for (let j = 0; j < 6; j++) if (e.bufs[j]) mask |= 1 << j;
  w.head('L', k, 4 + 1 + 56);
  w.u32(e.nr);
  w.u8(mask);
  for (let j = 0; j < 6; j++) w.i64(e.args[j] ?? 0n);
  w.i64(e.ret);
  for (let j = 0; j < 6; j++) if (mask & (1 << j)) w.bytes(e.bufs[j]!);
}

function followerRecord(w: Records, k: number, e: TraceEvent): void {
  const call = followerCallOf(e);
  const ps = paramsOf(syscallByNr(e.nr), e.args);
  let inMask = 0;
  let outMask = 0;
  let gotMask = 0;
  for (let j = 0; j < 6; j++) {
    if (call.bufs[j]) inMask |= 1 << j;
    if (ps[j]?.kind === 'out_bytes') {
      outMask |= 1 << j;
      if (e.bufs[j]) gotMask |= 1 << j;
    }
  }
  w.head('F', k, 4 + 4 + 56 + 24);
  w.u32(call.nr);
  w.u8(inMask);
  w.u8(outMask);
  w.u8(gotMask);
  w.u8(e.noRet ? 1 : 0);
  for (let j = 0; j < 6; j++) w.i64(call.args[j] ?? 0n);
  w.i64(e.ret);
  for (let j = 0; j < 6; j++) w.u32(call.caps[j] ?? 0);
  for (let j = 0; j < 6; j++) if (inMask & (1 << j)) w.bytes(call.bufs[j]!);
  for (let j = 0; j < 6; j++) if (gotMask & (1 << j)) w.bytes(e.bufs[j]!);
}

/** Events kept per thread after they are sent, so that a finding near them needs no second read. */
const WINDOW = 512;

/** The last WINDOW events sent of one thread, by index. */
class Window {
  private events: TraceEvent[] = [];
  private head = 0;
  private base = 0; // the index of events[head]
  push(e: TraceEvent): void {
    this.events.push(e);
    if (this.events.length - this.head > WINDOW) {
      this.head++;
      this.base++;
      if (this.head >= WINDOW) {
        this.events = this.events.slice(this.head);
        this.head = 0;
      }
    }
  }
  get(i: number): TraceEvent | undefined {
    const j = i - this.base;
    return j >= 0 && this.head + j < this.events.length ? this.events[this.head + j] : undefined;
  }
}

/** A finding as the program prints it, by event index. */
interface RawFinding {
  pair: number;
  kind: 'div' | 'exp' | 'sbytes' | 'sret' | 'fdiv' | 'fexp' | 'left';
  fidx: number;
  lidx: number;
  rule: number;
  extra: bigint;
  hex: Buffer;
}

interface ProgramOutput {
  findings: RawFinding[];
  calls: Map<number, number>;
  used: Map<number, number[]>;
  stopped: boolean;
}

function parseOutput(text: string): ProgramOutput {
  const out: ProgramOutput = { findings: [], calls: new Map(), used: new Map(), stopped: false };
  let ended = false;
  for (const line of text.split('\n')) {
    const t = line.split(' ');
    if (t[0] === 'D') {
      out.findings.push({
        pair: Number(t[1]),
        kind: t[2] as RawFinding['kind'],
        fidx: Number(t[3]),
        lidx: Number(t[4]),
        rule: Number(t[5]),
        extra: BigInt(t[6]!),
        hex: t[7] === '-' ? Buffer.alloc(0) : Buffer.from(t[7]!, 'hex'),
      });
    } else if (t[0] === 'S') {
      out.calls.set(Number(t[1]), Number(t[2]));
      out.used.set(Number(t[1]), t[3] === '-' ? [] : t[3]!.split(',').map(Number));
    } else if (t[0] === 'END') {
      ended = true;
      out.stopped = t[1] === 'stopped';
    }
  }
  if (!ended) throw new Error(`the native verifier ended without its summary:\n${text.slice(-2000)}`);
  return out;
}

export interface NativeVerifyOptions extends StreamVerifyOptions {
  /** The program built by codegen-c/verify-build.ts for these rules. */
  exe: string;
  /** Opens a trace again (for the events the findings name); undefined if it cannot. */
  reopen: (side: 'leader' | 'follower') => TraceStream | undefined;
}

/**
 * mvrc verify over two trace streams with the compiled rules: the findings and counts of
 * verifyStreams (the reference interpreter) on the same traces.
 */
export async function verifyStreamsNative(program: Program, leader: TraceStream, follower: TraceStream, opts: NativeVerifyOptions): Promise<StreamVerifyResult> {
  const child = spawn(opts.exe, opts.keepGoing ? ['--keep-going'] : [], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let programStopped = false;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    stdout += d;
    if (!opts.keepGoing && /^END /m.test(stdout)) programStopped = true;
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => void (stderr += d));
  child.stdin.on('error', () => {}); // EPIPE once the program stopped at a finding
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let startError: Error | undefined;
  child.on('error', (e) => void (startError = e));

  const w = new Records();
  const flush = async (): Promise<void> => {
    if (w.n === 0 || programStopped || child.stdin.destroyed) return;
    const ok = child.stdin.write(w.take());
    if (!ok)
      await new Promise<void>((r) => {
        const done = (): void => {
          child.stdin.off('drain', done);
          child.stdin.off('close', done);
          r();
        };
        child.stdin.on('drain', done);
        child.stdin.on('close', done);
      });
    else await new Promise<void>((r) => setImmediate(r));
  };

  interface Active {
    k: number;
    pair: ThreadPair;
    native: number;
    nl: number;
    nf: number;
    lDone: boolean;
    fDone: boolean;
    lWin: Window;
    fWin: Window;
  }
  const findings: { k: number; f: VerifyFinding; pair?: ThreadPair }[] = [];
  const byNative: Active[] = [];
  let active: Active[] = [];
  let k0 = 0;
  let stop = false;
  let peakHeld = 0;

  const newPair = (k: number, l: TraceThread | null, f: TraceThread | null): void => {
    const pair: ThreadPair = { index: k, leader: l, follower: f };
    if (l && f) {
      const a: Active = { k, pair, native: byNative.length, nl: 0, nf: 0, lDone: false, fDone: false, lWin: new Window(), fWin: new Window() };
      w.head('P', a.native, 0);
      byNative.push(a);
      active.push(a);
      return;
    }
    // A thread on one side only, as verifyStreams reports it.
    findings.push({ k, f: unpairedThreadFinding(leader, follower, pair) });
    if (!opts.keepGoing) stop = true;
  };

  try {
    while (!stop && !programStopped && !startError) {
      let progressed = false;
      for (;;) {
        const l = leader.threadAt(k0);
        const f = follower.threadAt(k0);
        if (l === undefined || f === undefined || (l === null && f === null)) break;
        newPair(k0++, l, f);
        progressed = true;
        if (stop) break;
      }
      if (stop) break;
      for (const a of active) {
        const lid = a.pair.leader!.id;
        const fid = a.pair.follower!.id;
        while (!a.lDone) {
          const e = leader.eventOf(lid, a.nl);
          if (e === undefined) break;
          progressed = true;
          if (e === null) {
            w.head('E', a.native, 0);
            a.lDone = true;
            break;
          }
          leaderRecord(w, a.native, e);
        a.lWin.push(e);
          leader.release(lid, ++a.nl);
        }
        while (!a.fDone) {
          const e = follower.eventOf(fid, a.nf);
          if (e === undefined) break;
          progressed = true;
          if (e === null) {
            w.head('X', a.native, 0);
            a.fDone = true;
            break;
          }
          followerRecord(w, a.native, e);
        a.fWin.push(e);
          follower.release(fid, ++a.nf);
        }
      }
      active = active.filter((a) => !(a.lDone && a.fDone));
      const held = leader.held() + follower.held();
      if (held > peakHeld) peakHeld = held;
      if (w.n >= FLUSH_AT || !progressed) await flush();
      if (progressed) continue;
      // Both files are read in step (by bytes), so that neither side's events pile up in the program.
      const wantLeader = leader.threadAt(k0) === undefined && follower.threadAt(k0) !== undefined;
      const wantFollower = follower.threadAt(k0) === undefined && leader.threadAt(k0) !== undefined;
      if (wantLeader && !leader.eof) leader.pull();
      else if (wantFollower && !follower.eof) follower.pull();
      else if (!leader.eof && (follower.eof || leader.bytesRead <= follower.bytesRead)) leader.pull();
      else if (!follower.eof) follower.pull();
      else break;
    }
    if (!programStopped && !startError && !child.stdin.destroyed) {
      w.head('Q', 0, 0);
      await flush();
    }
    child.stdin.end();
  } finally {
    // an exception on the way: never leave the program behind
    if (child.exitCode === null && child.signalCode === null && !child.stdin.writableEnded) child.kill();
  }
  const code = await exited;
  if (startError) throw startError;
  if (code !== 0) throw new Error(`the native verifier failed (exit status ${code}): ${stderr.trim()}`);
  const out = parseOutput(stdout);
  const automaton = buildAutomaton(program);
  const complete = !stop && !out.stopped;

  // The events the findings name, read again.
  const wants = { leader: new Map<number, Set<number>>(), follower: new Map<number, Set<number>>() };
  const want = (side: 'leader' | 'follower', k: number, i: number): void => {
    if (i < 0) return;
    let s = wants[side].get(k);
    if (!s) wants[side].set(k, (s = new Set()));
    s.add(i);
  };
  const sent = (side: 'leader' | 'follower', a: Active, i: number): TraceEvent | undefined => (i < 0 ? undefined : (side === 'leader' ? a.lWin : a.fWin).get(i));
  for (const r of out.findings) {
    const a = byNative[r.pair]!;
    if (!sent('leader', a, r.lidx)) want('leader', a.k, r.lidx);
    if (!sent('follower', a, r.fidx)) want('follower', a.k, r.fidx);
  }
  const got = { leader: fetchEvents(wants.leader.size ? opts.reopen('leader') : undefined, wants.leader), follower: fetchEvents(wants.follower.size ? opts.reopen('follower') : undefined, wants.follower) };
  const ev = (side: 'leader' | 'follower', k: number, i: number): TraceEvent | undefined => {
    if (i < 0) return undefined;
    const a = byNative.find((x) => x.k === k)!;
    return sent(side, a, i) ?? got[side].get(`${k}:${i}`);
  };

  for (const r of out.findings) {
    const a = byNative[r.pair]!;
    const k = a.k;
    const l = ev('leader', k, r.lidx);
    const f = ev('follower', k, r.fidx);
    const rule = r.rule >= 0 ? automaton.rules[r.rule] : undefined;
    const reason = r.hex.toString('utf8');
    const withRule = rule ? { ruleAt: ruleAt(rule) } : {};
    let finding: VerifyFinding;
    switch (r.kind) {
      case 'div': {
        let why = reason;
        if (reason === Reasons.noRule) why = l ? 'no rule reconciles the follower call with the leader event' : 'the leader trace has no more events for the follower call';
        else if (rule) why = `${reason} ${ruleName(rule)}`;
        finding = { kind: 'divergence', ...(f ? { follower: f } : {}), ...(l ? { leader: l } : {}), rule: r.rule, message: why, ...withRule };
        break;
      }
      case 'exp':
        finding = { kind: 'expected-divergence', ...(f ? { follower: f } : {}), ...(l ? { leader: l } : {}), rule: r.rule, message: reason, ...withRule };
        break;
      case 'sbytes': {
        const [g, rc, where] = showBytesPair(new Uint8Array(r.hex), f?.bufs[Number(r.extra)] ?? new Uint8Array(0));
        finding = { kind: 'stale-follower', ...(f ? { follower: f } : {}), ...(l ? { leader: l } : {}), rule: r.rule, message: `the rules give the follower ${g} but its trace shows it received ${rc}${where}`, ...withRule };
        break;
      }
      case 'sret':
        finding = { kind: 'stale-follower', ...(f ? { follower: f } : {}), ...(l ? { leader: l } : {}), rule: r.rule, message: `the rules give the follower the result ${r.extra} but its trace shows ${f?.ret}`, ...withRule };
        break;
      case 'fexp':
        finding = { kind: 'expected-divergence', ...(l ? { leader: l } : {}), rule: r.rule, message: reason, ...withRule };
        break;
      case 'left':
        finding = { kind: 'leftover', ...(l ? { leader: l } : {}), ...(f ? { follower: f } : {}), rule: RULE_DEFAULT, message: reason, count: leader.count(a.pair.leader!.id) - r.lidx };
        break;
      default:
        finding = { kind: 'divergence', ...(l ? { leader: l } : {}), ...(f ? { follower: f } : {}), rule: r.rule, message: rule ? `${reason} ${ruleName(rule)}` : reason, ...withRule };
    }
    findings.push({ k, f: finding, pair: a.pair });
  }

  const named = Math.max(leader.threadCount, follower.threadCount) > 1;
  findings.sort((x, y) => x.k - y.k);
  const total: StreamVerifyResult = { findings: [], followerCalls: 0, leaderEvents: 0, threadPairs: byNative.length, rulesUsed: [], peakHeld, complete };
  const used = new Set<number>();
  for (const a of byNative) {
    total.followerCalls += out.calls.get(a.native) ?? 0;
    if (complete) total.leaderEvents += leader.count(a.pair.leader!.id);
    for (const id of out.used.get(a.native) ?? []) used.add(id);
  }
  for (const { f, pair } of findings) total.findings.push(named && pair ? { ...f, pair } : f);
  total.rulesUsed = [...used].sort((a, b) => a - b);
  return total;
}

/**
 * Reads a trace again for the events wanted (thread pair index -> matched event indices), keeping
 * only those: the stream forgets the others as it goes, and stops after the last one.
 */
function fetchEvents(s: TraceStream | undefined, wants: Map<number, Set<number>>): Map<string, TraceEvent> {
  const found = new Map<string, TraceEvent>();
  if (!s || wants.size === 0) {
    s?.close();
    return found;
  }
  const next = new Map<number, number>();
  const last = new Map<number, number>();
  for (const [k, set] of wants) last.set(k, Math.max(...set));
  const open = new Set(wants.keys());
  try {
    for (;;) {
      for (const k of [...open]) {
        const th = s.threadAt(k);
        if (th === undefined) continue;
        if (th === null) {
          open.delete(k);
          continue;
        }
        let i = next.get(k) ?? 0;
        for (;;) {
          const e = s.eventOf(th.id, i);
          if (e === undefined) break;
          if (e === null || i > last.get(k)!) {
            open.delete(k);
            break;
          }
          if (wants.get(k)!.has(i)) found.set(`${k}:${i}`, e);
          s.release(th.id, ++i);
        }
        next.set(k, i);
      }
      if (open.size === 0 || s.eof) break;
      s.pull();
    }
  } finally {
    s.close();
  }
  return found;
}
