// mvrc infer: suggest mapping rules from two traces of the same workload (docs/traces.md,
// "mvrc infer"). Pure functions: the command (compiler/cli/infer.ts) reads the traces,
// checks the rules with the real checker and verifies them with compiler/traces/verify.ts.
//
// 1. The threads and child processes of the two traces are paired by creation order, as the
//    runtime pairs them (verify.ts, threadPairs); each thread is reduced to the calls the runtime
//    records and matches (without `local` calls: memory, signal masks, futex...). Steps 2-3 are
//    done per thread pair; one rule file serves every pair (the runtime runs one rule module for
//    every ring), so the rules of all pairs are merged as repeated hunks are.
// 2. The two sequences are aligned (Myers' diff, or a linear alignment past its budget) on the
//    key of the default match — the syscall and its input arguments (scalars and fds by value,
//    input bytes, paths and input structures by content; never pointers or outputs) — and the
//    roles of its descriptors (roles.ts: the file it was opened from, a socket...). Aligned
//    events are what the default match pairs.
// 3. Every stretch between aligned events (a hunk) becomes one rule: `L... => F...`,
//    `L... => nothing` (leader only) or `nothing => F...` (follower only), with literal arguments
//    for what identifies a call — never secrets, file contents, pids or timeouts (`_`, with a
//    note). Identical rules are written once; several pairs of traces give one rule set
//    (mergeInferences: literals that differ between pairs become `_`).
// 4. suggestRulesFor checks them with the real checker and verifies them against every pair
//    (compiler/traces/verify.ts), trying the forms of INFER_FORMS in turn (fds generalised or literal;
//    one-sided hunks as one rule, or one rule per call) until one verifies.
// What is guaranteed, and the limits: docs/traces.md, "mvrc infer".
import { resolve as resolvePath } from 'node:path';
import { parseSource } from '../../grammar/index.ts';
import { encodeString } from '../syntax/literals.ts';
import { Diag } from '../core/diagnostic-messages.ts';
import { DiagnosticBag } from '../core/diagnostics.ts';
import { defaultRet } from '../semantics/interpreter.ts';
import { printFile } from '../syntax/printer.ts';
import { loadProgram } from '../check/program.ts';
import type { Program } from '../check/program-types.ts';
import { LineMap } from '../core/span.ts';
import type { ParamInfo, SyscallInfo } from '../syscalls/types.ts';
import { syscallByNr } from '../syscalls/lookup.ts';
import { compareClass, isGathered, matchKey as modelMatchKey, paramsOf } from '../syscalls/meaning.ts';
import { analyzeTrace, holdsSecret, type TraceMeaning } from './roles.ts';
import { pidTagTimeLayout, pidTagTimeRule, tracePids, templateGuard, varyingTemplate } from './varying.ts';
import { traceThreads, type Trace, type TraceEvent } from './trace.ts';
import { matchedEvents, pairName, threadPairs, verifyTraces, type ThreadPair, type VerifyFinding, type VerifyResult } from './verify.ts';

/** The events the runtime records and matches, of one thread (by default the main thread's;
 *  verify.ts, matchedEvents). */
export function comparedEvents(trace: Trace, thread?: number): TraceEvent[] {
  // The calls the runtime records and matches: the same definition as mvrc verify's.
  return matchedEvents(trace, thread);
}

/** A copy of the trace holding only the compared events of every thread (what `verifyTraces`
 *  should see), in file order, with the threads' creation order fixed beforehand. */
export function comparedTrace(trace: Trace): Trace {
  const threads = traceThreads(trace);
  const events = threads.flatMap((t) => comparedEvents(trace, t.id)).sort((a, b) => a.span.offset - b.span.offset);
  return { ...trace, events, signals: [], threadOrder: threads };
}

/**
 * The key of the default match (docs/semantics.md, "The default match"): two events with equal
 * keys are paired by it (compiler/syscalls/meaning.ts decides what is compared). A syscall the table
 * does not know compares all six arguments.
 */
export function matchKey(e: TraceEvent): string {
  return modelMatchKey(e.nr, syscallByNr(e.nr), e);
}

/** Myers' diff is tried up to this many inserted + deleted events (its memory is O(D^2), its time
 *  O((N+M)D)); past it, or on long traces, alignLinear takes over: no pair is refused. */
export const MAX_DIFF_EDITS = 4000;

/**
 * The pairs (i, j) of a longest common subsequence of `a` and `b` (Myers 1986, greedy forward
 * search, keeping the frontier of every step to trace the path back), in increasing order; or
 * null when more than `maxEdits` insertions and deletions are needed.
 */
export function alignSequences(a: readonly string[], b: readonly string[], maxEdits = MAX_DIFF_EDITS): [number, number][] | null {
  // Keys as small integers: comparisons in the inner loop are then cheap.
  const ids = new Map<string, number>();
  const idOf = (k: string): number => {
    let v = ids.get(k);
    if (v === undefined) ids.set(k, (v = ids.size));
    return v;
  };
  const A = Int32Array.from(a, idOf);
  const B = Int32Array.from(b, idOf);
  const n = A.length;
  const m = B.length;
  const max = Math.min(n + m, maxEdits);
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const frontiers: Int32Array[] = [];
  let found = -1;
  outer: for (let d = 0; d <= max; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && A[x] === B[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        frontiers.push(v.slice(off - d, off + d + 1));
        found = d;
        break outer;
      }
    }
    frontiers.push(v.slice(off - d, off + d + 1));
  }
  if (found < 0) return null;
  const pairs: [number, number][] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const prev = frontiers[d - 1]!; // k in -(d-1)..(d-1) at prev[k + d - 1]
    const at = (k: number): number => prev[k + d - 1]!;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const pk = down ? k + 1 : k - 1;
    const px = at(pk);
    const py = px - pk;
    const sx = down ? px : px + 1; // where the snake of step d starts
    const sy = sx - k;
    while (x > sx && y > sy) pairs.push([--x, --y]);
    x = px;
    y = py;
  }
  while (x > 0 && y > 0) pairs.push([--x, --y]);
  return pairs.reverse();
}

/** Myers' work budget, (N+M)·D: past it the linear alignment is used. */
const MYERS_WORK = 400_000_000;

/**
 * A common subsequence of `a` and `b` found in linear memory, for traces too long or too different
 * for Myers' diff: equal keys are paired while they last; at a difference, the nearest point where
 * the two sequences agree again (fewest events skipped on both sides, looking at most `window`
 * events ahead) is the next pair. Not always the longest, but every pair is of equal keys and in
 * order, and the work is O((N+M)·window) at worst.
 */
export function alignLinear(a: readonly string[], b: readonly string[], window = 2000): [number, number][] {
  const pairs: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      pairs.push([i++, j++]);
      continue;
    }
    // The first d (events skipped on both sides together) at which a[i+p] = b[j+q], p + q = d.
    const seenA = new Map<string, number>();
    const seenB = new Map<string, number>();
    let found: [number, number] | undefined;
    for (let d = 0; d <= window && !found; d++) {
      if (i + d < a.length) {
        const k = a[i + d]!;
        if (!seenA.has(k)) seenA.set(k, i + d);
        const q = seenB.get(k);
        if (q !== undefined) found = [i + d, q];
      }
      if (!found && j + d < b.length) {
        const k = b[j + d]!;
        if (!seenB.has(k)) seenB.set(k, j + d);
        const p = seenA.get(k);
        if (p !== undefined) found = [p, j + d];
      }
    }
    if (!found) {
      // Nothing in common within the window: skip it on both sides.
      i += window;
      j += window;
      continue;
    }
    [i, j] = found;
  }
  return pairs;
}

/** The pairs of an alignment: Myers' (a longest common subsequence) when within its budget, else
 *  alignLinear's. */
export function alignAny(a: readonly string[], b: readonly string[], maxEdits = MAX_DIFF_EDITS): [number, number][] {
  const budget = Math.max(16, Math.min(maxEdits, Math.floor(MYERS_WORK / (a.length + b.length + 1))));
  return alignSequences(a, b, budget) ?? alignLinear(a, b);
}

/** A stretch of events the default match does not pair: indices into the compared events. */
export interface Hunk {
  /** Compared-event positions [start, end) in the leader and the follower sequences. */
  leaderStart: number;
  leaderEnd: number;
  followerStart: number;
  followerEnd: number;
  leader: TraceEvent[];
  follower: TraceEvent[];
  /** The thread pair (creation order, 0: the main threads) the hunk is in; 0 when not given. */
  pair?: number;
  /** The traces it is in (set by inferRules; several pairs of traces may give one rule). */
  traces?: TracePair;
}

/** Two recorded runs of one workload: the old version's (leader) and the new version's (follower). */
export interface TracePair {
  leader: Trace;
  follower: Trace;
}

/** The hunks between aligned events, in trace order (alignAny: never refused). */
export function diffHunks(
  leader: readonly TraceEvent[],
  follower: readonly TraceEvent[],
  maxEdits = MAX_DIFF_EDITS,
  keys: { leader: (e: TraceEvent) => string; follower: (e: TraceEvent) => string } = { leader: matchKey, follower: matchKey },
): Hunk[] {
  const pairs = alignAny(leader.map(keys.leader), follower.map(keys.follower), maxEdits);
  const hunks: Hunk[] = [];
  let i = 0;
  let j = 0;
  for (const [pi, pj] of [...pairs, [leader.length, follower.length] as [number, number]]) {
    if (pi > i || pj > j) {
      hunks.push({ leaderStart: i, leaderEnd: pi, followerStart: j, followerEnd: pj, leader: leader.slice(i, pi), follower: follower.slice(j, pj) });
    }
    i = pi + 1;
    j = pj + 1;
  }
  return hunks;
}

/**
 * general: file descriptors become variables (shared between calls when the hunk uses the same
 *   number more than once) or `_`, so one rule serves every connection;
 * exact: every input argument is a literal, so a rule matches only calls with the hunk's keys.
 */
export type InferMode = 'general' | 'exact';

function isWriteLike(sc: SyscallInfo): { bytes: number; len: number } | undefined {
  for (let j = 0; j < sc.arity; j++) {
    const p = sc.params[j]!;
    if (p.kind === 'in_bytes' && !isGathered(p) && p.lenParam !== undefined && sc.params[p.lenParam]?.kind === 'size') return { bytes: j, len: p.lenParam };
  }
  return undefined;
}

function intLiteral(v: bigint): string {
  return BigInt.asIntN(64, v).toString();
}

/**
 * The text of one rule for a hunk (not yet in canonical form). The right side is built as the
 * matcher will run it (docs/semantics.md, "The right side"): a follower call that is the same
 * syscall as the first left event not yet given is paired with it (MATCH: it gets that event's
 * results), any other is the follower's own (EXEC when local or read-only, else EMULATE). So that
 * the follower gets the result its own trace shows:
 *   - a paired write-like call whose byte count differs from the leader's gets `ret = n` (its own
 *     count) when both wrote all their bytes;
 *   - an emulated call gets its recorded output bytes as a string literal (read-like calls) and
 *     `ret = N` when the emulated default (the requested count, or 0) is not what it returned.
 */
export function hunkRule(h: Hunk, mode: InferMode, ctx?: RuleContext): string {
  const varying = ctx && varyingWriteRule(h, mode, ctx);
  if (varying) return varying;
  // fd numbers used more than once in the rule become variables (general mode).
  const fdUses = new Map<bigint, number>();
  if (mode === 'general') {
    for (const e of [...h.leader, ...h.follower]) {
      const sc = syscallByNr(e.nr);
      if (!sc) continue;
      for (let j = 0; j < sc.arity; j++) if (sc.params[j]!.kind === 'fd') fdUses.set(e.args[j]!, (fdUses.get(e.args[j]!) ?? 0) + 1);
    }
  }
  const fdNames = new Map<bigint, string>();
  const fdName = (v: bigint): string => {
    let name = fdNames.get(v);
    if (name === undefined) fdNames.set(v, (name = fdNames.size === 0 ? 'fd' : `fd${fdNames.size + 1}`));
    return name;
  };
  let sizeVars = 0;
  let ownTexts = 0;

  const callText = (e: TraceEvent, side: 'left' | 'right', role: 'paired' | 'own', sizeVar?: { arg: number; name: string }): string => {
    const sc = syscallByNr(e.nr)!;
    // What each argument is for this call's command: an argument the default match does not
    // compare (unused by the command, a pointer, a length that only sizes another argument) is `_`.
    const eff = paramsOf(sc, e.args);
    const args: string[] = [];
    let guard: string | undefined;
    // Length parameters implied by the content literal of their buffer.
    const implied = new Set<number>();
    for (let j = 0; j < sc.arity; j++) {
      const p = sc.params[j]!;
      const b = e.bufs[j];
      if (p.kind === 'in_bytes' && p.lenParam !== undefined && b && !e.truncated && BigInt(b.length) === e.args[p.lenParam]) implied.add(p.lenParam);
    }
    for (let j = 0; j < sc.arity; j++) {
      const p = sc.params[j]!;
      const q: ParamInfo | undefined = eff[j];
      const value = e.args[j] ?? 0n;
      let text = '_';
      const cls = compareClass(q);
      const meaning = side === 'left' ? ctx?.leader : ctx?.follower;
      // Bytes a rule must not hold: secrets the traces show (anywhere), and the contents of files
      // an emulated call gives the follower (file contents, not protocol data).
      const literal = (b: Uint8Array, output: boolean): string => {
        const file = output ? meaning?.fileData.get(e.span.offset) : undefined;
        if (file !== undefined) {
          ctx?.notes.add(/environ$/.test(file) ? `the environment read from ${file} is redacted to _ (environment contents are never copied into rules)` : `the contents of ${file} are redacted to _ (file contents read from the system are never copied into rules)`);
          return '_';
        }
        if (ctx && holdsSecret(b, ctx.secrets)) {
          ctx.notes.add('a value holding a secret the traces show (an environment variable, a key, a password) is redacted to _');
          return '_';
        }
        return encodeString(b);
      };
      // A buffer cut by the recorder cannot be matched exactly: `_` (its length stays literal).
      const contentText = (k: number, pk: ParamInfo | undefined): string =>
        compareClass(pk) === 'content' && !TIMING_TYPES.has(pk?.type ?? '') ? (e.bufs[k] && !e.truncated ? literal(e.bufs[k]!, false) : '_') : '_';
      switch (p.kind) {
        case 'fd':
          if (cls === 'none') break;
          if (mode === 'exact') text = intLiteral(value);
          else if ((fdUses.get(value) ?? 0) > 1) text = fdName(value);
          break;
        case 'int':
        case 'flags':
          // Values that differ between runs of one version (pids, timeouts) and strace's stand-ins
          // for constants it does not know are `_`.
          if (cls === 'scalar' && !runVarying(q ?? p, value)) text = intLiteral(value);
          break;
        case 'size':
          if (j === sizeVar?.arg) text = sizeVar.name;
          else if (cls === 'scalar' && !implied.has(j)) text = intLiteral(value);
          break;
        case 'in_bytes':
          // The follower's own write of a line holding its pid or a time (a log line): a variable
          // with a typed guard on the text around them (varying.ts), not this run's bytes.
          if (side === 'right' && role === 'own' && ctx?.pids && cls === 'content' && e.bufs[j] && !e.truncated && !isGathered(p)) {
            const tpl = varyingTemplate(e.bufs[j]!, ctx.pids.follower);
            const name = `s${++ownTexts}`;
            const g = tpl && !holdsSecret(e.bufs[j]!, ctx.secrets) ? templateGuard(name, tpl.fixed) : undefined;
            if (g) {
              text = name;
              guard = g;
              ctx.notes.add('the pid and times in these bytes differ from run to run: the guards compare the rest');
              break;
            }
          }
          text = contentText(j, q);
          break;
        case 'path':
        case 'in_struct':
          text = contentText(j, q);
          break;
        case 'out_bytes':
          // What an emulated read-like call gives the follower: its own recorded bytes.
          if (side === 'right' && role === 'own' && sc.effect === 'external' && p.lenFromRet && !p.fixedSize && e.bufs[j] && !e.truncated) text = literal(e.bufs[j]!, true);
          break;
        default:
          break;
      }
      args.push(text);
    }
    return `${sc.name}(${args.join(', ')})${guard ? ` if (${guard})` : ''}`;
  };

  const left = h.leader.map((e) => callText(e, 'left', 'paired'));
  const right: string[] = [];
  let p = 0; // the first left event not yet given
  for (const f of h.follower) {
    const sc = syscallByNr(f.nr)!;
    const paired = p < h.leader.length && h.leader[p]!.nr === f.nr;
    if (paired) {
      const l = h.leader[p]!;
      p++;
      const w = isWriteLike(sc);
      const fCount = f.args[w?.len ?? 0] ?? 0n;
      const lCount = l.args[w?.len ?? 0] ?? 0n;
      if (w && fCount !== lCount && l.ret === lCount && f.ret === fCount && !f.noRet) {
        sizeVars++;
        const name = `n${sizeVars === 1 ? '' : sizeVars}`;
        right.push(`${callText(f, 'right', 'paired', { arg: w.len, name })} -> do { ret = ${name}; }`);
      } else right.push(callText(f, 'right', 'paired'));
      continue;
    }
    let text = callText(f, 'right', 'own');
    if (sc.effect === 'external' && !f.noRet) {
      // The result EMULATE gives: the requested count (or 0), or the length of an output literal.
      let ret = defaultRet(sc, { nr: f.nr, args: f.args, bufs: f.bufs, caps: [0, 0, 0, 0, 0, 0] });
      for (let j = 0; j < sc.arity; j++) {
        const q = sc.params[j]!;
        // (a literal redacted to `_` gives no bytes: the result is then written out)
        if (q.kind === 'out_bytes' && q.lenFromRet && !q.fixedSize && f.bufs[j] && !f.truncated && !ctx?.follower.fileData.has(f.span.offset)) ret = BigInt(f.bufs[j]!.length);
      }
      if (ret !== f.ret) text += ` -> do { ret = ${intLiteral(f.ret)}; }`;
    }
    right.push(text);
  }
  const lhs = left.length ? left.join(', ') : 'nothing';
  const rhs = right.length ? right.join(', ') : 'nothing';
  return `${lhs} => ${rhs}`;
}

/** What hunkRule needs to know of the traces: their calls' meaning, the secrets they show, the
 *  pids they show (varying.ts), and where it notes what it redacted. */
export interface RuleContext {
  leader: TraceMeaning;
  follower: TraceMeaning;
  secrets: Uint8Array[];
  notes: Set<string>;
  pids?: { leader: ReadonlySet<string>; follower: ReadonlySet<string> };
  /** Rules of varyingWriteRule that are log lines of one layout: the rule that covers them all. */
  layouts?: Map<string, { key: string; text: string }>;
}

/**
 * A hunk of one write (or send) on each side whose bytes differ only in values that differ between
 * runs — the process's pid, times (varying.ts) — and in nothing else: one rule whose typed guards
 * accept exactly the lines with the same fixed text, whatever those fields hold, the follower
 * getting its own byte count. Undefined for any other hunk.
 */
function varyingWriteRule(h: Hunk, mode: InferMode, ctx: RuleContext): string | undefined {
  if (h.leader.length !== 1 || h.follower.length !== 1 || !ctx.pids) return undefined;
  const [l, f] = [h.leader[0]!, h.follower[0]!];
  const sc = syscallByNr(l.nr);
  const w = sc && l.nr === f.nr ? isWriteLike(sc) : undefined;
  if (!sc || !w || l.truncated || f.truncated || l.noRet || f.noRet) return undefined;
  const [lb, fb] = [l.bufs[w.bytes], f.bufs[w.bytes]];
  if (!lb || !fb || l.ret !== l.args[w.len] || f.ret !== f.args[w.len]) return undefined;
  for (let j = 0; j < sc.arity; j++) if (j !== w.bytes && j !== w.len && l.args[j] !== f.args[j]) return undefined;
  const lt = varyingTemplate(lb, ctx.pids.leader);
  const ft = varyingTemplate(fb, ctx.pids.follower);
  if (!lt || !ft || lt.fixed.length !== ft.fixed.length || lt.fixed.some((x, i) => x !== ft.fixed[i])) return undefined;
  const lg = templateGuard('s', lt.fixed);
  if (!lg || holdsSecret(lb, ctx.secrets) || holdsSecret(fb, ctx.secrets)) return undefined;
  const call = (side: 'left' | 'right'): string => {
    const args: string[] = [];
    for (let j = 0; j < sc.arity; j++) {
      const p = sc.params[j]!;
      if (j === w.bytes) args.push(side === 'left' ? 's' : 't');
      else if (j === w.len) args.push(side === 'left' ? '_' : 'n');
      else if (p.kind === 'fd') args.push(mode === 'exact' ? intLiteral(l.args[j]!) : 'fd');
      else if (p.kind === 'int' || p.kind === 'flags' || p.kind === 'size') args.push(intLiteral(l.args[j]!));
      else args.push('_');
    }
    return `${sc.name}(${args.join(', ')})`;
  };
  ctx.notes.add('the pid and times in these bytes differ from run to run: the guards compare the rest');
  const text = `${call('left')} if (${lg}) => ${call('right')} if (${templateGuard('t', ft.fixed)!}) -> do { ret = n; }`;
  // Log lines of one layout (pid, tag, time, message) become one rule later (inferRules).
  const lay = sc.arity === 3 ? pidTagTimeLayout(lt) : undefined;
  const fdText = mode === 'exact' ? intLiteral(l.args[0]!) : 'fd';
  if (lay && sc.params[0]!.kind === 'fd') ctx.layouts?.set(text, { key: `${sc.name}|${fdText}|${lay.sep}|${lay.tag}|${lay.time}`, text: pidTagTimeRule(sc.name, fdText, lay) });
  return text;
}

/** Structures that hold times (sleeps, timeouts, timers): they differ between runs. */
const TIMING_TYPES = new Set(['timespec', 'timeval', 'itimerval', 'itimerspec', '__kernel_timespec', 'timezone']);
/** Integer parameters whose values differ between runs of one version. */
const RUN_VARYING = /^(?:pid|tgid|tid|pgid|pgrp|sid|upid|timeout|seconds|msecs|usecs|timeout_msecs)$/;
const SYMBOLIC_TAG = 1n << 62n;

/** Whether a scalar is one that differs between runs, or strace's hash of a name it does not know
 *  (compiler/traces/strace.ts, symbolicValue). */
function runVarying(p: ParamInfo, v: bigint): boolean {
  if (RUN_VARYING.test(p.name)) return true;
  return v >= SYMBOLIC_TAG && v < SYMBOLIC_TAG + (1n << 48n);
}

/** Why a hunk cannot become a rule, or null. */
export function hunkProblem(h: Hunk): string | null {
  for (const e of [...h.leader, ...h.follower]) {
    if (!syscallByNr(e.nr)) return `syscall ${e.nr} is not in the syscall table, so no rule can name it`;
  }
  return null;
}

export interface InferredRule {
  /** The rule's text (one line, before canonical printing). */
  text: string;
  /** The hunks it came from (identical rules are written once). */
  hunks: Hunk[];
  /** What was left out of it, and why (redacted secrets and file contents). */
  notes: string[];
}

const meanings = new WeakMap<object, TraceMeaning>();

/** The meaning of a trace's calls (roles.ts), computed once per trace file. */
export function meaningOf(trace: Trace): TraceMeaning {
  let m = meanings.get(trace.file);
  if (!m) meanings.set(trace.file, (m = analyzeTrace(trace)));
  return m;
}

/** The alignment key of an event: the default match's, and the roles of its descriptors. */
function meaningKey(m: TraceMeaning): (e: TraceEvent) => string {
  return (e) => {
    const roles = m.roles.get(e.span.offset);
    return roles ? `${matchKey(e)}|${roles.join(',')}` : matchKey(e);
  };
}

/** Whether two calls are about the same thing: the same paths, descriptors in the same roles. */
function sameObject(l: TraceEvent, f: TraceEvent, lm: TraceMeaning, fm: TraceMeaning): boolean {
  const sc = syscallByNr(l.nr);
  if (!sc || l.nr !== f.nr) return false;
  for (let j = 0; j < sc.arity; j++) {
    const p = sc.params[j]!;
    if (p.kind === 'path' && !bytesEqual(l.bufs[j], f.bufs[j])) return false;
    if (p.kind === 'fd' && lm.roles.get(l.span.offset)?.[j] !== fm.roles.get(f.span.offset)?.[j]) return false;
  }
  return true;
}

function bytesEqual(a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  if (!a || !b) return a === b;
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

/**
 * A hunk as rules can say it faithfully. The matcher pairs a right-side call with the next left
 * event of the same syscall (MATCH: the follower gets that event's results); when it would pair
 * calls about different things (`openat("locale-archive") => openat("in1.txt")`), the hunk is two
 * one-sided hunks instead: the leader's calls map to nothing, the follower's are its own.
 */
function faithful(h: Hunk, lm: TraceMeaning, fm: TraceMeaning): Hunk[] {
  if (h.leader.length === 0 || h.follower.length === 0) return [h];
  let p = 0;
  for (const f of h.follower) {
    if (p < h.leader.length && h.leader[p]!.nr === f.nr) {
      if (!sameObject(h.leader[p]!, f, lm, fm)) {
        return [
          { ...h, followerEnd: h.followerStart, follower: [] },
          { ...h, leaderStart: h.leaderEnd, leader: [] },
        ];
      }
      p++;
    }
  }
  return [h];
}

export interface Inference {
  /** The compared events of every thread (pair by pair). */
  leaderEvents: TraceEvent[];
  followerEvents: TraceEvent[];
  /** Thread pairs diffed (threads that both traces have). */
  threadPairs: number;
  hunks: Hunk[];
  rules: InferredRule[];
  /** Hunks no rule could be written for, and why. */
  skipped: { hunk: Hunk; why: string }[];
}

/** One way of writing the rules (INFER_FORMS). */
export interface InferForm {
  mode: InferMode;
  /** Leader-only and follower-only hunks as one rule per event (`X => nothing`, `nothing => Y`)
   *  instead of one rule per hunk: hunks that share a first call then no longer conflict. */
  split: boolean;
}

/** The forms `suggestRules` tries, in order: the first one that verifies is kept. */
export const INFER_FORMS: readonly InferForm[] = [
  { mode: 'general', split: false },
  { mode: 'exact', split: false },
  { mode: 'general', split: true },
  { mode: 'exact', split: true },
];

/** A one-sided hunk cut into one hunk per event. */
function splitHunk(h: Hunk): Hunk[] {
  if (h.leader.length > 0 && h.follower.length > 0) return [h];
  if (h.leader.length + h.follower.length <= 1) return [h];
  if (h.leader.length > 0) return h.leader.map((e, i) => ({ ...h, leaderStart: h.leaderStart + i, leaderEnd: h.leaderStart + i + 1, leader: [e] }));
  return h.follower.map((e, i) => ({ ...h, followerStart: h.followerStart + i, followerEnd: h.followerStart + i + 1, follower: [e] }));
}

/**
 * The rules for two traces, thread pair by thread pair (threadPairs: creation order); one rule
 * set for all pairs, identical rules written once. A thread only one trace has gets no rule (it
 * is reported in `skipped`, as one hunk holding its events). Never refused: past Myers'
 * budget the alignment is alignLinear's.
 */
export function inferRules(leader: Trace, follower: Trace, form: InferForm = INFER_FORMS[0]!, maxEdits = MAX_DIFF_EDITS): Inference {
  const traces: TracePair = { leader, follower };
  const mode = form.mode;
  const [lm, fm] = [meaningOf(leader), meaningOf(follower)];
  const leaderEvents: TraceEvent[] = [];
  const followerEvents: TraceEvent[] = [];
  const hunks: Hunk[] = [];
  const skipped: Inference['skipped'] = [];
  let pairs = 0;
  for (const p of threadPairs(leader, follower)) {
    const lev = p.leader ? comparedEvents(leader, p.leader.id) : [];
    const fev = p.follower ? comparedEvents(follower, p.follower.id) : [];
    // One at a time: a spread passes every event as an argument, and overflows the stack at ~140k.
    for (const e of lev) leaderEvents.push(e);
    for (const e of fev) followerEvents.push(e);
    if (!p.leader || !p.follower) {
      const side = p.follower ? 'follower' : 'leader';
      const h: Hunk = { leaderStart: 0, leaderEnd: lev.length, followerStart: 0, followerEnd: fev.length, leader: lev, follower: fev, pair: p.index, traces };
      hunks.push(h);
      skipped.push({ hunk: h, why: `${pairName(p, leader, follower)} exists in the ${side} trace only (threads and processes are paired by creation order): no rule can pair it` });
      continue;
    }
    pairs++;
    // Aligned by meaning: the default match's key and what each descriptor argument is (opened
    // from which file, a socket, a pipe...), so that calls on descriptor 3 meaning different files
    // are not aligned (the default match compares the numbers, so they stay in the key).
    const ph = diffHunks(lev, fev, maxEdits, { leader: meaningKey(lm), follower: meaningKey(fm) });
    for (const h of ph) for (const part of faithful(h, lm, fm)) hunks.push(p.index === 0 ? { ...part, traces } : { ...part, pair: p.index, traces });
  }
  const secrets = [...lm.secrets, ...fm.secrets];
  const pids = { leader: tracePids(leader), follower: tracePids(follower) };
  const layouts = new Map<string, { key: string; text: string }>();
  const byText = new Map<string, InferredRule>();
  for (const h of hunks) {
    if (skipped.some((k) => k.hunk === h)) continue;
    const why = hunkProblem(h);
    if (why) {
      skipped.push({ hunk: h, why });
      continue;
    }
    for (const part of form.split ? splitHunk(h) : [h]) {
      const notes = new Set<string>();
      const text = hunkRule(part, mode, { leader: lm, follower: fm, secrets, notes, pids, layouts });
      const r = byText.get(text);
      if (r) {
        r.hunks.push(part);
        for (const n of notes) if (!r.notes.includes(n)) r.notes.push(n);
      } else byText.set(text, { text, hunks: [part], notes: [...notes] });
    }
  }
  // Mapping rules first, then leader-only, then follower-only; in trace order within each. The
  // matcher tries each form at its own point of a step whatever the file order (docs/semantics.md,
  // "The step"), so this order changes no decision, and the checker, which compares rules in
  // file order, does not take a mapping rule after a leader-only one with the same left side
  // for one that can never fire (MVR4001).
  const rank = (r: InferredRule): number => (r.hunks[0]!.follower.length === 0 ? 1 : r.hunks[0]!.leader.length === 0 ? 2 : 0);
  // Two or more log lines of one layout (pid, tag, time, message): one rule comparing the tag and
  // the message of the follower's line with the leader's covers them all, and the lines the
  // program writes on other runs.
  const byLayout = new Map<string, { text: string; rules: InferredRule[] }>();
  for (const r of byText.values()) {
    const lay = layouts.get(r.text);
    if (!lay) continue;
    const g = byLayout.get(lay.key);
    if (g) g.rules.push(r);
    else byLayout.set(lay.key, { text: lay.text, rules: [r] });
  }
  for (const g of byLayout.values()) {
    if (g.rules.length < 2) continue;
    for (const r of g.rules) byText.delete(r.text);
    const hunksOf = g.rules.flatMap((r) => r.hunks).sort((x, y) => (x.pair ?? 0) - (y.pair ?? 0) || x.leaderStart - y.leaderStart);
    byText.set(g.text, { text: g.text, hunks: hunksOf, notes: ['log lines: the pid and the time differ from run to run; the guards compare the tag and the message'] });
  }
  const rules = [...byText.values()].sort((x, y) => rank(x) - rank(y) || x.hunks[0]!.leaderStart - y.hunks[0]!.leaderStart);
  return { leaderEvents, followerEvents, threadPairs: pairs, hunks, rules, skipped };
}

/** `A:12-14` — where a hunk's events are in a trace file (1-based lines). */
export function traceLines(name: string, lines: LineMap, events: readonly TraceEvent[]): string {
  if (events.length === 0) return `${name}: -`;
  const first = lines.position(events[0]!.span.offset).line;
  const last = lines.position(events[events.length - 1]!.span.offset).line;
  return first === last ? `${name}:${first}` : `${name}:${first}-${last}`;
}

/** Where a hunk is, in both trace files: `leader.jsonl:12-13 => follower.jsonl:12`, followed by
 *  ` (thread 1)` for a hunk of a thread other than the main one. */
export function hunkLocation(h: Hunk, leader: Trace, follower: Trace, lines?: { leader: LineMap; follower: LineMap }): string {
  const [lt, ft] = h.traces ? [h.traces.leader, h.traces.follower] : [leader, follower];
  const lm = h.traces ? { leader: lineMap(lt), follower: lineMap(ft) } : (lines ?? { leader: lineMap(lt), follower: lineMap(ft) });
  const l = h.leader.length ? traceLines(lt.file.path, lm.leader, h.leader) : `${lt.file.path}: nothing`;
  const f = h.follower.length ? traceLines(ft.file.path, lm.follower, h.follower) : `${ft.file.path}: nothing`;
  return `${l} => ${f}${h.pair ? ` (thread ${h.pair})` : ''}`;
}

const lineMaps = new WeakMap<object, LineMap>();
function lineMap(t: Trace): LineMap {
  let m = lineMaps.get(t.file);
  if (!m) lineMaps.set(t.file, (m = new LineMap(t.file.text)));
  return m;
}

/** How many places a rule comment lists before "and N more". */
const MAX_PLACES = 3;

/**
 * The rule file: a header naming the traces, then each rule with a comment saying where its
 * hunks are, in canonical form (compiler/syntax/printer.ts). `notes` are extra header lines.
 */
export function renderRules(inf: Inference, pairs: readonly TracePair[], notes: readonly string[] = []): string {
  const cmd = (t: Trace): string => (t.command ? ` (${t.command.join(' ')})` : '');
  const out: string[] = [pairs.length === 1 ? '// Rules inferred by mvrc infer from two traces of the same workload:' : `// Rules inferred by mvrc infer from ${pairs.length} pairs of traces (each pair: one workload); they hold on all of them:`];
  for (const p of pairs) {
    out.push(`//   leader (old version):   ${p.leader.file.path}${cmd(p.leader)}`);
    out.push(`//   follower (new version): ${p.follower.file.path}${cmd(p.follower)}`);
  }
  out.push(`// ${inf.hunks.length} differing hunk${inf.hunks.length === 1 ? '' : 's'}, ${inf.rules.length} rule${inf.rules.length === 1 ? '' : 's'}. Suggestions: review every rule before using it.`, ...notes.map((n) => `// ${n}`), '');
  const [leader, follower] = [pairs[0]!.leader, pairs[0]!.follower];
  for (const r of inf.rules) {
    const places = r.hunks.slice(0, MAX_PLACES).map((h) => hunkLocation(h, leader, follower));
    const more = r.hunks.length > MAX_PLACES ? `; and ${r.hunks.length - MAX_PLACES} more` : '';
    if (r.hunks.length > 1) {
      const inPairs = new Set(r.hunks.map((h) => h.traces)).size;
      out.push(`// applies at ${r.hunks.length} places${pairs.length > 1 ? ` in ${inPairs} of the ${pairs.length} pairs` : ''}:`);
    }
    out.push(`// ${places.join('; ')}${more}`);
    for (const n of r.notes) out.push(`// note: ${n}`);
    out.push(r.text);
  }
  const text = out.join('\n') + '\n';
  return canonical(text);
}

/**
 * The rules of several pairs as one rule set: identical rules once; rules that differ only in
 * literal arguments, one per pair in at least two pairs, become one rule with `_` where the
 * literals differ (values that change from run to run: what holds on all pairs is kept).
 */
export function mergeInferences(infs: readonly Inference[]): Inference {
  if (infs.length === 1) return infs[0]!;
  const all: Inference = { leaderEvents: [], followerEvents: [], threadPairs: 0, hunks: [], rules: [], skipped: [] };
  for (const inf of infs) {
    for (const e of inf.leaderEvents) all.leaderEvents.push(e);
    for (const e of inf.followerEvents) all.followerEvents.push(e);
    all.threadPairs += inf.threadPairs;
    for (const h of inf.hunks) all.hunks.push(h);
    for (const k of inf.skipped) all.skipped.push(k);
  }
  const byText = new Map<string, { rule: InferredRule; pairs: Set<number> }>();
  infs.forEach((inf, k) => {
    for (const r of inf.rules) {
      const x = byText.get(r.text);
      if (x) {
        x.rule.hunks.push(...r.hunks);
        for (const n of r.notes) if (!x.rule.notes.includes(n)) x.rule.notes.push(n);
        x.pairs.add(k);
      } else byText.set(r.text, { rule: { ...r, hunks: [...r.hunks], notes: [...r.notes] }, pairs: new Set([k]) });
    }
  });
  const byShape = new Map<string, { rule: InferredRule; pairs: Set<number> }[]>();
  for (const x of byText.values()) {
    const shape = literalsOf(x.rule.text).shape;
    const g = byShape.get(shape);
    if (g) g.push(x);
    else byShape.set(shape, [x]);
  }
  for (const g of byShape.values()) {
    const pairCount = g.reduce((n, x) => n + x.pairs.size, 0);
    const distinct = new Set(g.flatMap((x) => [...x.pairs])).size;
    if (g.length === 1 || distinct !== pairCount || distinct < 2) {
      for (const x of g) all.rules.push(x.rule);
      continue;
    }
    // One rule per pair, differing in literals: `_` where they differ; but never a string of the
    // left side, which says when the rule applies (`write(fd, _, _) => ...` would take any write).
    const lits = g.map((x) => literalsOf(x.rule.text));
    const arrow = arrowAt(g[0]!.rule.text);
    if (lits[0]!.slots.some((slot, i) => slot.start < arrow && slot.text.startsWith('"') && lits.some((l) => l.slots[i]!.text !== slot.text))) {
      for (const x of g) all.rules.push(x.rule);
      continue;
    }
    let text = '';
    let at = 0;
    const first = lits[0]!;
    first.slots.forEach((slot, i) => {
      const same = lits.every((l) => l.slots[i]!.text === slot.text);
      text += g[0]!.rule.text.slice(at, slot.start) + (same ? slot.text : '_');
      at = slot.end;
    });
    text += g[0]!.rule.text.slice(at);
    const notes = [...new Set(g.flatMap((x) => x.rule.notes)), 'values that differ between the pairs of traces are _'];
    all.rules.push({ text, hunks: g.flatMap((x) => x.rule.hunks), notes });
  }
  const rank = (r: InferredRule): number => (r.hunks[0]!.follower.length === 0 ? 1 : r.hunks[0]!.leader.length === 0 ? 2 : 0);
  all.rules.sort((x, y) => rank(x) - rank(y));
  return all;
}

/** Where the rule's `=>` is (outside strings). */
function arrowAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (text.startsWith('=>', i)) return i;
  }
  return text.length;
}

/** The literal arguments of a rule's text (strings, integers; not a `ret = N` a rule sets), and
 *  its text with each replaced by a mark. */
function literalsOf(text: string): { shape: string; slots: { start: number; end: number; text: string }[] } {
  const slots: { start: number; end: number; text: string }[] = [];
  const re = /"(?:[^"\\]|\\.)*"|(?<![A-Za-z0-9_])-?\d+(?![A-Za-z0-9_])/g;
  let shape = '';
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (/ret\s*=\s*$/.test(text.slice(Math.max(0, m.index - 8), m.index))) continue;
    slots.push({ start: m.index, end: m.index + m[0].length, text: m[0] });
    shape += text.slice(at, m.index) + '\u0001';
    at = m.index + m[0].length;
  }
  return { shape: shape + text.slice(at), slots };
}

/** The canonical form of generated rule text (the text itself if it somehow does not parse). */
export function canonical(text: string): string {
  const diags = new DiagnosticBag();
  const file = parseSource({ path: 'inferred.mvr', text }, diags);
  return diags.hasErrors ? text : printFile(file);
}

/** Checks rule text with the real checker, as the file `name` (nothing is read from disk). */
export function checkRuleText(text: string, name = 'inferred.mvr', cwd = process.cwd()): Program {
  const abs = resolvePath(cwd, name);
  return loadProgram([name], {
    cwd,
    readFile: (p) => {
      if (p === abs) return Buffer.from(text, 'utf8');
      throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    },
  });
}

export interface Suggestion {
  /** identical: no hunks; verified: the rules reconcile the traces; unverified: they do not. */
  status: 'identical' | 'verified' | 'unverified';
  /** The rule file, in canonical form (with NOT VERIFIED notes in its header when unverified). */
  text: string;
  /** The form that was kept (INFER_FORMS). */
  form: InferForm;
  inference: Inference;
  /** Rules written to the file (after dropping the ones the checker rejected). */
  rules: InferredRule[];
  /** Rules the checker rejected (e.g. a conflict with an earlier rule), left out, with why. */
  dropped: { rule: InferredRule; why: string; where: string }[];
  /** The checked program of `text`, and the verdict of verifyTraces on it (every pair's together). */
  program: Program;
  verdict: VerifyResult;
  /** The verdict on each pair of traces, and the pairs' compared traces (comparedTrace). */
  verdicts: { pair: TracePair; compared: TracePair; result: VerifyResult }[];
}

/** What suggestRulesFor reports while it works (for a progress line on a terminal). */
export type Progress = (what: string) => void;

/**
 * The whole of `mvrc infer` but its input and output, for one pair of traces
 * (suggestRulesFor([{ leader, follower }])).
 */
export function suggestRules(leader: Trace, follower: Trace, fileName = 'inferred.mvr', cwd = process.cwd(), maxEdits = MAX_DIFF_EDITS): Suggestion {
  return suggestRulesFor([{ leader, follower }], fileName, cwd, { maxEdits });
}

/**
 * For each form of INFER_FORMS in turn: infers the rules of every pair (inferRules) and merges
 * them (mergeInferences: what holds on all pairs), checks them (a rule the checker rejects is left
 * out and reported; a rule that an earlier one of the same form covers is merged into it) and
 * verifies them against every pair's compared events; the first form whose rules verify on all
 * pairs is kept. When none does, the attempt that verified furthest is kept, with NOT VERIFIED and
 * the findings in its header. `fileName` is what the rule file is called in the checker's and
 * verifier's locations.
 */
export function suggestRulesFor(pairs: readonly TracePair[], fileName = 'inferred.mvr', cwd = process.cwd(), opts: { maxEdits?: number; progress?: Progress } = {}): Suggestion {
  const progress = opts.progress ?? ((): void => {});
  const compared = pairs.map((p) => ({ leader: comparedTrace(p.leader), follower: comparedTrace(p.follower) }));
  let best: Suggestion | undefined;
  const score = (x: Suggestion): number => x.verdict.followerCalls - (x.verdict.findings.length > 0 ? 1 : 0) - x.dropped.length;
  for (const [n, form] of INFER_FORMS.entries()) {
    const infs = pairs.map((p, k) => {
      progress(`form ${n + 1}/${INFER_FORMS.length}: aligning pair ${k + 1}/${pairs.length} (${p.leader.events.length} + ${p.follower.events.length} events)`);
      return inferRules(p.leader, p.follower, form, opts.maxEdits);
    });
    const inf = mergeInferences(infs);
    if (inf.hunks.length === 0) {
      const text = renderRules(inf, pairs, ['No differences: the default match reconciles the traces.']);
      const program = checkRuleText(text, fileName, cwd);
      const verdicts = verifyAll(program, pairs, compared, progress);
      return { status: 'identical', text, form, inference: inf, rules: [], dropped: [], program, verdict: combine(verdicts), verdicts };
    }
    progress(`form ${n + 1}/${INFER_FORMS.length}: checking and verifying ${inf.rules.length} rules`);
    const attempt = checkAndVerify(inf, form, pairs, compared, fileName, cwd, progress);
    if (attempt.status === 'verified') return attempt;
    if (!best || score(attempt) > score(best)) best = attempt;
  }
  // No form verifies: say why in the file itself.
  const s = best!;
  const notes = ['NOT VERIFIED: these rules do not reconcile the traces.'];
  const [l0, f0] = [pairs[0]!.leader, pairs[0]!.follower];
  for (const k of s.inference.skipped) notes.push(`no rule for ${hunkLocation(k.hunk, l0, f0)}: ${k.why}`);
  for (const d of s.dropped) notes.push(`no rule for ${d.where}: ${d.why}`);
  for (const v of s.verdicts)
    for (const f of v.result.findings) notes.push(`${f.kind}${f.pair && f.kind !== 'unpaired-thread' ? ` in ${pairName(f.pair as ThreadPair, v.compared.leader, v.compared.follower)}` : ''}: ${f.message}${findingPlace(f, v.compared.leader, v.compared.follower)}`);
  const text = renderRules({ ...s.inference, rules: s.rules }, pairs, notes);
  const program = checkRuleText(text, fileName, cwd);
  // The verdict again, against the text as written (so that rule locations are right).
  const verdicts = program.diagnostics.some((d) => d.severity === 'error') ? s.verdicts : verifyAll(program, pairs, compared, progress);
  return { ...s, text, program, verdict: combine(verdicts), verdicts };
}

function verifyAll(program: Program, pairs: readonly TracePair[], compared: readonly TracePair[], progress: Progress): Suggestion['verdicts'] {
  return pairs.map((pair, k) => {
    if (pairs.length > 1) progress(`verifying on pair ${k + 1}/${pairs.length}`);
    return { pair, compared: compared[k]!, result: verifyTraces(program, compared[k]!.leader, compared[k]!.follower) };
  });
}

function combine(verdicts: Suggestion['verdicts']): VerifyResult {
  const out: VerifyResult = { findings: [], followerCalls: 0, leaderEvents: 0, threadPairs: 0, rulesUsed: [] };
  const used = new Set<number>();
  for (const { result: r } of verdicts) {
    for (const f of r.findings) out.findings.push(f);
    out.followerCalls += r.followerCalls;
    out.leaderEvents += r.leaderEvents;
    out.threadPairs += r.threadPairs;
    for (const id of r.rulesUsed) used.add(id);
  }
  out.rulesUsed = [...used].sort((a, b) => a - b);
  return out;
}

/** Which of the three rule forms a rule is (they are tried at different points of a step). */
function ruleForm(r: InferredRule): 'mapping' | 'leader-only' | 'follower-only' {
  const h = r.hunks[0]!;
  return h.leader.length === 0 ? 'follower-only' : h.follower.length === 0 ? 'leader-only' : 'mapping';
}

function checkAndVerify(inf: Inference, form: InferForm, pairs: readonly TracePair[], compared: readonly TracePair[], fileName: string, cwd: string, progress: Progress): Suggestion {
  let rules = inf.rules;
  const dropped: Suggestion['dropped'] = [];
  const [l0, f0] = [pairs[0]!.leader, pairs[0]!.follower];
  for (;;) {
    const text = renderRules({ ...inf, rules }, pairs);
    const program = checkRuleText(text, fileName, cwd);
    // The rule at an offset of the text: the last one that starts at or before it.
    const starts = program.rules.map((r) => (r.file === fileName ? r.ast.span.offset : Infinity));
    const ruleAt = (offset: number): number => {
      let at = -1;
      starts.forEach((o, i) => {
        if (o <= offset) at = i;
      });
      return at < rules.length ? at : -1;
    };
    // A rule that an earlier one of the same form covers never fires (MVR4001): its hunks are
    // the earlier rule's. (Across forms the warning does not hold: a mapping rule is tried
    // before the default match, a leader-only one after it, whatever their order in the file;
    // inferRules writes mapping rules first so that the checker does not warn.)
    let merge: [number, number] | undefined;
    for (const d of program.diagnostics) {
      if (d.code !== Diag.ShadowedRule.code || d.related.length === 0) continue;
      const at = ruleAt(d.span.offset);
      const earlier = ruleAt(d.related[0]!.span.offset);
      if (at >= 0 && earlier >= 0 && earlier < at && ruleForm(rules[at]!) === ruleForm(rules[earlier]!)) {
        merge = [earlier, at];
        break;
      }
    }
    if (merge) {
      const [earlier, at] = merge;
      const merged = { ...rules[earlier]!, hunks: [...rules[earlier]!.hunks, ...rules[at]!.hunks].sort((x, y) => (x.pair ?? 0) - (y.pair ?? 0) || x.leaderStart - y.leaderStart || x.followerStart - y.followerStart) };
      rules = rules.map((r, i) => (i === earlier ? merged : r)).filter((_, i) => i !== at);
      continue;
    }
    const error = program.diagnostics.find((d) => d.severity === 'error');
    if (!error) {
      const verdicts = verifyAll(program, pairs, compared, progress);
      const verdict = combine(verdicts);
      const ok = verdict.findings.length === 0 && dropped.length === 0 && inf.skipped.length === 0;
      return { status: ok ? 'verified' : 'unverified', text, form, inference: inf, rules, dropped, program, verdict, verdicts };
    }
    const at = error.file === fileName ? ruleAt(error.span.offset) : -1;
    if (at < 0) throw new Error(`inferred rules do not check: ${error.code} ${error.message}`);
    const r = rules[at]!;
    const more = r.hunks.length > 1 ? ` and ${r.hunks.length - 1} more` : '';
    dropped.push({ rule: r, why: `${error.code} ${error.message}`, where: `${hunkLocation(r.hunks[0]!, l0, f0)}${more}` });
    rules = rules.filter((_, i) => i !== at);
  }
}

function findingPlace(f: VerifyFinding, leader: Trace, follower: Trace): string {
  const [t, e] = f.follower ? [follower, f.follower] : f.leader ? [leader, f.leader] : [undefined, undefined];
  if (!t || !e) return '';
  return ` (${t.file.path}:${lineMap(t).position(e.span.offset).line})`;
}
