// The checker (LANGUAGE.md §4): resolves every rule (names, labels, variables and their kinds)
// into a ResolvedRule and reports what makes a rule wrong or suspicious. It keeps going after
// errors, so one run reports every problem; a rule that fails to resolve still yields a
// ResolvedRule (with no alternatives where a name is unknown) so later passes see the whole file.
//
// Definitions used by the cross-rule checks (rule A is earlier than rule B in priority order):
//
//   A pattern arg `a` COVERS arg `b` when `a` is `_`, a FREE variable, or a literal equal to `b`
//   (same integer, same bytes). A variable is FREE in a context when nothing else constrains it
//   there: on the left side, when it occurs once in the left side's argument patterns; on the
//   right side, when it occurs once in the whole rule (so it is not a leader value either).
//   A call pattern COVERS another when every syscall alternative of the other has an alternative
//   of the same syscall whose args each cover the other's (unresolved patterns cover nothing).
//
//   A's LEFT SIDE COVERS B's when both are `nothing`, or both are sequences of the same length
//   whose items pairwise cover and A has no predicate (guard) on any left item.
//   A's FIRST RIGHT ITEM COVERS B's when A's right side is `nothing` or `diverge` (A needs no
//   follower call), or both first items are unstarred, A's has no guard, and they are calls that
//   cover, or the same bare label, or the same label replayed with covering args.
//
//   SHADOWED (MVR4001, warning): A's left side covers B's and A's first right item covers B's.
//     A applies whenever B would (rules are tried in priority order), so B never fires.
//   CONFLICTING (MVR4002, error): both directions hold (the left sides and first right items are
//     the same patterns), neither rule has a predicate (left guards, first right item's guard),
//     and the right sides differ. The two rules claim the same situation with different
//     follower actions; which one was meant cannot be told, so this is an error. An identical
//     repeat is only shadowed.
//   Both are sufficient conditions decided on the patterns alone: a rule whose shadowing depends
//   on what predicates compute is never reported.
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
  lhsVarCount: Map<string, number>;
  allVarCount: Map<string, number>;
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
      facts.push({ lhsVarCount: new Map(), allVarCount: new Map(), rhsKey: `#broken${id}` });
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
  private readonly lhsVarCount = new Map<string, number>();
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
    this.collectMentions();
    this.checkUnusedVariables();
    this.checkLabels();
    this.checkBlocks(rhs);
    this.checkRhsShape(lhs, rhs);

    const variables = new Map<string, VariableInfo>();
    for (const [name, v] of this.vars) variables.set(name, v.info);
    const out: ResolvedRule = { id: this.id, file, ast: rule, lhs, rhs, variables };
    if (rule.name) out.name = rule.name.name;
    return out;
  }

  facts(): RuleFacts {
    return { lhsVarCount: this.lhsVarCount, allVarCount: this.allVarCount, rhsKey: this.rhsKey };
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
    if (side === 'leader') this.lhsVarCount.set(name, (this.lhsVarCount.get(name) ?? 0) + 1);
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
    this.rhsKey = items.map(rhsItemKey).join(' , ');
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

function lhsCovers(a: ResolvedLhs, b: ResolvedLhs, fa: RuleFacts): boolean {
  if (a.kind === 'nothing' && b.kind === 'nothing') return true;
  if (a.kind !== 'seq' || b.kind !== 'seq' || a.items.length !== b.items.length) return false;
  if (lhsHasPredicate(a)) return false;
  const free = (name: string) => fa.lhsVarCount.get(name) === 1;
  return a.items.every((ai, i) => altsCover(ai.alternatives, b.items[i]!.alternatives, free));
}

function firstRhsCovers(a: ResolvedRhs, b: ResolvedRhs, fa: RuleFacts): boolean {
  if (a.kind !== 'seq') return true;
  if (b.kind !== 'seq') return false;
  const x = a.items[0];
  const y = b.items[0];
  if (!x || !y || x.star || y.star || x.guard) return false;
  const free = (name: string) => fa.allVarCount.get(name) === 1;
  if (x.kind === 'call' && y.kind === 'call') return altsCover(x.alternatives, y.alternatives, free);
  if (x.kind === 'label' && y.kind === 'label' && x.lhsIndex === y.lhsIndex) {
    if (x.args === null || y.args === null) return x.args === null && y.args === null;
    return x.args.length === y.args.length && x.args.every((p, i) => argCovers(p, y.args![i]!, free));
  }
  return false;
}

function firstRhsHasPredicate(r: ResolvedRhs): boolean {
  return r.kind === 'seq' && r.items[0]?.guard !== undefined;
}

function patternKey(p: PatternArg): string {
  switch (p.kind) {
    case 'any':
      return '_';
    case 'var':
      return `$${p.name}`;
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

function rhsItemKey(i: ResolvedRhsItem): string {
  const target =
    i.kind === 'call'
      ? i.alternatives.map((a) => `${a.syscall.name}(${a.args.map(patternKey).join(',')})`).join('|')
      : `@${i.lhsIndex}${i.args ? `(${i.args.map(patternKey).join(',')})` : ''}`;
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
  let budget = MAX_PAIR_COMPARISONS;
  for (let jj = 0; jj < tried.length && budget > 0; jj++) {
    const j = tried[jj]!;
    const b = rules[j]!;
    if (b.lhs.kind === 'begin') continue;
    for (let ii = 0; ii < jj && budget > 0; ii++, budget--) {
      const i = tried[ii]!;
      const a = rules[i]!;
      if (a.lhs.kind === 'begin') continue;
      const fa = facts[i]!;
      const fb = facts[j]!;
      if (!lhsCovers(a.lhs, b.lhs, fa) || !firstRhsCovers(a.rhs, b.rhs, fa)) continue;
      const same =
        lhsCovers(b.lhs, a.lhs, fb) &&
        firstRhsCovers(b.rhs, a.rhs, fb) &&
        !lhsHasPredicate(b.lhs) &&
        !firstRhsHasPredicate(a.rhs) &&
        !firstRhsHasPredicate(b.rhs);
      if (same && fa.rhsKey !== fb.rhsKey) {
        diags.add(Diag.ConflictingRules, b.file, b.ast.span, [], { related: [{ file: a.file, span: a.ast.span, message: i < j ? 'the earlier rule is here' : 'the rule tried first is here (mapping and diverge rules come before leader-only ones)' }] });
      } else {
        diags.add(Diag.ShadowedRule, b.file, b.ast.span, [], {
          related: [{ file: a.file, span: a.ast.span, message: i < j ? 'the earlier rule that always applies first is here' : 'this rule, written later, is tried first and always applies (mapping and diverge rules come before leader-only ones)' }],
        });
      }
      break;
    }
  }
}
