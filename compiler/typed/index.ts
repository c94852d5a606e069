// Typed blocks (LANGUAGE.md §6): `if (EXPR)` guards and `do { STATEMENTS }` callbacks written in a
// small typed subset of TypeScript. check.ts turns the parser's raw TsExpr / TsBlock into typed IR
// (ir.ts) or coded diagnostics; eval.ts is the reference semantics; lower-c.ts emits C that calls
// runtime-c/include/mvr_typed.h.
export type { Expr, LocalVar, Stmt, TemplatePart, Ty, TypedBlock, TypedEnv, TypedExpr, TypedVar } from './ir.ts';
export { typeOfKind } from './ir.ts';
export { checkTypedBlock, checkTypedExpr } from './check.ts';
export { type EvalOptions, type ExecResult, type Value, TYPED_ARENA_SIZE, evalTypedExpr, evalTypedExprDetailed, execTypedBlock } from './eval.ts';
export { cStringLiteral, lowerTypedBlockToC, lowerTypedExprToC } from './lower-c.ts';
