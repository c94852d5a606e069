// Name resolution (LANGUAGE.md §2, §4): which names are syscalls, groups and labels, and how a
// call pattern becomes a list of CallAlternatives padded to the syscall's arity.
//
// Scopes:
// - syscalls: the x86-64 table (compiler/syscalls/lookup.ts);
// - groups: one program-wide table over every loaded file, so a group may be used before its
//   definition and a rule file may use a group defined in a file it imports (or that imports it);
// - labels: per rule, bound on the left with `as NAME`; on the right side a label wins over a
//   syscall or group of the same name (MVR2011 warns at the label).
import type { Arg, Call, Group, MvrFile } from '../syntax/ast.ts';
import { Diag } from '../core/diagnostic-messages.ts';
import type { DiagnosticBag } from '../core/diagnostics.ts';
import type { CallAlternative, PatternArg } from './program-types.ts';
import { cover, type Span } from '../core/span.ts';
import type { ParamInfo, ParamKind, SyscallInfo } from '../syscalls/types.ts';
import { paramKindDescription, suggestSyscallName, syscallByName } from '../syscalls/lookup.ts';

/** A CallAlternative plus where each argument was written (undefined for padding). */
export interface BoundAlternative {
  alt: CallAlternative;
  /** The file the argument patterns were written in (a group's members live in its own file). */
  file: string;
  argSpans: (Span | undefined)[];
  /** True when the pattern comes from a group definition rather than from the rule itself. */
  fromGroup: boolean;
}

export interface GroupDef {
  name: string;
  file: string;
  ast: Group;
  /** Filled lazily by GroupTable.alternatives. */
  resolved?: BoundAlternative[];
  resolving?: boolean;
}

/** Kinds a string literal may stand for: byte contents compared (or given) exactly. */
const BYTE_KINDS: ReadonlySet<ParamKind> = new Set<ParamKind>(['in_bytes', 'out_bytes', 'path', 'in_struct', 'out_struct']);

export function isByteKind(kind: ParamKind): boolean {
  return BYTE_KINDS.has(kind);
}

/** The program-wide group table. Member diagnostics are reported once, when a group is first resolved. */
export class GroupTable {
  readonly groups = new Map<string, GroupDef>();

  constructor(private readonly diags: DiagnosticBag) {}

  /** Registers every `group` item of the files (in priority order); reports MVR2004 and MVR2005. */
  collect(files: readonly MvrFile[]): void {
    for (const f of files) {
      for (const item of f.items) {
        if (item.kind !== 'Group') continue;
        const name = item.name.name;
        if (syscallByName(name)) {
          this.diags.add(Diag.GroupShadowsSyscall, f.path, item.name.span, [name]);
          continue;
        }
        const prev = this.groups.get(name);
        if (prev) {
          this.diags.add(Diag.DuplicateGroup, f.path, item.name.span, [name], {
            related: [{ file: prev.file, span: prev.ast.name.span, message: `'${name}' is first defined here` }],
          });
          continue;
        }
        this.groups.set(name, { name, file: f.path, ast: item });
      }
    }
  }

  get(name: string): GroupDef | undefined {
    return this.groups.get(name);
  }

  names(): string[] {
    return [...this.groups.keys()];
  }

  /** The members of a group as alternatives; a member naming another group is expanded in place. */
  alternatives(def: GroupDef): BoundAlternative[] {
    if (def.resolved) return def.resolved;
    if (def.resolving) return []; // a group that (indirectly) contains itself adds nothing more
    def.resolving = true;
    const out: BoundAlternative[] = [];
    for (const member of def.ast.members) {
      const name = member.name.name;
      const sc = syscallByName(name);
      if (sc) {
        out.push({ ...bindArgs(sc, member.args ?? [], def.file, this.diags, 'call'), fromGroup: true });
        // A call each version executes on its own is never matched (checker.ts, checkLocalCalls).
        if (!sc.recorded) this.diags.add(Diag.LocalCallInRule, def.file, member.name.span, [name, `this member of group '${def.name}' never matches`]);
        continue;
      }
      const inner = this.groups.get(name);
      if (inner) {
        if (member.args && member.args.length > 0) this.diags.add(Diag.GroupArgs, def.file, member.span, [name]);
        out.push(...this.alternatives(inner));
        continue;
      }
      reportUnknownName(name, member.name.span, def.file, this.diags, this.names());
    }
    def.resolving = false;
    def.resolved = out;
    return out;
  }
}

export function reportUnknownName(name: string, at: Span, file: string, diags: DiagnosticBag, extra: readonly string[]): void {
  const suggestion = suggestSyscallName(name, extra);
  diags.add(Diag.UnknownSyscall, file, at, [name], suggestion !== undefined ? { help: `did you mean '${suggestion}'?` } : {});
}

/**
 * Binds a call's written arguments to a syscall's parameters: reports extra arguments (MVR3001,
 * or MVR3005 for a replayed label), string literals on non-byte parameters (MVR3003) and integer
 * literals on byte parameters (MVR3004); pads missing trailing arguments with `any`.
 */
export function bindArgs(
  sc: SyscallInfo,
  args: readonly Arg[],
  file: string,
  diags: DiagnosticBag,
  mode: 'call' | { label: string },
): Omit<BoundAlternative, 'fromGroup'> {
  if (args.length > sc.arity) {
    const extra = cover(args[sc.arity]!.span, args[args.length - 1]!.span);
    if (mode === 'call') diags.add(Diag.TooManyArguments, file, extra, [sc.name, sc.arity, args.length]);
    else diags.add(Diag.LabelSyscallMismatch, file, extra, [mode.label, sc.name, args.length, sc.arity]);
  }
  const patterns: PatternArg[] = [];
  const spans: (Span | undefined)[] = [];
  for (let i = 0; i < sc.arity; i++) {
    const a = args[i];
    const p = paramOf(sc, i);
    spans.push(a?.span);
    if (!a || a.kind === 'Wildcard') {
      patterns.push({ kind: 'any' });
      continue;
    }
    switch (a.kind) {
      case 'Var':
        patterns.push({ kind: 'var', name: a.name, varKind: p.kind });
        break;
      case 'String':
        if (!isByteKind(p.kind)) diags.add(Diag.StringForNonBytes, file, a.span, [p.name, sc.name, paramKindDescription(p.kind)]);
        patterns.push({ kind: 'bytes', value: a.value });
        break;
      case 'Int':
        if (isByteKind(p.kind)) diags.add(Diag.IntegerForBytes, file, a.span, [p.name, sc.name, paramKindDescription(p.kind)]);
        else if (!inParamRange(p.kind, a.value)) diags.add(Diag.IntegerOutOfParamRange, file, a.span, [a.raw, p.name, sc.name]);
        patterns.push({ kind: 'int', value: a.value });
        break;
    }
  }
  return { alt: { syscall: sc, args: patterns }, file, argSpans: spans };
}

/** The values an integer literal may take for a parameter kind (the kernel's C types on x86-64). */
function inParamRange(kind: ParamKind, v: bigint): boolean {
  switch (kind) {
    case 'fd':
      return v >= -(1n << 31n) && v < 1n << 31n; // int (AT_FDCWD is -100)
    case 'size':
      return v >= 0n && v < 1n << 64n; // size_t
    default:
      return v >= -(1n << 63n) && v < 1n << 64n; // a 64-bit register, signed or unsigned
  }
}

function paramOf(sc: SyscallInfo, i: number): ParamInfo {
  return sc.params[i] ?? { name: `a${i}`, kind: 'int', dir: 'in' };
}

/** What a name in call position refers to, outside the labels of a rule. */
export type CallTarget = { kind: 'syscall'; syscall: SyscallInfo } | { kind: 'group'; group: GroupDef } | { kind: 'unknown' };

export function lookupCallName(name: string, groups: GroupTable): CallTarget {
  const sc = syscallByName(name);
  if (sc) return { kind: 'syscall', syscall: sc };
  const g = groups.get(name);
  if (g) return { kind: 'group', group: g };
  return { kind: 'unknown' };
}

/**
 * Resolves `name(args)` or a bare `name` to syscall alternatives (a group gives one per member).
 * Unknown names report MVR2001 with a suggestion and resolve to no alternative.
 */
export function resolveCall(call: Call, file: string, groups: GroupTable, diags: DiagnosticBag): BoundAlternative[] {
  const target = lookupCallName(call.name.name, groups);
  switch (target.kind) {
    case 'syscall':
      return [{ ...bindArgs(target.syscall, call.args ?? [], file, diags, 'call'), fromGroup: false }];
    case 'group':
      if (call.args && call.args.length > 0) {
        diags.add(Diag.GroupArgs, file, cover(call.args[0]!.span, call.args[call.args.length - 1]!.span), [call.name.name]);
      }
      return groups.alternatives(target.group);
    case 'unknown':
      reportUnknownName(call.name.name, call.name.span, file, diags, groups.names());
      return [];
  }
}
