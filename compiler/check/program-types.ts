// What the checker hands to the back end (IR/automaton, interpreter, C generation):
// every name resolved, groups expanded into alternatives, argument lists padded to the
// syscall's arity, variables with their kinds. Produced by compiler/check/program.ts (loadProgram).
import type { CBlock, Include, LhsItem, MvrFile, Rule, RhsItem, TsBlock, TsExpr } from '../syntax/ast.ts';
import type { Diagnostic } from '../core/diagnostics.ts';
import type { ParamKind, SyscallInfo } from '../syscalls/types.ts';

/** One argument position of a pattern, padded to the syscall's arity (missing trailing = any). */
export type PatternArg =
  | { kind: 'any' }
  | { kind: 'var'; name: string; varKind: ParamKind }
  | { kind: 'bytes'; value: Uint8Array } // exact content (in/out bytes, path, structs)
  | { kind: 'int'; value: bigint };

/** One syscall a pattern may match: a plain call has one, a group one per member. */
export interface CallAlternative {
  syscall: SyscallInfo;
  args: PatternArg[]; // length === syscall.arity
}

export interface ResolvedLhsItem {
  ast: LhsItem;
  alternatives: CallAlternative[];
  guard?: CBlock | TsExpr;
  label?: string;
}

export type ResolvedRhsItem = {
  ast: RhsItem;
  guard?: CBlock | TsExpr;
  callback?: { body: CBlock | TsBlock; retName: string };
  star: boolean;
} & (
  | { kind: 'call'; alternatives: CallAlternative[] }
  /** A label bound on the left: `r` (args null: the follower's call must match that leader event)
   *  or `r(args)` (the labelled event replayed to the follower with these argument patterns). */
  | { kind: 'label'; label: string; lhsIndex: number; args: PatternArg[] | null }
);

export type ResolvedLhs =
  | { kind: 'nothing' }
  | { kind: 'begin' }
  | { kind: 'seq'; items: ResolvedLhsItem[] };

export type ResolvedRhs =
  | { kind: 'nothing' }
  | { kind: 'diverge'; reason: string }
  | { kind: 'seq'; items: ResolvedRhsItem[] };

export interface VariableInfo {
  name: string;
  kind: ParamKind;
  /** Bound by the leader's event (left side) or by the follower's call (right side only). */
  side: 'leader' | 'follower';
}

export interface ResolvedRule {
  /** Index in priority order (file order, an import standing where it is written). */
  id: number;
  file: string;
  ast: Rule;
  name?: string;
  lhs: ResolvedLhs;
  rhs: ResolvedRhs;
  variables: Map<string, VariableInfo>;
}

export interface Program {
  /** The entry file first, then every imported file once, in the order first imported. */
  files: MvrFile[];
  /** `#include` items of every file, in priority order, to copy into the generated C. */
  includes: { file: string; include: Include }[];
  rules: ResolvedRule[];
  diagnostics: Diagnostic[];
  /** Source text by file path, for rendering diagnostics and #line directives. */
  sources: Map<string, string>;
}
