// The rule IR: a checked Program (compiler/check/program-types.ts) lowered to what both back ends need —
// the TypeScript reference interpreter (compiler/semantics/interpreter.ts) and the C generator
// (codegen-c/emit.ts). Every decision the matcher takes at run time is made from these tables, so
// the two implementations share one reading of the semantics (docs/semantics.md).
//
// Variables are resolved statically: the first occurrence of a name binds it and every later
// occurrence becomes an equality test against where it was bound (a left item's argument, or a
// slot holding a scalar the follower passed in an earlier right-hand item). No variable table
// exists at run time.
import type { CBlock, TsBlock, TsExpr } from '../syntax/ast.ts';
import type { CallAlternative, PatternArg, Program, ResolvedRule } from '../check/program-types.ts';
import { LineMap } from '../core/span.ts';
import { DiagnosticBag } from '../core/diagnostics.ts';
import { checkTypedBlock, checkTypedExpr, type TypedBlock, type TypedExpr, type TypedVar } from '../typed/index.ts';
import type { ParamKind, SyscallInfo } from '../syscalls/types.ts';

/** How an argument position is compared. */
export type ArgClass = 'scalar' | 'content' | 'out' | 'ptr';

export function argClass(kind: ParamKind): ArgClass {
  switch (kind) {
    case 'fd':
    case 'int':
    case 'size':
    case 'flags':
      return 'scalar';
    case 'in_bytes':
    case 'path':
    case 'in_struct':
      return 'content';
    case 'out_bytes':
    case 'out_struct':
      return 'out';
    case 'ptr':
      return 'ptr';
  }
}

export type IrOp =
  | { op: 'any' }
  | { op: 'int'; value: bigint }
  /** Left side and right-side inputs: exact content. Right-side outputs: the bytes given to the follower. */
  | { op: 'bytes'; value: Uint8Array }
  /** First occurrence of a variable: binds, never fails. */
  | { op: 'bind'; name: string }
  /** Later occurrence of a variable bound at argument `arg` of left item `item`. */
  | { op: 'eqLeft'; name: string; item: number; arg: number }
  /** Later occurrence of a scalar variable the follower passed in an earlier right-hand item. */
  | { op: 'eqSlot'; name: string; slot: number };

export interface IrArg {
  kind: ParamKind;
  cls: ArgClass;
  op: IrOp;
  /** Right side: a scalar variable bound here is saved in this slot for later items. */
  saveSlot?: number;
}

export interface IrAlt {
  nr: number;
  syscall: SyscallInfo;
  args: IrArg[];
}

/** Typed blocks carry their checked form (undefined when checking failed: the program then has errors). */
export type IrGuard = { kind: 'c'; block: CBlock } | { kind: 'typed'; expr: TsExpr; checked: TypedExpr | undefined };
export type IrCallback =
  | { kind: 'c'; block: CBlock; retName: string }
  | { kind: 'typed'; block: TsBlock; retName: string; checked: TypedBlock | undefined };

export interface IrLeftItem {
  alts: IrAlt[];
  guard?: IrGuard;
  label?: string;
  /** A label item on the right side refers to this item (it is STOREd when passed over). */
  referenced: boolean;
}

export type IrRightItem = {
  star: boolean;
  guard?: IrGuard;
  callback?: IrCallback;
  /** Variables visible to this item's guard and callback. */
  scope: VarRef[];
} & (
  | { kind: 'call'; alts: IrAlt[] }
  /** `r`: the follower's call must match left item `item` like the default match. */
  | { kind: 'label'; label: string; item: number }
  /** `r(args)`: left item `item` replayed with outputs rewritten by `args` (indexed like the syscall's params). */
  | { kind: 'replay'; label: string; item: number; args: IrArg[] }
);

/** Where a variable visible in a block comes from. */
export type VarRef =
  | { name: string; kind: ParamKind; from: 'left'; item: number; arg: number }
  /** Bound by the follower's call in the item the block belongs to. */
  | { name: string; kind: ParamKind; from: 'call'; arg: number }
  /** A scalar bound by the follower in an earlier right-hand item. */
  | { name: string; kind: ParamKind; from: 'slot'; slot: number }
  /** Bytes bound by the follower in an earlier item: not kept (NULL / empty). */
  | { name: string; kind: ParamKind; from: 'gone' };

export type IrRuleKind = 'seq' | 'nothing' | 'begin';

export interface IrRule {
  id: number;
  file: string;
  line: number;
  column: number;
  name: string;
  /** The rule's source text on one line (abbreviated). */
  text: string;
  /** 'seq': a left side; 'nothing': `nothing => ...`; 'begin': `begin => ...`. */
  kind: IrRuleKind;
  left: IrLeftItem[];
  /** Per left item: the variables its guard sees. */
  leftScopes: VarRef[][];
  rhs: 'seq' | 'nothing' | 'diverge';
  reason: string;
  right: IrRightItem[];
  /** Scalar slots the right side uses. */
  slots: number;
  /** Follower syscall numbers the right side can start with (leading starred items + the first
   *  unstarred one); 'any' when the right side takes no follower call (nothing, diverge). */
  firstFollowerNrs: Set<number> | 'any';
  source: ResolvedRule;
}

export const MAX_LEFT = 64;

function oneLine(text: string, max = 160): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 3) + '...' : t;
}

class Scope {
  /** name -> binding */
  readonly vars = new Map<string, VarRef>();
  slots = 0;
}

function lowerArgs(
  alt: CallAlternative,
  side: 'left' | 'right',
  scope: Scope,
  item: number,
  bindHere: VarRef[],
): IrArg[] {
  const params = alt.syscall.params;
  const out: IrArg[] = [];
  // Right side: a string literal on an out_bytes parameter gives the follower those bytes and
  // sets the length; an int literal on that buffer's length parameter is the same length,
  // written by the published rules (`r(fd, "bad-cmd\n", 8)`), and is not compared.
  const lenOfRewritten = new Set<number>();
  if (side === 'right') {
    alt.args.forEach((a, j) => {
      const p = params[j];
      if (a.kind === 'bytes' && p && argClass(p.kind) === 'out' && p.lenParam !== undefined) lenOfRewritten.add(p.lenParam);
    });
  }
  alt.args.forEach((a: PatternArg, j) => {
    const kind: ParamKind = params[j]?.kind ?? 'int';
    const cls = argClass(kind);
    let op: IrOp;
    let saveSlot: number | undefined;
    switch (a.kind) {
      case 'any':
        op = { op: 'any' };
        break;
      case 'int':
        op = lenOfRewritten.has(j) ? { op: 'any' } : { op: 'int', value: BigInt.asIntN(64, a.value) };
        break;
      case 'bytes':
        op = { op: 'bytes', value: a.value };
        break;
      case 'var': {
        const b = scope.vars.get(a.name);
        if (!b) {
          op = { op: 'bind', name: a.name };
          let ref: VarRef;
          if (side === 'left') ref = { name: a.name, kind, from: 'left', item, arg: j };
          else {
            ref = { name: a.name, kind, from: 'call', arg: j };
            if (cls === 'scalar' || cls === 'ptr') saveSlot = scope.slots++;
          }
          bindHere.push(ref);
        } else if (b.from === 'left') op = { op: 'eqLeft', name: a.name, item: b.item, arg: b.arg };
        else if (b.from === 'slot' && cls === 'scalar') op = { op: 'eqSlot', name: a.name, slot: b.slot };
        else op = { op: 'any' };
        break;
      }
    }
    // Pointer values are never compared.
    if (cls === 'ptr' && (op.op === 'int' || op.op === 'eqLeft' || op.op === 'eqSlot')) op = { op: 'any' };
    const arg: IrArg = { kind, cls, op };
    if (saveSlot !== undefined) arg.saveSlot = saveSlot;
    out.push(arg);
  });
  return out;
}

function lowerAlts(alts: CallAlternative[], side: 'left' | 'right', scope: Scope, item: number, bindHere: VarRef[]): IrAlt[] {
  const res: IrAlt[] = [];
  const seenNames = new Set<string>();
  for (const alt of alts) {
    const before = bindHere.length;
    res.push({ nr: alt.syscall.nr, syscall: alt.syscall, args: lowerArgs(alt, side, scope, item, bindHere) });
    // A variable bound by several alternatives of one item keeps the first alternative's position.
    for (const r of bindHere.splice(before)) {
      if (!seenNames.has(r.name)) {
        seenNames.add(r.name);
        bindHere.push(r);
      }
    }
  }
  return res;
}

function typedEnv(scope: VarRef[], writableOut: boolean): Map<string, TypedVar> {
  const m = new Map<string, TypedVar>();
  for (const v of scope) m.set(v.name, { kind: v.kind, writable: writableOut && v.from === 'call' && (v.kind === 'out_bytes' || v.kind === 'out_struct') });
  return m;
}

function blockGuard(g: CBlock | TsExpr | undefined, file: string, scope: VarRef[]): IrGuard | undefined {
  if (!g) return undefined;
  if (g.kind === 'CBlock') return { kind: 'c', block: g };
  // The checker already reported any problem; here only the checked form is wanted.
  return { kind: 'typed', expr: g, checked: checkTypedExpr(g, file, { vars: typedEnv(scope, false) }, new DiagnosticBag()) };
}

/** Lowers one checked rule. */
export function lowerRule(rule: ResolvedRule, source: string | undefined, lineMap?: LineMap): IrRule {
  const text = source ?? '';
  const pos = (lineMap ?? new LineMap(text)).position(rule.ast.span.offset);
  const scope = new Scope();
  const left: IrLeftItem[] = [];
  const leftScopes: VarRef[][] = [];
  let kind: IrRuleKind = 'seq';
  if (rule.lhs.kind === 'nothing') kind = 'nothing';
  else if (rule.lhs.kind === 'begin') kind = 'begin';
  else {
    rule.lhs.items.forEach((it, i) => {
      const bound: VarRef[] = [];
      const alts = lowerAlts(it.alternatives, 'left', scope, i, bound);
      for (const b of bound) scope.vars.set(b.name, b);
      const li: IrLeftItem = { alts, referenced: false };
      leftScopes.push([...scope.vars.values()]);
      const g = blockGuard(it.guard, rule.file, leftScopes[i]!);
      if (g) li.guard = g;
      if (it.label !== undefined) li.label = it.label;
      left.push(li);
    });
  }
  const right: IrRightItem[] = [];
  let rhs: IrRule['rhs'] = 'seq';
  let reason = '';
  if (rule.rhs.kind === 'nothing') rhs = 'nothing';
  else if (rule.rhs.kind === 'diverge') {
    rhs = 'diverge';
    reason = rule.rhs.reason;
  } else {
    for (const it of rule.rhs.items) {
      const bound: VarRef[] = [];
      let item: IrRightItem;
      const common = { star: it.star, scope: [] as VarRef[] };
      if (it.kind === 'call') {
        item = { ...common, kind: 'call', alts: lowerAlts(it.alternatives, 'right', scope, -1, bound) };
      } else if (it.args === null) {
        item = { ...common, kind: 'label', label: it.label, item: it.lhsIndex };
      } else {
        const li = rule.lhs.kind === 'seq' ? rule.lhs.items[it.lhsIndex] : undefined;
        const sc = li?.alternatives[0]?.syscall;
        const args = sc ? lowerArgs({ syscall: sc, args: it.args }, 'right', scope, -1, bound) : [];
        item = { ...common, kind: 'replay', label: it.label, item: it.lhsIndex, args };
      }
      if (item.kind !== 'call' && left[item.item]) left[item.item]!.referenced = true;
      // The block sees every variable bound so far (earlier follower-bound ones through slots)
      // plus the ones this item's call binds.
      const visible = new Map<string, VarRef>(scope.vars);
      for (const b of bound) visible.set(b.name, b);
      item.scope = [...visible.values()];
      const g = blockGuard(it.guard, rule.file, item.scope);
      if (g) item.guard = g;
      if (it.callback) {
        const b = it.callback.body;
        const retName = it.callback.retName;
        item.callback =
          b.kind === 'CBlock'
            ? { kind: 'c', block: b, retName }
            : { kind: 'typed', block: b, retName, checked: checkTypedBlock(b, rule.file, { vars: typedEnv(item.scope, true), retName }, new DiagnosticBag()) };
      }
      // After this item, its follower-bound variables live on in slots (scalars) or are gone.
      if (item.kind !== 'label') {
        const args = item.kind === 'call' ? item.alts.flatMap((a) => a.args) : item.args;
        for (const b of bound) {
          const arg = args.find((a) => a.op.op === 'bind' && a.op.name === b.name && a.saveSlot !== undefined);
          scope.vars.set(b.name, arg ? { name: b.name, kind: b.kind, from: 'slot', slot: arg.saveSlot! } : { name: b.name, kind: b.kind, from: 'gone' });
        }
      }
      right.push(item);
    }
  }
  const ir: IrRule = {
    id: rule.id,
    file: rule.file,
    line: pos.line,
    column: pos.column,
    name: rule.name ?? '',
    text: oneLine(text.slice(rule.ast.span.offset, rule.ast.span.offset + rule.ast.span.length)),
    kind,
    left,
    leftScopes,
    rhs,
    reason,
    right,
    slots: scope.slots,
    firstFollowerNrs: 'any',
    source: rule,
  };
  ir.firstFollowerNrs = firstFollowerNrs(ir);
  return ir;
}

/** Follower syscalls a right side can start with. */
function firstFollowerNrs(r: IrRule): Set<number> | 'any' {
  if (r.rhs !== 'seq') return 'any';
  const s = new Set<number>();
  for (const it of r.right) {
    if (it.kind === 'call') for (const a of it.alts) s.add(a.nr);
    else for (const a of r.left[it.item]?.alts ?? []) s.add(a.nr);
    if (!it.star) break;
  }
  return s;
}

export function lowerProgram(program: Program): IrRule[] {
  const maps = new Map<string, LineMap>();
  return program.rules.map((r) => {
    const text = program.sources.get(r.file) ?? '';
    let m = maps.get(r.file);
    if (!m) maps.set(r.file, (m = new LineMap(text)));
    return lowerRule(r, text, m);
  });
}
