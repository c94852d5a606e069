// The matching automaton: the rule IR plus the dispatch tables that make choosing a rule O(1) in
// the number of rules for the common case.
// - Leader dispatch: the syscall number of the next leader event selects the rules (in file order)
//   whose first left item can match it. When several of those rules test the same argument of
//   that first item against integer literals (`write(1,_,_)`, `write(2,_,_)`, ...), a second level
//   keyed by that argument's value narrows the list further; rules without a literal there are in
//   every bucket, so a bucket is exactly "the rules whose first item is not refuted by this value".
// - Follower dispatch: `nothing => ...` rules by the follower call's syscall number.
// The interpreter and the generated C both use these lists; since a rule left out of a list
// would have failed on its first left item anyway, the lists never change what is decided.
import { lowerProgram, type IrRule } from './ir.ts';
import type { Program } from '../check/program-types.ts';
import type { SyscallInfo } from '../syscalls/types.ts';
import { syscallByNr } from '../syscalls/lookup.ts';

export interface LiteralIndex {
  /** The argument of the first left item whose value selects the bucket. */
  arg: number;
  /** Sorted by value (signed 64-bit). Each list holds rule ids in file order. */
  buckets: { value: bigint; rules: number[] }[];
  /** Rules for a value that has no bucket (those without a literal at `arg`). */
  rest: number[];
}

export interface Automaton {
  program: Program;
  rules: IrRule[];
  /** Leader event syscall number -> rules with a left side whose first item can match it. */
  leader: Map<number, number[]>;
  literal: Map<number, LiteralIndex>;
  /** Follower syscall number -> `nothing => ...` rules that can start with it (file order). */
  nothing: Map<number, number[]>;
  /** `nothing` rules whose right side takes any call (`nothing => diverge`). */
  nothingAny: number[];
  /** The `begin` rule, or -1. */
  begin: number;
  syscall: (nr: number) => SyscallInfo | undefined;
}

export interface AutomatonOptions {
  /** Syscall lookup by number (default: the x86-64 table). */
  syscallByNr?: (nr: number) => SyscallInfo | undefined;
}

/** A literal index is built only for lists at least this long. */
const INDEX_MIN = 4;
/** ... and only while its buckets stay this small in total (rules without a literal are copied into each). */
const INDEX_MAX_ENTRIES = 1 << 20;

function mergeSorted(a: number[], b: number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]! < b[j]!)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

function buildLiteralIndex(rules: IrRule[], nr: number, ids: number[]): LiteralIndex | undefined {
  if (ids.length < INDEX_MIN) return undefined;
  // literal value at each argument position, per rule (undefined: no single literal there)
  const lits = ids.map((id) => {
    const alts = rules[id]!.left[0]!.alts.filter((a) => a.nr === nr);
    if (alts.length !== 1) return [] as (bigint | undefined)[];
    return alts[0]!.args.map((a) => (a.cls === 'scalar' && a.op.op === 'int' ? a.op.value : undefined));
  });
  let best = -1;
  let bestCount = 0;
  for (let k = 0; k < 6; k++) {
    const c = lits.filter((l) => l[k] !== undefined).length;
    if (c > bestCount) {
      best = k;
      bestCount = c;
    }
  }
  if (best < 0 || bestCount < 2) return undefined;
  const byValue = new Map<bigint, number[]>();
  const rest: number[] = [];
  ids.forEach((id, i) => {
    const v = lits[i]![best];
    if (v === undefined) rest.push(id);
    else {
      const l = byValue.get(v) ?? [];
      l.push(id);
      byValue.set(v, l);
    }
  });
  if (byValue.size * rest.length > INDEX_MAX_ENTRIES) return undefined;
  const buckets = [...byValue.entries()]
    .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    .map(([value, l]) => ({ value, rules: mergeSorted(l, rest) }));
  return { arg: best, buckets, rest };
}

export function buildAutomaton(program: Program, opts: AutomatonOptions = {}): Automaton {
  const rules = lowerProgram(program);
  const leader = new Map<number, number[]>();
  const nothing = new Map<number, number[]>();
  const nothingAny: number[] = [];
  let begin = -1;
  const push = (m: Map<number, number[]>, nr: number, id: number) => {
    const l = m.get(nr) ?? [];
    if (l[l.length - 1] !== id) l.push(id);
    m.set(nr, l);
  };
  rules.forEach((r, id) => {
    if (r.kind === 'seq') {
      for (const a of r.left[0]?.alts ?? []) push(leader, a.nr, id);
    } else if (r.kind === 'nothing') {
      if (r.firstFollowerNrs === 'any') nothingAny.push(id);
      else for (const nr of [...r.firstFollowerNrs].sort((x, y) => x - y)) push(nothing, nr, id);
    } else if (begin < 0) begin = id;
  });
  // `nothing => diverge` rules take any call: merge them into every list, keeping file order.
  if (nothingAny.length) for (const [nr, l] of nothing) nothing.set(nr, mergeSorted(l, nothingAny));
  const literal = new Map<number, LiteralIndex>();
  for (const [nr, ids] of leader) {
    const idx = buildLiteralIndex(rules, nr, ids);
    if (idx) literal.set(nr, idx);
  }
  return { program, rules, leader, literal, nothing, nothingAny, begin, syscall: opts.syscallByNr ?? syscallByNr };
}

/** The rules to try, in order, for a leader event (syscall `nr`, arguments `args`). */
export function leaderCandidates(a: Automaton, nr: number, args: readonly bigint[]): readonly number[] {
  const idx = a.literal.get(nr);
  if (!idx) return a.leader.get(nr) ?? [];
  const v = args[idx.arg] ?? 0n;
  let lo = 0;
  let hi = idx.buckets.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const b = idx.buckets[mid]!;
    if (b.value === v) return b.rules;
    if (b.value < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return idx.rest;
}

export function nothingCandidates(a: Automaton, nr: number): readonly number[] {
  return a.nothing.get(nr) ?? a.nothingAny;
}
