// The checker (LANGUAGE.md §4): resolves every rule (names, labels, variables and their kinds)
// into a ResolvedRule and reports what makes a rule wrong or suspicious. It keeps going after
// errors, so one run reports every problem; a rule that fails to resolve still yields a
// ResolvedRule (with no alternatives where a name is unknown) so later passes see the whole file.
//
// Definitions used by the cross-rule checks (rule A is tried before rule B, docs/semantics.md):
//
//   A rule's SITUATION is what it tests before it applies: its left items and, when its right
//   side starts with an unstarred follower call, that call's pattern (details and the argument
//   positions that are not tests: "situations" below).
//   A COVERS B when A has no predicate on a left item and A's situation unifies one-way onto B's:
//   A's variables may stand for any of B's terms, but each for the same one everywhere in A;
//   B's `_` and variables stay what they are (a `_` is a value of its own); literals must be
//   equal. A rule whose right side is `nothing` or `diverge` needs no follower call, so only its
//   left side counts; a starred or guarded first item covers nothing.
//
//   SHADOWED (MVR4001, warning): A covers B. A applies whenever B would, so B never fires.
//   CONFLICTING (MVR4002, error): A covers B and B covers A (the same situation up to renaming
//     variables), neither has a predicate (left guards, first right item's guard), and the right
//     sides differ (compared with variables renamed by first occurrence). The two rules claim the
//     same situation with different follower actions; which one was meant cannot be told. An
//     identical repeat is only shadowed; a more specific rule before a general one (A covers
//     nothing of B's, B covers A) is how exceptions are written and is not reported; nor are
//     rules that only overlap (neither covers the other): file order decides there, as documented.
//   Both are sufficient conditions decided on the patterns alone: a rule whose shadowing depends
//   on what predicates compute is never reported. Candidates are found through an index (by first
//   syscall and its literals), so checking is near-linear in the number of rules.
import type { Arg, CBlock, LhsItem, Rule, RhsItem, TsBlock, TsExpr } from '../syntax/ast.ts';
import { bindArgs, lookupCallName, reportUnknownName, resolveCall, type BoundAlternative, type GroupTable } from './binder.ts';
import { Diag } from '../core/diagnostic-messages.ts';
import { MVR_MAX_LEADER_ACTIONS } from '../core/abi.generated.ts';
import type { DiagnosticBag } from '../core/diagnostics.ts';
import type {
  CallAlternative,
  PatternArg,
  ResolvedLhs,
  ResolvedLhsItem,
  ResolvedRhs,
  ResolvedRhsItem,
  ResolvedRule,
  VariableInfo,
} from './program-types.ts';
import type { Span } from '../core/span.ts';
import type { ParamKind } from '../syscalls/types.ts';
import { paramKindDescription, suggestSyscallName, syscallByName } from '../syscalls/lookup.ts';
import { didYouMean } from '../core/suggest.ts';
import { checkTypedBlock, checkTypedExpr, type TypedEnv } from '../typed/index.ts';

/** MVR_MAX_LEADER_ACTIONS in runtime-c/include/mvr_rules.h (both from runtime-c/common/mvr_abi.tsv). */
export const MAX_LEFT_ITEMS = MVR_MAX_LEADER_ACTIONS;

/** Bounds the pairwise rule comparisons so a huge generated file cannot make `check` quadratic-slow. */
const MAX_PAIR_COMPARISONS = 4_000_000;
/** Shadowed rules listed one by one; past this, one note counts the rest (a file that repeats a
 *  rule 200,000 times would otherwise print hundreds of MB of warnings). */
const MAX_SHADOW_REPORTS = 100;

export interface RuleInput {
  file: string;
  rule: Rule;
}

interface VarRecord {
  info: VariableInfo;
  first: { file: string; span: Span };
  /** Occurrences written in the rule itself (not coming from a group definition). */
  own: { file: string; span: Span }[];
  fromGroup: number;
}

/** Per-rule facts the cross-rule checks need. */
interface RuleFacts {
  /** Canonical text of the right side, to tell "same actions" from "different actions". */
  rhsKey: string;
}

const OUTPUT_KINDS: ReadonlySet<ParamKind> = new Set<ParamKind>(['out_bytes', 'out_struct']);

/** Checks every rule (in priority order) and returns them resolved. Never throws. */
export function checkRules(inputs: readonly RuleInput[], groups: GroupTable, diags: DiagnosticBag): ResolvedRule[] {
  const rules: ResolvedRule[] = [];
  const facts: RuleFacts[] = [];
  const reportedGroupConflicts = new Set<string>();
  inputs.forEach((input, id) => {
    try {
      const c = new RuleChecker(id, input.file, input.rule, groups, diags, reportedGroupConflicts);
      const r = c.run();
      rules.push(r);
      facts.push(c.facts());
    } catch (e) {
      internalError(diags, input.file, input.rule.span, 'checking this rule', e);
      rules.push({ id, file: input.file, ast: input.rule, lhs: { kind: 'nothing' }, rhs: { kind: 'nothing' }, variables: new Map() });
      facts.push({ rhsKey: `#broken${id}` });
    }
  });
  try {
    checkAcrossRules(rules, facts, diags);
  } catch (e) {
    internalError(diags, inputs[0]?.file ?? '', { offset: 0, length: 0 }, 'comparing rules', e);
  }
  return rules;
}

export function internalError(diags: DiagnosticBag, file: string, at: Span, what: string, e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  diags.add(Diag.InternalError, file, at, [what, msg]);
}

// ---------------------------------------------------------------------------------------------
// One rule

interface LabelRecord {
  lhsIndex: number;
  span: Span;
  uses: Span[];
  alternatives: CallAlternative[];
}

class RuleChecker {
  private readonly vars = new Map<string, VarRecord>();
  private readonly labels = new Map<string, LabelRecord>();
  private readonly allVarCount = new Map<string, number>();
  /** Identifiers mentioned in C blocks and typed blocks (a variable named there is used). */
  private readonly mentioned = new Set<string>();
  /** Variables written in calls whose name did not resolve: counted as uses, but of no known kind. */
  private readonly untyped = new Map<string, { file: string; span: Span }[]>();
  private rhsKey = '';

  constructor(
    private readonly id: number,
    private readonly file: string,
    private readonly rule: Rule,
    private readonly groups: GroupTable,
    private readonly diags: DiagnosticBag,
    private readonly reportedGroupConflicts: Set<string>,
  ) {}

  run(): ResolvedRule {
    const { rule, file, diags } = this;
    if (rule.lhs.kind === 'Nothing' && rule.rhs.kind === 'Nothing') diags.add(Diag.NothingToNothing, file, rule.span);

    const lhs = this.resolveLhs();
    const rhs = this.resolveRhs();
    if (rhs.kind === 'seq') this.rhsKey = canonicalRhsKey(lhs, rhs);
    this.collectMentions();
    this.checkUnusedVariables();
    this.checkLabels();
    this.checkBlocks(rhs);
    this.checkRhsShape(lhs, rhs);
    this.checkLocalCalls(lhs, rhs);

    const variables = new Map<string, VariableInfo>();
    for (const [name, v] of this.vars) variables.set(name, v.info);
    const out: ResolvedRule = { id: this.id, file, ast: rule, lhs, rhs, variables };
    if (rule.name) out.name = rule.name.name;
    return out;
  }

  facts(): RuleFacts {
    return { rhsKey: this.rhsKey };
  }

  // ---- variables ----------------------------------------------------------------------------

  /** Records every variable of bound alternatives: kind conflicts (MVR3002), sides, counts. */
  private useVariables(bound: readonly BoundAlternative[], side: 'leader' | 'follower'): void {
    for (const b of bound) {
      b.alt.args.forEach((p, i) => {
        if (p.kind !== 'var') return;
        const at = b.argSpans[i] ?? { offset: 0, length: 0 };
        this.useVariable(p.name, p.varKind, b.file, at, side, b.fromGroup);
      });
    }
  }

  private useVariable(name: string, kind: ParamKind, file: string, at: Span, side: 'leader' | 'follower', fromGroup: boolean): void {
    this.allVarCount.set(name, (this.allVarCount.get(name) ?? 0) + 1);
    const prev = this.vars.get(name);
    if (!prev) {
      this.vars.set(name, {
        info: { name, kind, side },
        first: { file, span: at },
        own: fromGroup ? [] : [{ file, span: at }],
        fromGroup: fromGroup ? 1 : 0,
      });
      return;
    }
    if (fromGroup) prev.fromGroup++;
    else prev.own.push({ file, span: at });
    if (prev.info.kind !== kind) {
      // A conflict inside one group definition would otherwise be reported once per rule using it.
      const key = `${file}\0${at.offset}`;
      if (fromGroup && this.reportedGroupConflicts.has(key)) return;
      if (fromGroup) this.reportedGroupConflicts.add(key);
      this.diags.add(Diag.VariableKindConflict, file, at, [name, paramKindDescription(kind), paramKindDescription(prev.info.kind)], {
        related: [{ file: prev.first.file, span: prev.first.span, message: `'${name}' is first used here, as ${paramKindDescription(prev.info.kind)}` }],
      });
    }
  }

  private collectMentions(): void {
    const add = (text: string) => {
      for (const m of text.matchAll(/[A-Za-z_][A-Za-z0-9_]*/g)) {
        this.mentioned.add(m[0]);
        // A buffer variable's C locals include NAME_len and NAME_cap (LANGUAGE.md §5).
        const base = /^(.+)_(?:len|cap)$/.exec(m[0]);
        if (base) this.mentioned.add(base[1]!);
      }
    };
    for (const block of this.blocks()) add(block.node.kind === 'CBlock' ? block.node.code : block.node.text);
  }

  /** Arguments of a call that did not resolve (already reported) still count as variable uses. */
  private useUntyped(args: readonly Arg[] | null, file: string): void {
    for (const a of args ?? []) {
      if (a.kind !== 'Var') continue;
      const list = this.untyped.get(a.name) ?? [];
      list.push({ file, span: a.span });
      this.untyped.set(a.name, list);
    }
  }

  private checkUnusedVariables(): void {
    for (const [name, v] of this.vars) {
      if (v.fromGroup > 0 || v.own.length !== 1 || this.untyped.has(name) || this.mentioned.has(name)) continue;
      const use = v.own[0]!;
      this.diags.add(Diag.UnusedVariable, use.file, use.span, [name]);
    }
  }

  // ---- left side ----------------------------------------------------------------------------

  private resolveLhs(): ResolvedLhs {
    const lhs = this.rule.lhs;
    if (lhs.kind === 'Nothing') return { kind: 'nothing' };
    if (lhs.kind === 'Begin') return { kind: 'begin' };
    if (lhs.items.length > MAX_LEFT_ITEMS) this.diags.add(Diag.LeftSideTooLong, this.file, lhs.span, [lhs.items.length, MAX_LEFT_ITEMS]);
    const items: ResolvedLhsItem[] = lhs.items.map((item, index) => this.resolveLhsItem(item, index));
    return { kind: 'seq', items };
  }

  private resolveLhsItem(item: LhsItem, index: number): ResolvedLhsItem {
    const bound = resolveCall(item.call, this.file, this.groups, this.diags);
    if (bound.length === 0) this.useUntyped(item.call.args, this.file);
    this.useVariables(bound, 'leader');
    const out: ResolvedLhsItem = { ast: item, alternatives: bound.map((b) => b.alt) };
    if (item.guard) out.guard = item.guard;
    if (item.label) {
      const name = item.label.name;
      out.label = name;
      const prev = this.labels.get(name);
      if (prev) {
        this.diags.add(Diag.DuplicateLabel, this.file, item.label.span, [name], {
          related: [{ file: this.file, span: prev.span, message: `'${name}' is first bound here` }],
        });
      } else {
        this.labels.set(name, { lhsIndex: index, span: item.label.span, uses: [], alternatives: out.alternatives });
        if (syscallByName(name)) this.diags.add(Diag.LabelShadowsSyscall, this.file, item.label.span, [name]);
      }
    }
    return out;
  }

  // ---- right side ---------------------------------------------------------------------------

  private resolveRhs(): ResolvedRhs {
    const rhs = this.rule.rhs;
    if (rhs.kind === 'Nothing') {
      this.rhsKey = 'nothing';
      return { kind: 'nothing' };
    }
    if (rhs.kind === 'Diverge') {
      if (!rhs.reason) this.diags.add(Diag.DivergeWithoutReason, this.file, rhs.span);
      const reason = rhs.reason ? new TextDecoder().decode(rhs.reason.value) : '';
      this.rhsKey = 'diverge';
      return { kind: 'diverge', reason };
    }
    const items = rhs.items.map((item) => this.resolveRhsItem(item));
    return { kind: 'seq', items };
  }

  private resolveRhsItem(item: RhsItem): ResolvedRhsItem {
    const base: { ast: RhsItem; guard?: CBlock | TsExpr; callback?: { body: CBlock | TsBlock; retName: string }; star: boolean } = {
      ast: item,
      star: item.star,
    };
    if (item.guard) base.guard = item.guard;
    if (item.callback) base.callback = { body: item.callback.body, retName: item.callback.retName?.name ?? 'ret' };

    const name = item.call.name.name;
    const label = this.labels.get(name);
    if (label) {
      label.uses.push(item.call.name.span);
      if (item.call.args === null) return { ...base, kind: 'label', label: name, lhsIndex: label.lhsIndex, args: null };
      return { ...base, kind: 'label', label: name, lhsIndex: label.lhsIndex, args: this.resolveReplayArgs(name, label, item.call.args) };
    }
    if (item.call.args === null && lookupCallName(name, this.groups).kind === 'unknown') {
      // A bare name is a label, a group or a syscall: suggest the closest of them all.
      const hint = suggestSyscallName(name, [...this.labels.keys(), ...this.groups.names()]);
      this.diags.add(Diag.UnknownLabel, this.file, item.call.name.span, [name], hint !== undefined ? { help: `did you mean '${hint}'?` } : {});
      return { ...base, kind: 'call', alternatives: [] };
    }
    if (item.call.args !== null && lookupCallName(name, this.groups).kind === 'unknown') {
      reportUnknownName(name, item.call.name.span, this.file, this.diags, [...this.groups.names(), ...this.labels.keys()]);
      this.useUntyped(item.call.args, this.file);
      return { ...base, kind: 'call', alternatives: [] };
    }
    const bound = resolveCall(item.call, this.file, this.groups, this.diags);
    if (bound.length === 0) this.useUntyped(item.call.args, this.file);
    this.useVariables(bound, 'follower');
    return { ...base, kind: 'call', alternatives: bound.map((b) => b.alt) };
  }

  /**
   * `r(args)`: the labelled leader event replayed with other argument patterns (MVR3005 on arity).
   * The patterns are checked against every alternative of the labelled item (a group label may
   * stand for several syscalls) and returned padded to the first alternative's arity.
   */
  private resolveReplayArgs(label: string, rec: LabelRecord, args: readonly Arg[]): PatternArg[] | null {
    const alts = rec.alternatives;
    if (alts.length === 0) return args.map(() => ({ kind: 'any' }) as PatternArg);
    let first: PatternArg[] | null = null;
    let reported = false;
    for (const alt of alts) {
      // Arity and literal errors are reported once, for the first alternative that has them.
      const sink = reported ? muted(this.diags) : this.diags;
      const before = this.diags.items.length;
      const b = bindArgs(alt.syscall, args, this.file, sink, { label });
      if (this.diags.items.length > before) reported = true;
      this.useVariables([{ ...b, fromGroup: false }], 'follower');
      first ??= b.alt.args;
    }
    return first;
  }

  // ---- labels -------------------------------------------------------------------------------

  private checkLabels(): void {
    for (const [name, rec] of this.labels) {
      if (rec.uses.length === 0) this.diags.add(Diag.UnusedLabel, this.file, rec.span, [name]);
      for (const again of rec.uses.slice(1)) {
        this.diags.add(Diag.LabelUsedTwice, this.file, again, [name], {
          related: [{ file: this.file, span: rec.uses[0]!, message: `'${name}' is first used here` }],
        });
      }
    }
  }

  // ---- C blocks and typed blocks ------------------------------------------------------------

  private *blocks(): Generator<{ node: CBlock | TsExpr | TsBlock; where: 'lhs-guard' | 'rhs-guard' | 'callback'; item?: RhsItem }> {
    const { lhs, rhs } = this.rule;
    if (lhs.kind === 'LhsSeq') for (const it of lhs.items) if (it.guard) yield { node: it.guard, where: 'lhs-guard' };
    if (rhs.kind === 'RhsSeq') {
      for (const it of rhs.items) {
        if (it.guard) yield { node: it.guard, where: 'rhs-guard', item: it };
        if (it.callback) yield { node: it.callback.body, where: 'callback', item: it };
      }
    }
  }

  private checkBlocks(rhs: ResolvedRhs): void {
    const rhsItems = rhs.kind === 'seq' ? rhs.items : [];
    for (const b of this.blocks()) {
      const retName = b.where === 'callback' ? (b.item?.callback?.retName?.name ?? 'ret') : undefined;
      if (b.node.kind === 'CBlock') {
        this.checkCVariables(b.node, retName);
        continue;
      }
      const resolvedItem = b.item ? rhsItems.find((r) => r.ast === b.item) : undefined;
      const env = this.typedEnv(b.where, resolvedItem, retName);
      try {
        if (b.node.kind === 'TsExpr') checkTypedExpr(b.node, this.file, env, this.diags);
        else checkTypedBlock(b.node, this.file, env, this.diags);
      } catch (e) {
        internalError(this.diags, this.file, b.node.span, 'checking a typed block', e);
      }
    }
  }

  private checkCVariables(block: CBlock, retName: string | undefined): void {
    for (const m of block.code.matchAll(/\$\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)/g)) {
      const name = m[1]!;
      if (this.vars.has(name) || this.untyped.has(name) || name === retName) continue;
      const hint = didYouMean(name, [...this.vars.keys(), ...this.untyped.keys(), ...(retName !== undefined ? [retName] : [])]);
      this.diags.add(Diag.UnknownCVariable, this.file, { offset: block.codeOffset + m.index, length: m[0].length }, [name], hint !== undefined ? { help: hint } : {});
    }
  }

  /**
   * The variables a typed block sees. A left-side guard runs before the follower has made any
   * call, so it sees the leader's variables only. A callback may assign the follower outputs of
   * its own item (out_bytes / out_struct arguments written on that right-hand item) and `ret`.
   */
  private typedEnv(where: 'lhs-guard' | 'rhs-guard' | 'callback', item: ResolvedRhsItem | undefined, retName: string | undefined): TypedEnv {
    const writable = new Set<string>();
    if (where === 'callback' && item) {
      const patterns: PatternArg[][] = item.kind === 'call' ? item.alternatives.map((a) => a.args) : item.args ? [item.args] : [];
      for (const args of patterns) for (const p of args) if (p.kind === 'var' && OUTPUT_KINDS.has(p.varKind)) writable.add(p.name);
    }
    const vars = new Map<string, { kind: ParamKind; writable: boolean }>();
    for (const [name, v] of this.vars) {
      if (where === 'lhs-guard' && v.info.side !== 'leader') continue;
      vars.set(name, { kind: v.info.kind, writable: writable.has(name) });
    }
    const env: TypedEnv = retName !== undefined ? { vars, retName } : { vars };
    return env;
  }

  // ---- shape of the right side --------------------------------------------------------------

  private checkRhsShape(lhs: ResolvedLhs, rhs: ResolvedRhs): void {
    if (rhs.kind !== 'seq') return;
    const astRhs = this.rule.rhs;
    if (rhs.items.length > 0 && rhs.items.every((i) => i.star) && astRhs.kind === 'RhsSeq') {
      this.diags.add(Diag.OnlyStarredItems, this.file, astRhs.span);
    }
    // `x *` followed by a pattern x takes every call the next item could take.
    for (let i = 0; i + 1 < rhs.items.length; i++) {
      const a = rhs.items[i]!;
      const b = rhs.items[i + 1]!;
      if (!a.star || a.guard || a.kind !== 'call' || b.kind !== 'call') continue;
      const free = (name: string) => this.allVarCount.get(name) === 1;
      if (altsCover(a.alternatives, b.alternatives, free)) {
        this.diags.add(Diag.StarAfterStarAmbiguous, this.file, b.ast.call.span, [a.ast.call.name.name], {
          related: [{ file: this.file, span: a.ast.span, message: 'the starred item is here' }],
        });
      }
    }
    // Which right-hand calls the follower makes alone (LANGUAGE.md §3): an unlabelled item pairs
    // with the next unconsumed left item of the same syscall, skipping the left items that a
    // label on the right side takes (as compiler/semantics/interpreter.ts does); labels get leader results.
    const referenced = new Set(rhs.items.flatMap((i) => (i.kind === 'label' ? [i.lhsIndex] : [])));
    const queue = lhs.kind === 'seq' ? lhs.items.filter((_, k) => !referenced.has(k)) : [];
    let next = 0;
    for (const item of rhs.items) {
      if (item.kind !== 'call' || item.alternatives.length === 0) continue;
      const left = queue[next];
      // A left item that did not resolve (already an error) pairs with anything: no cascade of notes.
      if (left && (left.alternatives.length === 0 || left.alternatives.some((l) => item.alternatives.some((r) => r.syscall.nr === l.syscall.nr)))) {
        next++;
        continue;
      }
      if (item.alternatives.some((a) => a.syscall.effect === 'external')) {
        const how = item.callback ? ' (its callback sets the result)' : ' (its result is success with the requested count unless a callback sets it)';
        this.diags.add(Diag.EmulationNote, this.file, item.ast.call.span, [item.ast.call.name.name, how]);
      }
    }
  }

  // ---- calls the runtime never matches ------------------------------------------------------

  /**
   * A rule naming a call that each version executes on its own (memory, signal masks, futex,
   * rseq...: not recorded, so the matcher never sees it) would pass and then silently never act.
   * A rule made only of such calls is refused as a whole (MVR4014); in a rule that also names
   * recorded calls, each such item is refused where it is written (MVR4015): on the left it can
   * never match a leader event, on the right an unstarred item waits for a call that never comes.
   * An item naming a group is reported at the group's members (compiler/check/binder.ts).
   */
  private checkLocalCalls(lhs: ResolvedLhs, rhs: ResolvedRhs): void {
    const lhsItems = lhs.kind === 'seq' ? lhs.items : [];
    const rhsItems = rhs.kind === 'seq' ? rhs.items : [];
    const lhsLocal = lhsItems.map((i) => namesOnlyLocalCalls(i.alternatives));
    const rhsLocal = rhsItems.map((i) => (i.kind === 'label' ? (lhsLocal[i.lhsIndex] ?? false) : namesOnlyLocalCalls(i.alternatives)));
    const all = [...lhsLocal, ...rhsLocal];
    if (all.length > 0 && all.every(Boolean)) {
      const names = [...new Set([...lhsItems.flatMap((i) => i.alternatives), ...rhsItems.flatMap((i) => (i.kind === 'call' ? i.alternatives : []))].map((a) => a.syscall.name))];
      this.diags.add(Diag.RuleOnLocalCalls, this.file, this.rule.span, [names.join(', ')]);
      return;
    }
    const direct = (call: { name: { name: string } }) => this.groups.get(call.name.name) === undefined;
    lhsItems.forEach((item, k) => {
      if (lhsLocal[k] && direct(item.ast.call)) this.diags.add(Diag.LocalCallInRule, this.file, item.ast.call.name.span, [item.ast.call.name.name, 'this rule can never apply']);
    });
    rhsItems.forEach((item, k) => {
      if (item.kind !== 'call' || !rhsLocal[k] || !direct(item.ast.call)) return;
      const why = item.star ? 'this starred item never takes a call' : lhs.kind === 'begin' ? "the start-up this 'begin' rule waits for can never end" : 'this rule can never complete';
      this.diags.add(Diag.LocalCallInRule, this.file, item.ast.call.name.span, [item.ast.call.name.name, why]);
    });
  }
}

/** True when an item can only ever name calls the runtime never matches (docs/language.md,
 *  "Local calls"): each version executes them on its own, the leader does not record them and
 *  the follower's are not stepped through the rules. */
export function namesOnlyLocalCalls(alternatives: readonly CallAlternative[]): boolean {
  return alternatives.length > 0 && alternatives.every((a) => !a.syscall.recorded);
}

/** A DiagnosticBag stand-in that drops everything (for repeated checks of the same text). */
function muted(diags: DiagnosticBag): DiagnosticBag {
  const copy = Object.create(diags) as DiagnosticBag;
  copy.add = () => undefined;
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Pattern coverage (definitions at the top of this file)

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function argCovers(a: PatternArg, b: PatternArg, free: (name: string) => boolean): boolean {
  switch (a.kind) {
    case 'any':
      return true;
    case 'var':
      return free(a.name);
    case 'int':
      return b.kind === 'int' && b.value === a.value;
    case 'bytes':
      return b.kind === 'bytes' && bytesEqual(a.value, b.value);
  }
}

export function altsCover(as: readonly CallAlternative[], bs: readonly CallAlternative[], free: (name: string) => boolean): boolean {
  if (as.length === 0 || bs.length === 0) return false;
  return bs.every((b) => as.some((a) => a.syscall.nr === b.syscall.nr && a.args.every((x, i) => b.args[i] !== undefined && argCovers(x, b.args[i]!, free))));
}

function lhsHasPredicate(lhs: ResolvedLhs): boolean {
  return lhs.kind === 'seq' && lhs.items.some((i) => i.guard !== undefined);
}

// ---- situations: what a rule tests before it applies ------------------------------------------
//
// A rule applies to a SITUATION: its left items (leader events) and, when its right side starts
// with a follower call, that first item. A situation is a list of argument terms per syscall
// alternative; a term is `_`, a variable, or a literal. Only what the matcher actually compares
// is kept (docs/semantics.md): pointers are never compared, and on the right side an output
// buffer (and the length of one a literal rewrites) is an action, not a test, so those are `_`.
//
// A COVERS B when some assignment of A's variables turns A's situation into B's, with B's terms
// held fixed: each of B's `_` is a distinct unknown value and each of B's variables one unknown
// value (so a variable A repeats — `read(fd,_,_) => read(fd,_,_)` — matches only where B repeats
// one too, or the same literal). This is one-way unification; both ways means the two rules test
// the same situation up to renaming their variables.

type Term = { t: 'any' } | { t: 'var'; name: string } | { t: 'lit'; key: string };
interface SitAlt {
  nr: number;
  args: Term[];
}
type SitItem = SitAlt[];
/** The first right item as far as coverage goes. */
type SitFirst =
  | { k: 'none' } // `nothing` / `diverge`: the rule needs no follower call
  | { k: 'opaque' } // starred, guarded or missing: covers nothing, is covered by no call pattern
  | { k: 'call'; item: SitItem }
  | { k: 'label'; lhsIndex: number; replay: boolean };
interface Situation {
  kind: 'seq' | 'nothing' | 'begin';
  left: SitItem[];
  first: SitFirst;
  /** A predicate on a left item or on the first right item. */
  predicate: boolean;
  leftPredicate: boolean;
}

const ANY: Term = { t: 'any' };

function litKey(p: PatternArg): string {
  return p.kind === 'int' ? `i${p.value}` : p.kind === 'bytes' ? `b${Buffer.from(p.value).toString('hex')}` : '';
}

function sitAlt(alt: CallAlternative, side: 'left' | 'right'): SitAlt {
  const params = alt.syscall.params;
  const ignore = new Set<number>();
  if (side === 'right') {
    alt.args.forEach((a, j) => {
      const p = params[j];
      if (p && (p.kind === 'out_bytes' || p.kind === 'out_struct')) {
        ignore.add(j);
        if (a.kind === 'bytes' && p.lenParam !== undefined) ignore.add(p.lenParam);
      }
    });
  }
  const args = alt.args.map((a, j): Term => {
    const kind = params[j]?.kind;
    if (kind === 'ptr' || ignore.has(j) || a.kind === 'any') return ANY;
    if (a.kind === 'var') return { t: 'var', name: a.name };
    return { t: 'lit', key: litKey(a) };
  });
  return { nr: alt.syscall.nr, args };
}

function situationOf(r: ResolvedRule): Situation {
  const left = r.lhs.kind === 'seq' ? r.lhs.items.map((it) => it.alternatives.map((a) => sitAlt(a, 'left'))) : [];
  const leftPredicate = lhsHasPredicate(r.lhs);
  let first: SitFirst = { k: 'none' };
  let predicate = leftPredicate;
  if (r.rhs.kind === 'seq') {
    const x = r.rhs.items[0];
    if (x?.guard) predicate = true;
    if (!x || x.star || x.guard) first = { k: 'opaque' };
    else if (x.kind === 'call') first = { k: 'call', item: x.alternatives.map((a) => sitAlt(a, 'right')) };
    else first = { k: 'label', lhsIndex: x.lhsIndex, replay: x.args !== null };
  }
  return { kind: r.lhs.kind, left, first, predicate, leftPredicate };
}

/** Most alternative combinations one coverage test explores (groups on several items multiply). */
const MAX_COMBINATIONS = 256;

/** B's term as a fixed value: `_` at each position is a value of its own. */
function rigidKey(t: Term, pos: string): string {
  return t.t === 'any' ? `_${pos}` : t.t === 'var' ? `v${t.name}` : `l${t.key}`;
}

function matchAlt(a: SitAlt, b: SitAlt, where: string, theta: Map<string, string>, undo: string[]): boolean {
  if (a.nr !== b.nr) return false;
  for (let j = 0; j < a.args.length; j++) {
    const x = a.args[j]!;
    if (x.t === 'any') continue;
    const bt = b.args[j];
    if (bt === undefined) return false;
    const key = rigidKey(bt, `${where}.${j}`);
    if (x.t === 'lit') {
      if (key !== `l${x.key}`) return false;
      continue;
    }
    const bound = theta.get(x.name);
    if (bound === undefined) {
      theta.set(x.name, key);
      undo.push(x.name);
    } else if (bound !== key) return false;
  }
  return true;
}

/**
 * Does A's situation cover B's? Items are matched in order; every alternative of a B item must
 * be covered by some alternative of the A item, with one consistent assignment of A's variables
 * per combination of B's alternatives. Gives up (false: nothing is reported) past
 * MAX_COMBINATIONS, so the answer is always a sufficient condition.
 */
function covers(a: Situation, b: Situation): boolean {
  if (a.leftPredicate || a.kind !== b.kind || a.kind === 'begin' || a.left.length !== b.left.length) return false;
  // The first right items, as pairs of SitItems to match after the left side, or decided here.
  const pairs: [SitItem, SitItem, string][] = a.left.map((it, i) => [it, b.left[i]!, `l${i}`]);
  const fa = a.first;
  const fb = b.first;
  if (fa.k === 'none') {
    /* A needs no follower call: the first items do not matter */
  } else if (fa.k === 'opaque' || fb.k === 'none' || fb.k === 'opaque') return false;
  else if (fa.k === 'label') {
    if (fb.k !== 'label' || fb.lhsIndex !== fa.lhsIndex || fb.replay !== fa.replay) return false;
  } else if (fb.k !== 'call') return false;
  else pairs.push([fa.item, fb.item, 'r0']);
  if (pairs.some(([x, y]) => x.length === 0 || y.length === 0)) return false;
  let combos = 1;
  for (const [, y] of pairs) {
    combos *= y.length;
    if (combos > MAX_COMBINATIONS) return false;
  }
  // For each combination of B's alternatives, search A's alternatives with backtracking.
  const choice = new Array<number>(pairs.length).fill(0);
  const theta = new Map<string, string>();
  const search = (i: number): boolean => {
    if (i === pairs.length) return true;
    const [xs, ys, where] = pairs[i]!;
    const y = ys[choice[i]!]!;
    for (const x of xs) {
      const undo: string[] = [];
      if (matchAlt(x, y, where, theta, undo) && search(i + 1)) return true;
      for (const n of undo) theta.delete(n);
    }
    return false;
  };
  for (let c = 0; c < combos; c++) {
    let rest = c;
    for (let i = 0; i < pairs.length; i++) {
      const n = pairs[i]![1].length;
      choice[i] = rest % n;
      rest = Math.floor(rest / n);
    }
    theta.clear();
    if (!search(0)) return false;
  }
  return true;
}

// ---- index: the earlier rules that may cover a rule ------------------------------------------
//
// Checking every pair would make `check` quadratic in the number of rules. A covers B only if
// their situations have the same kind and length and A's key item (the first left item, or the
// first right item of a `nothing => ...` rule) has an alternative with the syscall of B's, whose
// literals B has too, at the same positions. So rules are indexed by (kind, length, syscall) and
// then by the positions and values of their literals there; B looks up each set of positions
// used in its bucket. Rules that cover any first item (`nothing => diverge`) are in every list.

interface IndexEntry {
  /** Positions of literals -> their values joined -> rules (tried order). */
  byLits: Map<string, Map<string, number[]>>;
}

function keyItem(s: Situation): SitItem | 'any' | undefined {
  if (s.kind === 'seq') return s.left[0];
  if (s.kind !== 'nothing') return undefined;
  if (s.first.k === 'none') return 'any';
  return s.first.k === 'call' ? s.first.item : undefined;
}

class CoverIndex {
  private readonly buckets = new Map<string, IndexEntry>();
  private readonly wild = new Map<string, number[]>();

  add(s: Situation, order: number): void {
    if (s.leftPredicate || s.first.k === 'opaque') return; // covers nothing
    const shape = `${s.kind}/${s.left.length}`;
    const key = keyItem(s);
    if (key === undefined) return;
    if (key === 'any') {
      const l = this.wild.get(shape) ?? [];
      l.push(order);
      this.wild.set(shape, l);
      return;
    }
    const seen = new Set<string>();
    for (const alt of key) {
      const pos: number[] = [];
      const vals: string[] = [];
      alt.args.forEach((t, j) => {
        if (t.t === 'lit') {
          pos.push(j);
          vals.push(t.key);
        }
      });
      const bucketKey = `${shape}/${alt.nr}`;
      const posKey = pos.join(',');
      const valKey = vals.join('\0');
      const once = `${bucketKey}|${posKey}|${valKey}`;
      if (seen.has(once)) continue;
      seen.add(once);
      let e = this.buckets.get(bucketKey);
      if (!e) this.buckets.set(bucketKey, (e = { byLits: new Map() }));
      let m = e.byLits.get(posKey);
      if (!m) e.byLits.set(posKey, (m = new Map()));
      const l = m.get(valKey) ?? [];
      l.push(order);
      m.set(valKey, l);
    }
  }

  /** Earlier rules (tried order) that may cover s, ascending, lazily: the caller stops at the first that does. */
  *candidates(s: Situation): Generator<number> {
    const shape = `${s.kind}/${s.left.length}`;
    const lists: number[][] = [];
    const w = this.wild.get(shape);
    if (w) lists.push(w);
    const key = keyItem(s);
    const alt = key === 'any' || key === undefined ? undefined : key[0];
    if (alt) {
      const e = this.buckets.get(`${shape}/${alt.nr}`);
      for (const [posKey, m] of e?.byLits ?? []) {
        const vals: string[] = [];
        let ok = true;
        for (const j of posKey === '' ? [] : posKey.split(',').map(Number)) {
          const t = alt.args[j];
          if (!t || t.t !== 'lit') {
            ok = false;
            break;
          }
          vals.push(t.key);
        }
        const l = ok ? m.get(vals.join('\0')) : undefined;
        if (l) lists.push(l);
      }
    }
    // Merge the ascending lists (few of them) without copying.
    const at = lists.map(() => 0);
    let last = -1;
    for (;;) {
      let best = -1;
      for (let k = 0; k < lists.length; k++) if (at[k]! < lists[k]!.length && (best < 0 || lists[k]![at[k]!]! < lists[best]![at[best]!]!)) best = k;
      if (best < 0) return;
      const v = lists[best]![at[best]!++]!;
      if (v !== last) yield v;
      last = v;
    }
  }
}

/**
 * The right side as text, with variables named by their first occurrence in the rule (left side
 * first), so that two rules that differ only in variable names have the same key. Blocks are
 * compared as written.
 */
function canonicalRhsKey(lhs: ResolvedLhs, rhs: ResolvedRhs & { kind: 'seq' }): string {
  const canon = new Map<string, string>();
  const see = (args: readonly PatternArg[] | null) => {
    for (const a of args ?? []) if (a.kind === 'var' && !canon.has(a.name)) canon.set(a.name, `v${canon.size}`);
  };
  if (lhs.kind === 'seq') for (const it of lhs.items) for (const alt of it.alternatives) see(alt.args);
  for (const it of rhs.items) {
    if (it.kind === 'call') for (const alt of it.alternatives) see(alt.args);
    else see(it.args);
  }
  return rhs.items.map((i) => rhsItemKey(i, (n) => canon.get(n) ?? n)).join(' , ');
}

function patternKey(p: PatternArg, name: (n: string) => string): string {
  switch (p.kind) {
    case 'any':
      return '_';
    case 'var':
      return `$${name(p.name)}`;
    case 'int':
      return `${p.value}`;
    case 'bytes':
      return `"${[...p.value].join('.')}"`;
  }
}

function blockKey(b: CBlock | TsExpr | TsBlock | undefined): string {
  if (!b) return '';
  return `${b.kind}:${JSON.stringify(b.kind === 'CBlock' ? b.code : b.text)}`;
}

function rhsItemKey(i: ResolvedRhsItem, name: (n: string) => string): string {
  const key = (p: PatternArg) => patternKey(p, name);
  const target =
    i.kind === 'call'
      ? i.alternatives.map((a) => `${a.syscall.name}(${a.args.map(key).join(',')})`).join('|')
      : `@${i.lhsIndex}${i.args ? `(${i.args.map(key).join(',')})` : ''}`;
  const cb = i.callback ? `->(${i.callback.retName})${blockKey(i.callback.body)}` : '';
  return `${target} ${blockKey(i.guard)} ${cb}${i.star ? ' *' : ''}`;
}

// ---------------------------------------------------------------------------------------------
// Across rules

function checkAcrossRules(rules: readonly ResolvedRule[], facts: readonly RuleFacts[], diags: DiagnosticBag): void {
  let firstBegin: ResolvedRule | undefined;
  const names = new Map<string, ResolvedRule>();
  for (const r of rules) {
    if (r.lhs.kind === 'begin') {
      if (firstBegin) {
        diags.add(Diag.DuplicateBegin, r.file, r.ast.lhs.span, [], {
          related: [{ file: firstBegin.file, span: firstBegin.ast.lhs.span, message: "the first 'begin' rule is here" }],
        });
      } else firstBegin = r;
    }
    if (r.ast.name) {
      const prev = names.get(r.ast.name.name);
      if (prev && prev.ast.name) {
        diags.add(Diag.DuplicateRuleName, r.file, r.ast.name.span, [r.ast.name.name], {
          related: [{ file: prev.file, span: prev.ast.name.span, message: `'@${r.ast.name.name}' is first used here` }],
        });
      } else names.set(r.ast.name.name, r);
    }
  }

  // Rules in the order they are tried (docs/semantics.md): mapping and diverge rules before the
  // default match, leader-only (`X => nothing`) and follower-only (`nothing => Y`) rules after it,
  // each in file order. So a leader-only rule can be hidden by a mapping rule written after it.
  const low = (r: ResolvedRule): boolean => r.rhs.kind === 'nothing' || r.lhs.kind === 'nothing';
  const tried = rules.map((_, k) => k).sort((x, y) => Number(low(rules[x]!)) - Number(low(rules[y]!)) || x - y);
  // Situations are computed when needed rather than kept for every rule: with 200,000 rules
  // they would hold hundreds of MB; the index keeps only keys.
  const index = new CoverIndex();
  let budget = MAX_PAIR_COMPARISONS;
  let shadowed = 0;
  let unlisted: ResolvedRule | undefined;
  for (let jj = 0; jj < tried.length; jj++) {
    const j = tried[jj]!;
    const b = rules[j]!;
    if (b.lhs.kind === 'begin') continue;
    const sb = situationOf(b);
    for (const ii of index.candidates(sb)) {
      if (--budget < 0) break;
      const i = tried[ii]!;
      const a = rules[i]!;
      const sa = situationOf(a);
      if (!covers(sa, sb)) continue;
      // Conflict: the same situation both ways (up to renaming variables), no predicate on
      // either side, different actions. A more specific rule tried before a general one is the
      // way to write exceptions, and is not reported.
      const same = !sa.predicate && !sb.predicate && covers(sb, sa);
      if (same && facts[i]!.rhsKey !== facts[j]!.rhsKey) {
        diags.add(Diag.ConflictingRules, b.file, b.ast.span, [], { related: [{ file: a.file, span: a.ast.span, message: i < j ? 'the earlier rule is here' : 'the rule tried first is here (mapping and diverge rules come before leader-only ones)' }] });
      } else if (++shadowed > MAX_SHADOW_REPORTS) {
        unlisted ??= b;
      } else {
        diags.add(Diag.ShadowedRule, b.file, b.ast.span, [], {
          related: [{ file: a.file, span: a.ast.span, message: i < j ? 'the earlier rule that always applies first is here' : 'this rule, written later, is tried first and always applies (mapping and diverge rules come before leader-only ones)' }],
        });
      }
      break;
    }
    index.add(sb, jj);
  }
  if (unlisted) diags.add(Diag.ShadowedNotListed, unlisted.file, unlisted.ast.span, [shadowed - MAX_SHADOW_REPORTS]);
}
