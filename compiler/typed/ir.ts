// The checked form of a typed block (LANGUAGE.md §6): every node carries its type, every name is
// resolved, and `===`/`!==` are folded into `==`/`!=` (operands always have the same type).
// Built by check.ts; run by eval.ts (the reference semantics) and lowered to C by lower-c.ts.
import type { ParamKind } from '../syscalls/types.ts';

export type Ty = 'number' | 'bytes' | 'boolean';

/** A `const` binding or a `for...of` loop variable. `cname` is unique within its block. */
export interface LocalVar {
  name: string;
  cname: string;
  ty: Ty;
}

export type ArithOp = '+' | '-' | '*' | '/' | '%';
export type CmpOp = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type SearchMethod = 'startsWith' | 'endsWith' | 'includes' | 'indexOf';

export type Expr =
  | { k: 'num'; ty: 'number'; v: bigint }
  | { k: 'bytes'; ty: 'bytes'; v: Uint8Array }
  | { k: 'bool'; ty: 'boolean'; v: boolean }
  /** A rule variable, or the return value (named by TypedEnv.retName). */
  | { k: 'var'; ty: Ty; name: string }
  | { k: 'local'; ty: Ty; local: LocalVar }
  | { k: 'not'; ty: 'boolean'; e: Expr }
  | { k: 'neg'; ty: 'number'; e: Expr }
  | { k: 'arith'; ty: 'number'; op: ArithOp; a: Expr; b: Expr }
  /** Byte-string `+`: allocates len(a) + len(b) arena bytes. */
  | { k: 'concat'; ty: 'bytes'; a: Expr; b: Expr }
  /** `operand` is the type of both sides; < <= > >= only for numbers. */
  | { k: 'cmp'; ty: 'boolean'; op: CmpOp; operand: Ty; a: Expr; b: Expr }
  | { k: 'logic'; ty: 'boolean'; op: '&&' | '||'; a: Expr; b: Expr }
  | { k: 'cond'; ty: Ty; c: Expr; a: Expr; b: Expr }
  | { k: 'length'; ty: 'number'; e: Expr }
  | { k: 'search'; ty: 'boolean' | 'number'; m: SearchMethod; recv: Expr; arg: Expr }
  /** A view (no allocation). */
  | { k: 'slice'; ty: 'bytes'; recv: Expr; start: Expr; end?: Expr }
  /** Allocates the total length of its parts, once. */
  | { k: 'template'; ty: 'bytes'; parts: TemplatePart[] }
  /** A snapshot in the arena (allocates len): inserted where a view of an output buffer must
   *  outlive a later assignment to that buffer. */
  | { k: 'copy'; ty: 'bytes'; e: Expr };

export type TemplatePart = { lit: Uint8Array } | { e: Expr };

export type Stmt =
  | { k: 'const'; local: LocalVar; init: Expr }
  /** `name op= value`; for bytes only '=' and '+='. */
  | { k: 'assign'; name: string; ty: Ty; op: '=' | '+=' | '-='; value: Expr }
  | { k: 'if'; c: Expr; then: Stmt[]; else?: Stmt[] }
  /** `for (const local of src.split(sep)) body` */
  | { k: 'forSplit'; local: LocalVar; src: Expr; sep: Expr; body: Stmt[] }
  | { k: 'block'; body: Stmt[] };

/** A checked guard: a boolean expression. */
export interface TypedExpr {
  kind: 'TypedExpr';
  expr: Expr;
  /** Rule variables it reads, in first-use order. */
  reads: string[];
}

/** A checked callback body. */
export interface TypedBlock {
  kind: 'TypedBlock';
  body: Stmt[];
  /** Rule variables (and the return value) it reads / assigns, in first-use order. */
  reads: string[];
  writes: string[];
}

/** What a rule variable is to a typed block. */
export interface TypedVar {
  kind: ParamKind;
  writable: boolean;
}

export interface TypedEnv {
  vars: ReadonlyMap<string, TypedVar>;
  /** Callbacks only: the return value's name (`ret` unless `-> (name)`), a writable number. */
  retName?: string;
}

/** The type a variable of this kind has in typed blocks; undefined for pointers (unusable). */
export function typeOfKind(kind: ParamKind): Ty | undefined {
  switch (kind) {
    case 'fd':
    case 'int':
    case 'size':
    case 'flags':
      return 'number';
    case 'in_bytes':
    case 'out_bytes':
    case 'path':
    case 'in_struct':
    case 'out_struct':
      return 'bytes';
    case 'ptr':
      return undefined;
  }
}

/** The type's name in messages. */
export function tyName(t: Ty): string {
  return t === 'bytes' ? 'a byte string' : t === 'number' ? 'a number' : 'a boolean';
}
