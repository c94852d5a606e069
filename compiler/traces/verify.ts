// mvrc verify: does a rule file reconcile two recorded runs? The threads and child processes of
// the two runs are paired by creation order, as the runtime pairs them (one ring per pair), and
// the reference interpreter (compiler/semantics/interpreter.ts, docs/semantics.md) is run over each pair:
// the follower thread's calls against the leader thread's events, exactly as the compiled module
// would be at run time, with one matcher state per pair; its verdicts become findings, and
// findings become diagnostics that point into the trace files (docs/traces.md, "mvrc verify").
import { buildAutomaton } from '../lower/automaton.ts';
import { describeDifference, formatCall, showBytesPair } from '../syscalls/decode.ts';
import { Diag } from '../core/diagnostic-messages.ts';
import type { Diagnostic, RelatedLocation } from '../core/diagnostics.ts';
import { DiagnosticBag } from '../core/diagnostics.ts';
import { bufEq, Interpreter, Reasons, RULE_DEFAULT, UnsupportedBlockError, type FollowerCall, type LeaderView, type StepResult } from '../semantics/interpreter.ts';
import type { IrRule } from '../lower/ir.ts';
import type { Program } from '../check/program-types.ts';
import { span, type Span } from '../core/span.ts';
import { syscallByNr } from '../syscalls/lookup.ts';
import { isGathered, paramsOf } from '../syscalls/meaning.ts';
import { ImageStart } from './startup.ts';
import { threadEvents, threadName, traceThreads, type Trace, type TraceEvent, type TraceThread } from './trace.ts';

export interface VerifyFinding {
  /**
   * divergence: no rule reconciles a follower call (or the follower exited inside a rule);
   * leftover: leader events remain that the follower never made;
   * c-block: a rule needs a C guard or callback, which verify cannot evaluate;
   * expected-divergence: a `diverge` rule applies (the follower would be retired cleanly);
   * stale-follower: a rule gives the follower other data than its trace shows it received, so
   *   the rest of the follower trace reacts to other input and cannot be checked;
   * unpaired-thread: one trace has a thread or process (by creation order) the other has not.
   */
  kind: 'divergence' | 'leftover' | 'c-block' | 'expected-divergence' | 'stale-follower' | 'unpaired-thread';
  /** The thread pair the finding is about; set when the traces have more than one thread. */
  pair?: ThreadPair;
  follower?: TraceEvent;
  leader?: TraceEvent;
  /** The rule's id (priority order), -1 for the default match or no rule. */
  rule: number;
  message: string;
  /** leftover: how many leader events remain. */
  count?: number;
  /** The rule's location and text, when a rule is involved. */
  ruleAt?: { file: string; line: number; column: number; text: string; span: Span };
}

export interface VerifyResult {
  findings: VerifyFinding[];
  /** Follower calls decided (the divergent one included), over all thread pairs. */
  followerCalls: number;
  /** Leader events that the runtime would record (matchedEvents), over all thread pairs. */
  leaderEvents: number;
  /** Thread pairs compared (threads present in both traces). */
  threadPairs: number;
  /** Ids of the rules that decided a step (sorted; -1 = the default match). */
  rulesUsed: number[];
}

/**
 * Whether the runtime records this call in the leader and matches it in the follower (the model's
 * `rec`/`own` policy, compiler/syscalls/x86_64.tsv): calls with a local effect (memory, signal
 * masks, futex...) are executed by each version unmatched, except the ones that create descriptors,
 * wait4/waitid and exit (the agent's policy, runtime-c/agent/agent.h). An unknown call is recorded.
 */
export function runtimeMatches(nr: number): boolean {
  return syscallByNr(nr)?.recorded ?? true;
}

/** The calls that replace the program's image (execve, execveat): they return only on failure. */
function replacesImage(e: TraceEvent): boolean {
  return syscallByNr(e.nr)?.noReturn === 'success';
}

/**
 * A thread's calls as the runtime would see them (by default the main thread's: the first of
 * traceThreads): without the calls it does not match (runtimeMatches); in strace output, without
 * the main thread's own execve(s) at the start (the runtime starts inside the new image), without
 * the new image's start-up the agent does not record (startup.ts: the dynamic loader's calls...)
 * and without what follows a later execve that succeeded (the new image runs unrecorded);
 * renumbered from 0.
 * mvrc record's traces have none of these.
 */
export function matchedEvents(trace: Trace, thread: number | undefined = traceThreads(trace)[0]?.id): TraceEvent[] {
  if (thread === undefined) return [];
  const all = threadEvents(trace, thread);
  const isMain = thread === traceThreads(trace)[0]?.id;
  let start = 0;
  if (trace.format === 'strace' && isMain) while (all[start] && replacesImage(all[start]!)) start++; // failed attempts too
  let end = all.length;
  if (trace.format === 'strace') {
    const exec = all.findIndex((e, i) => i >= start && replacesImage(e) && (e.noRet || e.ret === 0n));
    if (exec >= 0) end = exec + 1;
  }
  // The image's start-up before the agent records (the loader, a sanitizer's initialisation,
  // malloc's seed: startup.ts) is not compared: the runtime never sees it.
  const startup = start > 0 ? new ImageStart() : undefined;
  return all
    .slice(start, end)
    .filter((e) => runtimeMatches(e.nr) && !startup?.skip(e))
    .map((e, i) => (e.index === BigInt(i) ? e : { ...e, index: BigInt(i) }));
}

/** Thread k of the leader and thread k of the follower (creation order); null where one has none. */
export interface ThreadPair {
  index: number;
  leader: TraceThread | null;
  follower: TraceThread | null;
}

/** The two traces' threads paired by creation order (traceThreads), as the runtime pairs them. */
export function threadPairs(leader: Trace, follower: Trace): ThreadPair[] {
  const l = traceThreads(leader);
  const f = traceThreads(follower);
  return Array.from({ length: Math.max(l.length, f.length) }, (_, index) => ({ index, leader: l[index] ?? null, follower: f[index] ?? null }));
}

/** `thread 1`, or `thread 1 (leader pid 4242, follower pid 5151)` for strace traces. */
export function pairName(p: ThreadPair, leader: Trace, follower: Trace): string {
  const pid = (t: Trace, th: TraceThread | null, who: string): string | undefined => (t.format === 'strace' && th ? `${who} pid ${th.id}` : undefined);
  const pids = [pid(leader, p.leader, 'leader'), pid(follower, p.follower, 'follower')].filter((x) => x !== undefined);
  return `thread ${p.index}${pids.length ? ` (${pids.join(', ')})` : ''}`;
}

/** Capacities above this are treated as this (a trace may hold any size argument). */
const MAX_CAP = 1 << 30;

/** The leader's main-thread events as the interpreter reads them; eof after the last. */
export class TraceLeaderView implements LeaderView {
  constructor(private readonly events: readonly TraceEvent[]) {}
  get(index: bigint): { event: TraceEvent | null; eof: boolean } {
    if (index < 0n || index >= BigInt(this.events.length)) return { event: null, eof: true };
    return { event: this.events[Number(index)]!, eof: false };
  }
}

/**
 * A follower call as the runtime would present it: arguments, input bytes for the parameters the
 * call's command makes inputs, and for outputs the capacity the follower offers (the size argument
 * when the model names one, times the element size for arrays; the capacity its trace shows for
 * iovecs and msghdr parts; else the structure's fixed size; else the recorded length).
 */
export function followerCallOf(e: TraceEvent): FollowerCall {
  const sc = syscallByNr(e.nr);
  const ps = paramsOf(sc, e.args);
  const bufs: (Uint8Array | null)[] = [null, null, null, null, null, null];
  const caps = [0, 0, 0, 0, 0, 0];
  for (let j = 0; j < 6; j++) {
    const p = ps[j];
    if (!p) continue;
    if (p.kind === 'in_bytes' || p.kind === 'path' || p.kind === 'in_struct') bufs[j] = e.bufs[j] ?? null;
    else if (p.kind === 'out_bytes' || p.kind === 'out_struct') {
      let cap = Math.max(e.bufs[j]?.length ?? 0, e.caps?.[j] ?? 0);
      const lp = p.lenParam !== undefined && !isGathered(p) ? sc!.params[p.lenParam] : undefined;
      if (lp?.kind === 'size') {
        const n = e.args[p.lenParam!] ?? 0n;
        const elems = n < 0n ? 0n : n;
        const bytes = elems * BigInt(p.fixedSize ?? 1);
        cap = Math.max(cap, Number(bytes > BigInt(MAX_CAP) ? BigInt(MAX_CAP) : bytes));
      } else if (p.fixedSize !== undefined && p.lenParam === undefined) cap = Math.max(cap, p.fixedSize);
      caps[j] = Math.min(cap, MAX_CAP);
    }
  }
  return { nr: e.nr, args: [...e.args], bufs, caps };
}

/** strace-style text of a recorded event (its own result, or `?` when it did not return). */
export function renderEvent(e: TraceEvent): string {
  return formatCall(e.nr, e.args, e.bufs.map((b) => b ?? undefined), e.noRet ? undefined : e.ret);
}

export function ruleAt(r: IrRule): VerifyFinding['ruleAt'] {
  return { file: r.file, line: r.line, column: r.column, text: r.text, span: r.source.ast.span };
}

export function ruleName(r: IrRule): string {
  return `${r.name ? `@${r.name} ` : ''}(${r.file}:${r.line})`;
}

/**
 * The results a step gives the follower, where a rule changed them: output bytes written by a
 * string literal or a callback, an emulated call's result. When they differ from what the
 * follower's trace shows it received, returns a description; otherwise null.
 */
function staleResult(res: StepResult, leaderEv: TraceEvent | undefined, f: TraceEvent): string | null {
  if (res.rule === RULE_DEFAULT) return null;
  if (res.followerAction !== 'match' && res.followerAction !== 'emulate') return null;
  const ps = paramsOf(syscallByNr(f.nr), f.args);
  for (let j = 0; j < 6; j++) {
    const given = res.out[j];
    if (!given || ps[j]?.kind !== 'out_bytes') continue;
    const fromLeader = res.followerAction === 'match' && leaderEv ? leaderEv.bufs[j] : undefined;
    const rewritten = res.followerAction === 'emulate' || !bufEq(given, fromLeader && fromLeader.length > given.length ? fromLeader.subarray(0, given.length) : fromLeader);
    if (!rewritten) continue;
    const got = f.bufs[j];
    if (got && !bufEq(given, got)) {
      const [g, r, where] = showBytesPair(given, got);
      return `the rules give the follower ${g} but its trace shows it received ${r}${where}`;
    }
  }
  const rewrittenRet = res.followerAction === 'emulate' || (leaderEv !== undefined && res.ret !== leaderEv.ret);
  if (rewrittenRet && !f.noRet && res.ret !== f.ret) return `the rules give the follower the result ${res.ret} but its trace shows ${f.ret}`;
  return null;
}

/**
 * Runs the rules over each pair of threads (traceThreads: creation order, as the runtime pairs
 * them): the follower thread's calls against the leader thread's events, both as the runtime would
 * see them (matchedEvents), with one interpreter (one matcher state) per pair, as the runtime has
 * one per ring. In each pair, stops at the first divergence (later calls would only repeat it);
 * when every call was decided, checks that no leader event is left over (the interpreter's
 * `finish`). A thread that only one trace has is a finding ('unpaired-thread') at its first line.
 * When the traces have more than one thread, every finding names its pair (`pair`).
 * `program` must have been loaded without errors (loadProgram).
 */
export function verifyTraces(program: Program, leader: Trace, follower: Trace): VerifyResult {
  const automaton = buildAutomaton(program);
  const pairs = threadPairs(leader, follower);
  const named = pairs.length > 1;
  const total: VerifyResult = { findings: [], followerCalls: 0, leaderEvents: 0, threadPairs: 0, rulesUsed: [] };
  const used = new Set<number>();
  for (const p of pairs) {
    if (p.leader && p.follower) {
      const r = verifyPair(automaton, matchedEvents(leader, p.leader.id), matchedEvents(follower, p.follower.id));
      total.threadPairs++;
      total.followerCalls += r.followerCalls;
      total.leaderEvents += r.leaderEvents;
      for (const id of r.rulesUsed) used.add(id);
      for (const f of r.findings) total.findings.push(named ? { ...f, pair: p } : f);
      continue;
    }
    // A thread on one side only: the other version never created its counterpart.
    const side = p.follower ? 'follower' : 'leader';
    const [t, th] = p.follower ? [follower, p.follower] : [leader, p.leader!];
    const first = threadEvents(t, th.id)[0] ?? th.creator;
    total.findings.push({
      kind: 'unpaired-thread',
      ...(first ? { [side]: first } : {}),
      rule: RULE_DEFAULT,
      message: `the ${side} started ${threadName(t, p.index, th.id)}, which the ${side === 'follower' ? 'leader' : 'follower'} did not`,
      pair: p,
    });
  }
  total.rulesUsed = [...used].sort((a, b) => a - b);
  return total;
}

/** One thread pair: the follower thread's calls against the leader thread's events. */
function verifyPair(automaton: ReturnType<typeof buildAutomaton>, lev: TraceEvent[], fev: TraceEvent[]): VerifyResult {
  const run = new PairRun(automaton, new TraceLeaderView(lev), () => lev.length);
  for (const f of fev) if (!run.step(f)) return run.result();
  run.finish();
  return run.result();
}

/** The leader thread's events as a pair run reads them; `release` lets a stream forget the ones
 *  below an index (the interpreter never looks below its low-water mark again). */
export interface PairLeaderView extends LeaderView {
  get(index: bigint): { event: TraceEvent | null; eof: boolean };
  release?(below: bigint): void;
}

/**
 * The verification of one thread pair, a follower call at a time, so that a stream can feed it
 * (compiler/traces/stream.ts) as well as an array (verifyPair): the follower's calls go to `step`
 * in order until it returns false (a finding: the pair stops there, later calls would only repeat
 * it), then `finish` checks that no leader event is left over. `leaderCount` says how many leader
 * events the thread has (asked at the end, for the summary).
 */
export class PairRun {
  readonly findings: VerifyFinding[] = [];
  private readonly used = new Set<number>();
  private readonly interp: Interpreter;
  private n = 0;
  private last: TraceEvent | undefined;
  /** True once the pair has a finding or is finished: no more steps. */
  stopped = false;

  constructor(
    private readonly automaton: ReturnType<typeof buildAutomaton>,
    private readonly view: PairLeaderView,
    private readonly leaderCount: () => number,
  ) {
    this.interp = new Interpreter(automaton);
  }

  /** The pair's verdict; `uncounted`: leave the leader's event count at 0 (not read to its end). */
  result(uncounted = false): VerifyResult {
    return { findings: this.findings, followerCalls: this.n, leaderEvents: uncounted ? 0 : this.leaderCount(), threadPairs: 1, rulesUsed: [...this.used].sort((a, b) => a - b) };
  }

  private rule(id: number): IrRule | undefined {
    return id >= 0 ? this.automaton.rules[id] : undefined;
  }

  private leaderAt(i: bigint): TraceEvent | undefined {
    return i >= 0n ? (this.view.get(i).event ?? undefined) : undefined;
  }

  private cBlock(e: unknown, f: TraceEvent | undefined, at: bigint): boolean {
    if (!(e instanceof UnsupportedBlockError)) return false;
    const r = e.rule;
    const l = this.leaderAt(at);
    this.findings.push({
      kind: 'c-block',
      ...(f ? { follower: f } : {}),
      ...(l ? { leader: l } : {}),
      rule: r.id,
      message: `rule ${ruleName(r)} has a C ${e.what}, which the reference interpreter cannot evaluate`,
      ruleAt: ruleAt(r),
    });
    this.stopped = true;
    return true;
  }

  /** Decides one follower call; false when the pair stopped at a finding. */
  step(f: TraceEvent): boolean {
    if (this.stopped) return false;
    const interp = this.interp;
    const at = interp.lowWater();
    this.view.release?.(at);
    this.n++;
    this.last = f;
    let res: StepResult;
    try {
      const call = followerCallOf(f);
      // a long run of leader-only events before this call: the rules that consumed them are used
      for (;;) {
        res = interp.step(this.view, call);
        if (res.status !== 'progress') break;
        for (const id of res.skippedBy ?? []) this.used.add(id);
      }
    } catch (e) {
      if (this.cBlock(e, f, at)) return false;
      throw e;
    }
    const r = this.rule(res.rule);
    const findings = this.findings;
    if (res.status === 'ok') {
      this.used.add(res.rule);
      for (const id of res.skippedBy ?? []) this.used.add(id);
      const given = res.followerAction === 'match' ? this.leaderAt(res.event) : undefined;
      const stale = staleResult(res, given, f);
      if (stale) {
        const l = given ?? this.leaderAt(at);
        findings.push({ kind: 'stale-follower', follower: f, ...(l ? { leader: l } : {}), rule: res.rule, message: stale, ...(r ? { ruleAt: ruleAt(r) } : {}) });
        this.stopped = true;
        return false;
      }
      return true;
    }
    const l = this.leaderAt(at);
    this.stopped = true;
    if (res.status === 'expected_diverge') {
      this.used.add(res.rule);
      findings.push({ kind: 'expected-divergence', follower: f, ...(l ? { leader: l } : {}), rule: res.rule, message: res.reason, ...(r ? { ruleAt: ruleAt(r) } : {}) });
      return false;
    }
    // 'diverge' ('need_more' cannot happen: the view knows the leader's end).
    let why: string = res.reason;
    if (res.status === 'need_more') why = 'the leader trace ends inside a rule';
    else if (res.reason === Reasons.noRule) why = l ? 'no rule reconciles the follower call with the leader event' : 'the leader trace has no more events for the follower call';
    else if (r) why = `${res.reason} ${ruleName(r)}`;
    findings.push({ kind: 'divergence', follower: f, ...(l ? { leader: l } : {}), rule: res.rule, message: why, ...(r ? { ruleAt: ruleAt(r) } : {}) });
    return false;
  }

  /** After the follower's last call: are leader events left over? */
  finish(): void {
    if (this.stopped) return;
    this.stopped = true;
    const interp = this.interp;
    const view = this.view;
    const used = this.used;
    const at = interp.lowWater();
    let fin: StepResult;
    try {
      // One call decides at most one step's worth of leader events (64): more are left for the next
      // (need_more with progress); no progress means the trace really ends inside a rule.
      for (;;) {
        const before = interp.lowWater();
        view.release?.(before < at ? before : at);
        fin = interp.finish(view);
        if (fin.status !== 'need_more' || interp.lowWater() === before) break;
        for (const id of fin.skippedBy ?? []) used.add(id);
      }
    } catch (e) {
      if (this.cBlock(e, undefined, at)) return;
      throw e;
    }
    if (fin.status === 'ok') for (const id of fin.skippedBy ?? []) used.add(id);
    if (fin.status !== 'ok') {
      const stop = interp.lowWater();
      const l = this.leaderAt(fin.status === 'diverge' && fin.reason === Reasons.leftover ? stop : at);
      const r = this.rule(fin.rule);
      const last = this.last;
      if (fin.status === 'expected_diverge') {
        used.add(fin.rule);
        this.findings.push({ kind: 'expected-divergence', ...(l ? { leader: l } : {}), rule: fin.rule, message: fin.reason, ...(r ? { ruleAt: ruleAt(r) } : {}) });
      } else if (fin.reason === Reasons.leftover) {
        this.findings.push({ kind: 'leftover', ...(l ? { leader: l } : {}), ...(last ? { follower: last } : {}), rule: RULE_DEFAULT, message: fin.reason, count: this.leaderCount() - Number(stop) });
      } else {
        this.findings.push({ kind: 'divergence', ...(l ? { leader: l } : {}), ...(last ? { follower: last } : {}), rule: fin.rule, message: r ? `${fin.reason} ${ruleName(r)}` : fin.reason, ...(r ? { ruleAt: ruleAt(r) } : {}) });
      }
    }
  }
}

/**
 * Findings as diagnostics: the span is the follower trace's line (the leader trace's line when
 * there is no follower call), with the leader trace's line and the rule as related locations, and
 * both calls rendered strace-style in the message.
 */
export function findingDiagnostics(findings: readonly VerifyFinding[], leader: Trace, follower: Trace): Diagnostic[] {
  const bag = new DiagnosticBag();
  for (const f of findings) {
    const related: RelatedLocation[] = [];
    const leaderText = f.leader ? renderEvent(f.leader) : undefined;
    const followerText = f.follower ? renderEvent(f.follower) : undefined;
    // With several threads, each call says which thread it is (the pair: same creation order).
    const of = (t: Trace, th: TraceThread | null | undefined): string => (f.pair && th ? ` of ${threadName(t, f.pair.index, th.id)}` : '');
    const lof = of(leader, f.pair?.leader);
    const fof = of(follower, f.pair?.follower);
    if (f.kind === 'unpaired-thread') {
      const [file, at] = f.follower ? [follower.file.path, f.follower.span] : f.leader ? [leader.file.path, f.leader.span] : [f.pair?.follower ? follower.file.path : leader.file.path, span(0, 0)];
      const firstText = f.follower ? `; its first call: ${followerText}` : f.leader ? `; its first event: ${leaderText}` : '';
      bag.add(Diag.VerifyUnpairedThread, file, at, [`${f.message}${firstText}`]);
      continue;
    }
    if (f.leader) related.push({ file: leader.file.path, span: f.leader.span, message: `leader event ${f.leader.index}${lof}: ${leaderText}` });
    if (f.ruleAt) related.push({ file: f.ruleAt.file, span: f.ruleAt.span, message: `rule ${f.rule}: ${f.ruleAt.text}` });
    // Where the diagnostic points: the follower's line, else the leader's, else the follower file.
    const [file, at] = f.follower ? [follower.file.path, f.follower.span] : f.leader ? [leader.file.path, f.leader.span] : [follower.file.path, span(0, 0)];
    const fcall = f.follower ? `follower call ${f.follower.index}${fof}: ${followerText}` : '';
    const lcall = f.leader ? `leader event ${f.leader.index}${lof}: ${leaderText}` : `no leader event left${lof}`;
    switch (f.kind) {
      case 'divergence': {
        // The same syscall, meaning something else: say where (the argument; the first byte that
        // differs, with the bytes around it), since the two calls may render alike.
        const diff = f.follower && f.leader ? describeDifference(f.leader.nr, f.leader, f.follower, f.follower.nr) : undefined;
        bag.add(Diag.VerifyDivergence, file, at, [`${f.message}: ${fcall}${fcall ? ' vs ' : ''}${lcall}${diff ? `; they differ in ${diff}` : ''}`], { related });
        break;
      }
      case 'leftover':
        bag.add(Diag.VerifyLeftover, f.leader ? leader.file.path : file, f.leader ? f.leader.span : at, [f.count ?? 1, lcall], {
          related: f.follower ? [{ file: follower.file.path, span: f.follower.span, message: `the follower's last call${fof}: ${followerText}` }] : [],
        });
        break;
      case 'c-block':
        bag.add(Diag.VerifyCBlock, file, at, [`${f.rule}${f.ruleAt ? ` (${f.ruleAt.file}:${f.ruleAt.line}:${f.ruleAt.column})` : ''}`, /C (guard|callback)/.exec(f.message)?.[1] ?? 'block', fcall || lcall], { related });
        break;
      case 'expected-divergence':
        bag.add(Diag.VerifyExpectedDivergence, file, at, [`${f.message}${fcall ? ` at ${fcall}` : ''}`], { related });
        break;
      case 'stale-follower':
        bag.add(Diag.VerifyStaleFollower, file, at, [`${f.message} (${fcall})`], { related });
        break;
      default:
        break;
    }
  }
  return bag.items;
}
