// The reference interpreter of the matching semantics (docs/semantics.md), in TypeScript. It
// mirrors runtime-c/include/mvr_rules.h: the generated C module (codegen-c/emit.ts) implements the
// same algorithm over the same automaton tables, and test/differential.test.ts checks that both
// decide every step identically.
//
// Guards and callbacks written as typed blocks are evaluated with compiler/typed; C blocks cannot
// be run here: meeting one throws UnsupportedBlockError (unless an evaluator for it is supplied).
import { leaderCandidates, nothingCandidates, type Automaton } from '../lower/automaton.ts';
import type { IrAlt, IrArg, IrCallback, IrGuard, IrRightItem, IrRule, VarRef } from '../lower/ir.ts';
import { MAX_LEFT } from '../lower/ir.ts';
import { compareClass, emulatedCount, inputsEqual, paramsOf } from '../syscalls/meaning.ts';
import type { SyscallInfo } from '../syscalls/types.ts';
import { evalTypedExpr, execTypedBlock, type Value } from '../typed/index.ts';

export interface LeaderEvent {
  index: bigint;
  nr: number;
  /** Six signed 64-bit values. */
  args: bigint[];
  ret: bigint;
  /** Recorded bytes per argument (inputs as passed, outputs as returned); null for others. */
  bufs: (Uint8Array | null)[];
}

export interface LeaderView {
  /** The event at this absolute index, or null when it is not recorded yet (eof: never will be). */
  get(index: bigint): { event: LeaderEvent | null; eof: boolean };
}

export interface FollowerCall {
  nr: number;
  args: bigint[];
  /** Input bytes for in_bytes/path/in_struct parameters; null for others. */
  bufs: (Uint8Array | null)[];
  /** Capacity the follower offers for out_bytes/out_struct parameters (0 elsewhere). */
  caps: number[];
}

export type LeaderAction = 'match' | 'store' | 'skip';
export type FollowerAction = 'nop' | 'match' | 'exec' | 'emulate';
/** `progress`: the step's leader actions are full (MAX_LEFT) before the call is decided; they are
 *  kept, and the same call is stepped again (docs/semantics.md, "Progress"). */
export type StepStatus = 'ok' | 'need_more' | 'diverge' | 'expected_diverge' | 'progress';

export interface StepResult {
  status: StepStatus;
  followerAction: FollowerAction;
  /** MATCH: the leader event whose results the follower gets. */
  event: bigint;
  ret: bigint;
  /** Bytes for the follower's output parameters (never longer than its capacity); null = leave. */
  out: (Uint8Array | null)[];
  /** The deciding rule's id, or -1 for the default self-match (MVR_RULE_DEFAULT). */
  rule: number;
  leader: { event: bigint; action: LeaderAction }[];
  reason: string;
  /** The leader-only rules (`X => nothing`) that consumed events in this step, in order: they
   *  decide no follower call, so `rule` never names them (mvrc verify lists them as used). */
  skippedBy?: number[];
}

export const RULE_DEFAULT = -1;

/** Thrown when a rule needs a C block evaluated, which only the generated module can do. */
export class UnsupportedBlockError extends Error {
  constructor(
    readonly rule: IrRule,
    readonly what: 'guard' | 'callback',
  ) {
    super(`rule ${rule.id} (${rule.file}:${rule.line}:${rule.column}) has a C ${what}, which the TypeScript interpreter cannot run; use the generated C module`);
  }
}

/** A variable's value as a block sees it. Outputs are writable by callbacks. */
export type VarValue = { kind: 'number'; value: bigint } | { kind: 'bytes'; value: Uint8Array; cap?: number };

export interface BlockEvaluator {
  guard(rule: IrRule, g: IrGuard, vars: Map<string, VarValue>): boolean;
  /** Runs a callback; returns the new values of every variable it may have written and of `ret`,
   *  and whether a typed block ran out of scratch memory (the step then diverges). */
  callback(rule: IrRule, cb: IrCallback, vars: Map<string, VarValue>): { values: Map<string, VarValue>; overflow: boolean };
}

/** The reasons both implementations give, word for word. */
export const Reasons = {
  noRule: 'no rule reconciles the follower call',
  notFit: 'the follower call does not fit the active rule',
  tooMany: 'more leader events than one step can decide',
  overflow: 'a typed callback ran out of scratch memory',
  exitedInRule: 'the follower exited inside a rule',
  leftover: 'leader events remain that the follower never made',
  expected: 'expected divergence',
} as const;

interface State {
  next: bigint;
  active: number;
  pos: number;
  given: boolean[];
  stored: boolean[];
  slots: bigint[];
  begin: number;
}

function cloneState(s: State): State {
  return { ...s, given: [...s.given], stored: [...s.stored], slots: [...s.slots] };
}

interface Work {
  s: State;
  acts: { event: bigint; action: LeaderAction }[];
  /** Leader-only rules that consumed events in this step (StepResult.skippedBy). */
  skippedBy: number[];
  /** Left events bound by the rule being tried or active (index = left item). */
  lev: LeaderEvent[];
  res: StepResult;
  /** A typed callback overflowed its arena during this step. */
  overflow: boolean;
}

/** Byte buffers equal by content (null and empty are equal). */
export function bufEq(a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  const la = a?.length ?? 0;
  const lb = b?.length ?? 0;
  if (la !== lb) return false;
  for (let i = 0; i < la; i++) if (a![i] !== b![i]) return false;
  return true;
}

function capped(b: Uint8Array, cap: number): Uint8Array {
  return b.length > cap ? b.subarray(0, Math.max(0, cap)) : b;
}

export interface InterpreterOptions {
  /** Evaluates blocks; the default runs typed blocks and throws UnsupportedBlockError for C blocks. */
  blocks?: BlockEvaluator;
}

/** Bytes a callback may write into one output (the C module's scratch buffer per argument). */
export const CALLBACK_OUT_MAX = 65536;

/** Runs typed blocks with compiler/typed; C blocks throw UnsupportedBlockError. */
export const typedBlocks: BlockEvaluator = {
  guard(rule, g, vars) {
    if (g.kind === 'c') throw new UnsupportedBlockError(rule, 'guard');
    if (!g.checked) throw new Error(`rule ${rule.id}: typed guard did not check`);
    return evalTypedExpr(g.checked, toValues(vars));
  },
  callback(rule, cb, vars) {
    if (cb.kind === 'c') throw new UnsupportedBlockError(rule, 'callback');
    if (!cb.checked) throw new Error(`rule ${rule.id}: typed callback did not check`);
    const values = toValues(vars);
    const caps = new Map<string, number>();
    for (const [k, v] of vars) if (v.kind === 'bytes' && v.cap !== undefined) caps.set(k, v.cap);
    const { overflow } = execTypedBlock(cb.checked, values, { caps });
    const out = new Map<string, VarValue>();
    for (const [k, v] of values) {
      if (typeof v === 'bigint') out.set(k, { kind: 'number', value: v });
      else if (v instanceof Uint8Array) out.set(k, { kind: 'bytes', value: v });
    }
    return { values: out, overflow };
  },
};

function toValues(vars: Map<string, VarValue>): Map<string, Value> {
  const m = new Map<string, Value>();
  for (const [k, v] of vars) m.set(k, v.value);
  return m;
}

export class Interpreter {
  private s: State;
  private readonly maxSlots: number;

  constructor(
    readonly a: Automaton,
    private readonly opts: InterpreterOptions = {},
  ) {
    this.maxSlots = a.rules.reduce((m, r) => Math.max(m, r.slots), 0);
    this.s = this.fresh(0n);
  }

  private fresh(first: bigint): State {
    const b = this.a.begin;
    const beginDone = b < 0 || this.a.rules[b]!.right.every((it) => it.star);
    return {
      next: first,
      active: -1,
      pos: 0,
      given: new Array<boolean>(MAX_LEFT).fill(false),
      stored: new Array<boolean>(MAX_LEFT).fill(false),
      slots: new Array<bigint>(this.maxSlots).fill(0n),
      begin: beginDone ? -1 : 0,
    };
  }

  reset(first: bigint | number): void {
    this.s = this.fresh(BigInt(first));
  }

  /** The lowest leader event index the matcher may still read. */
  lowWater(): bigint {
    return this.s.next;
  }

  step(leader: LeaderView, call: FollowerCall): StepResult {
    const w = this.work();
    let st = this.stepInner(w, leader, call);
    if ((st === 'ok' || st === 'progress') && w.overflow) {
      st = 'diverge';
      w.res.reason = Reasons.overflow;
    }
    w.res.status = st;
    const kept = st === 'ok' || st === 'progress';
    w.res.leader = kept ? w.acts : [];
    if (kept && w.skippedBy.length) w.res.skippedBy = w.skippedBy;
    if (kept) this.s = w.s;
    return this.tidy(w.res);
  }

  finish(leader: LeaderView): StepResult {
    const w = this.work();
    const st = this.finishInner(w, leader);
    w.res.status = st;
    const commit = st === 'ok' || st === 'need_more';
    w.res.leader = commit ? w.acts : [];
    if (commit && w.skippedBy.length) w.res.skippedBy = w.skippedBy;
    if (commit) this.s = w.s;
    return this.tidy(w.res);
  }

  private tidy(r: StepResult): StepResult {
    if (r.status !== 'ok') {
      r.followerAction = 'nop';
      r.out = [];
      r.ret = 0n;
      r.event = 0n;
    }
    return r;
  }

  private work(): Work {
    return {
      s: cloneState(this.s),
      acts: [],
      skippedBy: [],
      lev: [],
      overflow: false,
      res: { status: 'ok', followerAction: 'nop', event: 0n, ret: 0n, out: [], rule: RULE_DEFAULT, leader: [], reason: '' },
    };
  }

  // ---- the algorithm (docs/semantics.md, "The step") ----------------------------------------

  /** The leader actions are full before the call is decided (mvr_full in mvr_matcher.h). */
  private full(w: Work): StepStatus {
    if (w.acts.length) return 'progress';
    w.res.reason = Reasons.tooMany;
    return 'diverge';
  }

  private stepInner(w: Work, leader: LeaderView, call: FollowerCall): StepStatus {
    const s = w.s;
    if (s.begin >= 0) return this.beginStep(w, call);
    for (;;) {
      if (s.active >= 0) {
        const rule = this.a.rules[s.active]!;
        this.loadLeft(w, rule, leader);
        const r = this.rhsStep(w, rule, call);
        if (r === 'matched') return 'ok';
        if (r === 'fail') {
          w.res.rule = rule.id;
          w.res.reason = Reasons.notFit;
          return 'diverge';
        }
      }
      const { event: ev, eof } = leader.get(s.next);
      if (!ev && !eof) return 'need_more';
      let restarted = false;
      if (ev) {
        const candidates = leaderCandidates(this.a, ev.nr, ev.args);
        // Pass 1: mappings and expected divergences come before the default match.
        for (const id of candidates) {
          const rule = this.a.rules[id]!;
          if (rule.rhs === 'nothing') continue;
          if (rule.firstFollowerNrs !== 'any' && !rule.firstFollowerNrs.has(call.nr)) continue;
          const m = this.matchLeft(w, rule, leader);
          if (m === 'need') return 'need_more';
          if (m === 'no') continue;
          if (w.acts.length + rule.left.length > MAX_LEFT) return this.full(w);
          if (rule.rhs === 'diverge') {
            w.res.rule = id;
            w.res.reason = rule.reason || Reasons.expected;
            return 'expected_diverge';
          }
          if (this.tryRule(w, rule, call)) return 'ok';
        }
        if (ev.nr === call.nr && this.inputsEqual(ev, call)) {
          if (w.acts.length + 1 > MAX_LEFT) return this.full(w);
          w.acts.push({ event: s.next, action: 'match' });
          this.giveEvent(w, ev, call);
          w.res.rule = RULE_DEFAULT;
          s.next += 1n;
          return 'ok';
        }
        // Pass 2: leader-only rules (`X => nothing`), only where the default does not hold: a
        // follower that does make the call gets the leader's results.
        for (const id of candidates) {
          const rule = this.a.rules[id]!;
          if (rule.rhs !== 'nothing') continue;
          if (rule.firstFollowerNrs !== 'any' && !rule.firstFollowerNrs.has(call.nr)) continue;
          const m = this.matchLeft(w, rule, leader);
          if (m === 'need') return 'need_more';
          if (m === 'no') continue;
          if (w.acts.length + rule.left.length > MAX_LEFT) return this.full(w);
          for (let i = 0; i < rule.left.length; i++) w.acts.push({ event: s.next + BigInt(i), action: 'skip' });
          w.skippedBy.push(id);
          s.next += BigInt(rule.left.length);
          restarted = true;
          break;
        }
        if (restarted) continue;
      }
      for (const id of nothingCandidates(this.a, call.nr)) {
        const rule = this.a.rules[id]!;
        if (rule.rhs === 'diverge') {
          w.res.rule = id;
          w.res.reason = rule.reason || Reasons.expected;
          return 'expected_diverge';
        }
        if (rule.rhs !== 'seq') continue;
        w.lev = [];
        if (this.tryRule(w, rule, call)) return 'ok';
      }
      w.res.reason = Reasons.noRule;
      return 'diverge';
    }
  }

  /** Activates `rule` (its left side already in w.lev) and runs its right side on the call; undoes it all unless the call was taken. */
  private tryRule(w: Work, rule: IrRule, call: FollowerCall): boolean {
    const saved = cloneState(w.s);
    const nacts = w.acts.length;
    const s = w.s;
    s.active = rule.id;
    s.pos = 0;
    s.given.fill(false);
    s.stored.fill(false);
    s.slots.fill(0n);
    if (this.rhsStep(w, rule, call) === 'matched') return true;
    // Restore in place: callers hold references to w.s.
    Object.assign(s, saved);
    w.acts.length = nacts;
    return false;
  }

  private loadLeft(w: Work, rule: IrRule, leader: LeaderView): void {
    w.lev = [];
    for (let i = 0; i < rule.left.length; i++) w.lev.push(leader.get(w.s.next + BigInt(i)).event!);
  }

  private matchLeft(w: Work, rule: IrRule, leader: LeaderView): 'yes' | 'no' | 'need' {
    w.lev = [];
    for (let i = 0; i < rule.left.length; i++) {
      const { event: e, eof } = leader.get(w.s.next + BigInt(i));
      if (!e) return eof ? 'no' : 'need';
      const item = rule.left[i]!;
      w.lev[i] = e;
      const alt = item.alts.find((a) => a.nr === e.nr && this.leftArgsOk(w, a, e));
      if (!alt) return 'no';
      if (item.guard && !this.runGuard(rule, item.guard, this.varsFor(w, rule.leftScopes[i]!, null, null))) return 'no';
    }
    return 'yes';
  }

  private leftArgsOk(w: Work, alt: IrAlt, e: LeaderEvent): boolean {
    for (let j = 0; j < alt.args.length; j++) {
      const a = alt.args[j]!;
      const op = a.op;
      switch (op.op) {
        case 'int':
          if (BigInt.asIntN(64, e.args[j] ?? 0n) !== op.value) return false;
          break;
        case 'bytes':
          if (a.cls === 'scalar' || !bufEq(e.bufs[j], op.value)) return false;
          break;
        case 'eqLeft': {
          const src = w.lev[op.item]!;
          if (a.cls === 'scalar' && e.args[j] !== src.args[op.arg]) return false;
          if ((a.cls === 'content' || a.cls === 'out') && !bufEq(e.bufs[j], src.bufs[op.arg])) return false;
          break;
        }
        default:
          break;
      }
    }
    return true;
  }

  private rightArgsOk(w: Work, args: IrArg[], call: FollowerCall): boolean {
    for (let j = 0; j < args.length; j++) {
      const a = args[j]!;
      const op = a.op;
      switch (op.op) {
        case 'int':
          if ((call.args[j] ?? 0n) !== op.value) return false;
          break;
        case 'bytes':
          if (a.cls === 'scalar') return false;
          if (a.cls === 'content' && !bufEq(call.bufs[j], op.value)) return false;
          break;
        case 'eqLeft': {
          const src = w.lev[op.item]!;
          if (a.cls === 'scalar' && call.args[j] !== src.args[op.arg]) return false;
          if (a.cls === 'content' && !bufEq(call.bufs[j], src.bufs[op.arg])) return false;
          break;
        }
        case 'eqSlot':
          if (call.args[j] !== w.s.slots[op.slot]) return false;
          break;
        default:
          break;
      }
    }
    return true;
  }

  /** The default match: same syscall (checked by the caller) and every input argument means the
   *  same (compiler/syscalls/meaning.ts: by value, by meaningful bytes; pointers, unused arguments
   *  and lengths of other arguments are not compared). */
  private inputsEqual(e: LeaderEvent, call: FollowerCall): boolean {
    return inputsEqual(this.a.syscall(call.nr), e, call);
  }

  private rhsStep(w: Work, rule: IrRule, call: FollowerCall): 'matched' | 'completed' | 'fail' {
    const s = w.s;
    for (;;) {
      if (s.pos >= rule.right.length) {
        this.complete(w, rule);
        return 'completed';
      }
      const item = rule.right[s.pos]!;
      const d = this.tryItem(w, rule, item, call);
      if (d) {
        this.apply(w, rule, item, d, call);
        if (!item.star) s.pos++;
        if (s.pos >= rule.right.length) this.complete(w, rule);
        return 'matched';
      }
      if (item.star) {
        s.pos++;
        continue;
      }
      return 'fail';
    }
  }

  private complete(w: Work, rule: IrRule): void {
    const s = w.s;
    for (let i = 0; i < rule.left.length; i++) if (!s.given[i]) w.acts.push({ event: s.next + BigInt(i), action: 'skip' });
    s.next += BigInt(rule.left.length);
    s.active = -1;
    s.pos = 0;
  }

  private tryItem(w: Work, rule: IrRule, item: IrRightItem, call: FollowerCall): Decision | null {
    const s = w.s;
    if (item.kind === 'label' || item.kind === 'replay') {
      const k = item.item;
      if (s.given[k]) return null;
      const e = w.lev[k]!;
      if (call.nr !== e.nr) return null;
      if (item.kind === 'label') {
        if (!this.inputsEqual(e, call)) return null;
      } else {
        const fd = this.a.syscall(e.nr)?.fdParam;
        if (fd !== undefined && BigInt.asUintN(32, call.args[fd] ?? 0n) !== BigInt.asUintN(32, e.args[fd] ?? 0n)) return null;
      }
      if (item.guard && !this.runGuard(rule, item.guard, this.varsFor(w, item.scope, call, null))) return null;
      return { k, args: item.kind === 'replay' ? item.args : null };
    }
    const alt = item.alts.find((a) => a.nr === call.nr && this.rightArgsOk(w, a.args, call));
    if (!alt) return null;
    if (item.guard && !this.runGuard(rule, item.guard, this.varsFor(w, item.scope, call, null))) return null;
    let p = -1;
    for (let i = 0; i < rule.left.length; i++) {
      if (!s.given[i] && !rule.left[i]!.referenced) {
        p = i;
        break;
      }
    }
    if (p >= 0 && w.lev[p]!.nr === call.nr) return { k: p, args: alt.args };
    return { k: -1, args: alt.args };
  }

  private giveEvent(w: Work, e: LeaderEvent, call: FollowerCall): void {
    const r = w.res;
    r.followerAction = 'match';
    r.event = e.index;
    r.ret = e.ret;
    r.out = [];
    // The leader's event decides the command, so what is an output (ioctl's TCGETS, fcntl's F_GETLK).
    const sc = this.a.syscall(call.nr);
    const ps = paramsOf(sc, e.args);
    for (let j = 0; j < 6; j++) {
      const cls = sc ? compareClass(ps[j]) : 'scalar';
      const b = e.bufs[j];
      r.out.push((cls === 'out' || cls === 'outret') && b ? capped(b, call.caps[j] ?? 0) : null);
    }
  }

  private apply(w: Work, rule: IrRule, item: IrRightItem, d: Decision, call: FollowerCall): void {
    const s = w.s;
    const r = w.res;
    r.rule = rule.id;
    const sc = this.a.syscall(call.nr);
    if (d.k >= 0) {
      for (let j = 0; j < d.k; j++) {
        if (rule.left[j]!.referenced && !s.given[j] && !s.stored[j]) {
          s.stored[j] = true;
          w.acts.push({ event: s.next + BigInt(j), action: 'store' });
        }
      }
      s.given[d.k] = true;
      w.acts.push({ event: s.next + BigInt(d.k), action: 'match' });
      this.giveEvent(w, w.lev[d.k]!, call);
    } else {
      const effect = sc?.effect ?? 'external';
      r.out = [null, null, null, null, null, null];
      if ((effect === 'local' || effect === 'readonly') && !item.callback) {
        r.followerAction = 'exec';
        r.ret = 0n;
        return this.saveSlots(w, d, call);
      }
      r.followerAction = 'emulate';
      r.ret = defaultRet(sc, call);
    }
    if (d.args) {
      const ps = paramsOf(sc, call.args);
      for (let j = 0; j < d.args.length; j++) {
        const a = d.args[j]!;
        if (a.cls === 'out' && a.op.op === 'bytes') {
          const b = capped(a.op.value, call.caps[j] ?? 0);
          r.out[j] = b;
          if (sc && compareClass(ps[j]) === 'outret') r.ret = BigInt(b.length);
        }
      }
    }
    this.saveSlots(w, d, call);
    if (item.callback) this.runCallback(w, rule, item, call);
  }

  private saveSlots(w: Work, d: Decision, call: FollowerCall): void {
    if (!d.args) return;
    for (let j = 0; j < d.args.length; j++) {
      const a = d.args[j]!;
      if (a.op.op === 'bind' && a.saveSlot !== undefined) w.s.slots[a.saveSlot] = call.args[j] ?? 0n;
    }
  }

  private beginStep(w: Work, call: FollowerCall): StepStatus {
    const s = w.s;
    const rule = this.a.rules[this.a.begin]!;
    let matched: IrRightItem | null = null;
    let alt: IrAlt | undefined;
    w.lev = [];
    while (s.begin < rule.right.length) {
      const item = rule.right[s.begin]!;
      if (item.kind === 'call') {
        alt = item.alts.find((a) => a.nr === call.nr && this.rightArgsOk(w, a.args, call));
        if (alt && (!item.guard || this.runGuard(rule, item.guard, this.varsFor(w, item.scope, call, null)))) {
          matched = item;
          break;
        }
      }
      if (!item.star) break;
      s.begin++;
    }
    w.res.rule = rule.id;
    if (matched) {
      this.apply(w, rule, matched, { k: -1, args: alt!.args }, call);
      if (!matched.star) s.begin++;
    } else {
      this.apply(w, rule, { kind: 'call', alts: [], star: false, scope: [] }, { k: -1, args: null }, call);
    }
    if (rule.right.slice(s.begin).every((it) => it.star)) s.begin = -1;
    return 'ok';
  }

  private finishInner(w: Work, leader: LeaderView): StepStatus {
    const s = w.s;
    if (s.active >= 0) {
      const rule = this.a.rules[s.active]!;
      if (!rule.right.slice(s.pos).every((it) => it.star)) {
        w.res.rule = rule.id;
        w.res.reason = Reasons.exitedInRule;
        return 'diverge';
      }
      this.complete(w, rule);
    }
    for (;;) {
      const { event: ev, eof } = leader.get(s.next);
      if (!ev) return eof ? 'ok' : 'need_more';
      let found = false;
      for (const id of leaderCandidates(this.a, ev.nr, ev.args)) {
        const rule = this.a.rules[id]!;
        if (rule.rhs === 'seq') continue;
        const m = this.matchLeft(w, rule, leader);
        if (m === 'need') return 'need_more';
        if (m === 'no') continue;
        if (w.acts.length + rule.left.length > MAX_LEFT) return 'need_more';
        if (rule.rhs === 'diverge') {
          w.res.rule = id;
          w.res.reason = rule.reason || Reasons.expected;
          return 'expected_diverge';
        }
        for (let i = 0; i < rule.left.length; i++) w.acts.push({ event: s.next + BigInt(i), action: 'skip' });
        w.skippedBy.push(id);
        s.next += BigInt(rule.left.length);
        found = true;
        break;
      }
      if (!found) {
        w.res.reason = Reasons.leftover;
        return 'diverge';
      }
    }
  }

  // ---- blocks ---------------------------------------------------------------------------------

  private varsFor(w: Work, scope: VarRef[], call: FollowerCall | null, outs: (Uint8Array | null)[] | null): Map<string, VarValue> {
    const m = new Map<string, VarValue>();
    for (const v of scope) {
      const bytes = v.kind !== 'fd' && v.kind !== 'int' && v.kind !== 'size' && v.kind !== 'flags' && v.kind !== 'ptr';
      if (v.from === 'left') {
        const e = w.lev[v.item]!;
        m.set(v.name, bytes ? { kind: 'bytes', value: e.bufs[v.arg] ?? new Uint8Array(0) } : { kind: 'number', value: e.args[v.arg] ?? 0n });
      } else if (v.from === 'call' && call) {
        if (!bytes) m.set(v.name, { kind: 'number', value: call.args[v.arg] ?? 0n });
        else if (v.kind === 'out_bytes' || v.kind === 'out_struct') {
          const cap = Math.min(call.caps[v.arg] ?? 0, CALLBACK_OUT_MAX);
          m.set(v.name, { kind: 'bytes', value: capped(outs?.[v.arg] ?? new Uint8Array(0), cap), cap });
        }
        else m.set(v.name, { kind: 'bytes', value: call.bufs[v.arg] ?? new Uint8Array(0) });
      } else if (v.from === 'slot') m.set(v.name, { kind: 'number', value: w.s.slots[v.slot] ?? 0n });
      else m.set(v.name, bytes ? { kind: 'bytes', value: new Uint8Array(0) } : { kind: 'number', value: 0n });
    }
    return m;
  }

  private runGuard(rule: IrRule, g: IrGuard, vars: Map<string, VarValue>): boolean {
    return (this.opts.blocks ?? typedBlocks).guard(rule, g, vars);
  }

  private runCallback(w: Work, rule: IrRule, item: IrRightItem, call: FollowerCall): void {
    const cb = item.callback!;
    const vars = this.varsFor(w, item.scope, call, w.res.out);
    vars.set(cb.retName, { kind: 'number', value: w.res.ret });
    const { values: after, overflow } = (this.opts.blocks ?? typedBlocks).callback(rule, cb, vars);
    if (overflow) w.overflow = true;
    const r = after.get(cb.retName);
    if (r?.kind === 'number') w.res.ret = r.value;
    for (const v of item.scope) {
      if (v.from !== 'call' || (v.kind !== 'out_bytes' && v.kind !== 'out_struct')) continue;
      const nv = after.get(v.name);
      if (nv?.kind === 'bytes' && (w.res.out[v.arg] || nv.value.length > 0)) w.res.out[v.arg] = capped(nv.value, Math.min(call.caps[v.arg] ?? 0, CALLBACK_OUT_MAX));
    }
  }
}

interface Decision {
  /** Left item given to the follower (MATCH), or -1 (EXEC/EMULATE). */
  k: number;
  /** Argument patterns of the matched item (rewrites of outputs, slots to save). */
  args: IrArg[] | null;
}

/** EMULATE's default result: the requested count for byte-count calls (an argument, or the bytes
 *  gathered / the capacity offered for iovecs and msghdrs), else 0. */
export function defaultRet(sc: SyscallInfo | undefined, call: FollowerCall): bigint {
  return emulatedCount(sc, call);
}
