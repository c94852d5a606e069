// The abstract syntax of an .mvr file (LANGUAGE.md §2). Built from Chevrotain's CST by
// grammar/ast-builder.ts. Every node has a span (offset + length into its file's text).
// No semantics here: whether a name is a syscall, a group or a label is decided by the binder.
import type { Span } from '../core/span.ts';

export interface Ident {
  name: string;
  span: Span;
}

export interface Comment {
  kind: 'line' | 'block';
  text: string; // including the // or /* */
  span: Span;
}

export interface MvrFile {
  kind: 'File';
  path: string;
  text: string;
  items: Item[];
  /** Every comment outside C blocks, in source order (kept for `mvrc fmt`). */
  comments: Comment[];
  span: Span;
}

export type Item = Include | Import | Group | Rule;

export interface Include {
  kind: 'Include';
  /** The header as written between the quotes or the angle brackets. */
  target: string;
  angled: boolean;
  span: Span;
}

export interface Import {
  kind: 'Import';
  /** Decoded string contents, e.g. "std/redis". */
  path: string;
  pathSpan: Span;
  span: Span;
}

export interface Group {
  kind: 'Group';
  name: Ident;
  members: Call[];
  span: Span;
}

export interface Rule {
  kind: 'Rule';
  /** `@name` before the rule, if any. */
  name?: Ident;
  lhs: Lhs;
  rhs: Rhs;
  /** Span of the '=>' token. */
  arrow: Span;
  span: Span;
}

export type Lhs =
  | { kind: 'Nothing'; span: Span }
  | { kind: 'Begin'; span: Span }
  | { kind: 'LhsSeq'; items: LhsItem[]; span: Span };

export interface LhsItem {
  kind: 'LhsItem';
  call: Call;
  guard?: Guard;
  label?: Ident;
  span: Span;
}

export type Rhs =
  | { kind: 'Nothing'; span: Span }
  | { kind: 'Diverge'; reason?: StringArg; span: Span }
  | { kind: 'RhsSeq'; items: RhsItem[]; span: Span };

export interface RhsItem {
  kind: 'RhsItem';
  /** A syscall, a group or a label (`r` or `r(args)`): resolved later. */
  call: Call;
  guard?: Guard;
  callback?: Callback;
  star: boolean;
  span: Span;
}

/** `name(args)` or a bare `name` (args === null). */
export interface Call {
  kind: 'Call';
  name: Ident;
  args: Arg[] | null;
  span: Span;
}

export type Arg = WildcardArg | VarArg | StringArg | IntArg;
export interface WildcardArg {
  kind: 'Wildcard';
  span: Span;
}
export interface VarArg {
  kind: 'Var';
  name: string;
  span: Span;
}
export interface StringArg {
  kind: 'String';
  /** The decoded bytes. */
  value: Uint8Array;
  /** The literal as written, quotes included. */
  raw: string;
  span: Span;
}
export interface IntArg {
  kind: 'Int';
  value: bigint;
  raw: string;
  span: Span;
}

export type Guard = CBlock | TsExpr;
export interface Callback {
  kind: 'Callback';
  /** `-> (ret)`: the name the return value goes by inside the body (default `ret`). */
  retName?: Ident;
  body: CBlock | TsBlock;
  span: Span;
}

/** Opaque C text. `code` is the text between the delimiters; `codeOffset` its offset in the file. */
export interface CBlock {
  kind: 'CBlock';
  style: 'single' | 'double'; // { ... } or {{ ... }}
  code: string;
  codeOffset: number;
  span: Span;
}

/** `if ( EXPR )`: the text between the parentheses, parsed later with the TypeScript API. */
export interface TsExpr {
  kind: 'TsExpr';
  text: string;
  textOffset: number;
  span: Span;
}

/** `do { STATEMENTS }`: the text between the braces. */
export interface TsBlock {
  kind: 'TsBlock';
  text: string;
  textOffset: number;
  span: Span;
}
