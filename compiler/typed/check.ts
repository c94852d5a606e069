// Checking typed blocks (LANGUAGE.md §6): the TypeScript syntax tree of a guard or callback is
// turned into the typed IR of ir.ts, or rejected with coded diagnostics at exact .mvr spans.
// Everything outside the subset is MVR3010; names MVR3012; types MVR3013; assignments MVR3014;
// methods MVR3015; a non-boolean guard MVR3016; syntax MVR3011 (parse.ts).
import { didYouMean } from '../core/suggest.ts';
import ts from 'typescript';
import type { TsBlock, TsExpr } from '../syntax/ast.ts';
import { Diag } from '../core/diagnostic-messages.ts';
import type { DiagnosticBag } from '../core/diagnostics.ts';
import type { ParamKind } from '../syscalls/types.ts';
import { type Expr, type LocalVar, type SearchMethod, type Stmt, type TemplatePart, type Ty, type TypedBlock, type TypedEnv, type TypedExpr, typeOfKind, tyName } from './ir.ts';
import { type ParsedText, parseBlockText, parseGuardText } from './parse.ts';

// The TypeScript API is loaded on first use (the CLI bundle loads it lazily: most rule files have
// no typed blocks), so nothing at module level may touch `ts` values.
const K = new Proxy({} as typeof ts.SyntaxKind, { get: (_t, key) => (ts.SyntaxKind as unknown as Record<string | symbol, unknown>)[key] });
/** Deepest expression/statement nesting accepted: keeps the checker, the evaluator and the C
 *  compiler far from their recursion limits. */
export const MAX_TYPED_DEPTH = 200;
const DEPTH_HELP = 'split the expression with const bindings, or simplify it';
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const utf8 = new TextEncoder();

type Binding =
  | { b: 'rule'; name: string; kind: ParamKind; ty: Ty | undefined; writable: boolean }
  | { b: 'local'; local: LocalVar };

const SEARCH_METHODS: ReadonlySet<string> = new Set(['startsWith', 'endsWith', 'includes', 'indexOf']);
const KNOWN_METHODS: ReadonlySet<string> = new Set([...SEARCH_METHODS, 'slice', 'split']);
const METHODS_HELP = 'byte strings have .length, startsWith, endsWith, includes, indexOf, slice and split (in for...of)';

/** Short type names, as TypeScript spells them, for "'number' has no method 'x'". */
function tyWord(t: Ty): string {
  return t === 'bytes' ? 'bytes' : t;
}

// SyntaxKind's reverse mapping names some kinds after range markers (FirstStatement, ...): keep
// the first name of each value instead.
let kindNamesMemo: Map<number, string> | undefined;
function kindNames(): Map<number, string> {
  if (kindNamesMemo) return kindNamesMemo;
  kindNamesMemo = new Map<number, string>();
  for (const [name, value] of Object.entries(ts.SyntaxKind)) {
    if (typeof value === 'number' && !kindNamesMemo.has(value) && !/^(First|Last)/.test(name)) kindNamesMemo.set(value, name);
  }
  return kindNamesMemo;
}

const lazy = <T>(make: () => T): (() => T) => {
  let v: T | undefined;
  return () => (v ??= make());
};

const DESCRIPTIONS = lazy((): Partial<Record<ts.SyntaxKind, string>> => ({
  [K.WhileStatement]: "a 'while' loop",
  [K.DoStatement]: "a 'do...while' loop",
  [K.ForStatement]: "a 'for' loop",
  [K.ForInStatement]: "a 'for...in' loop",
  [K.ReturnStatement]: "'return'",
  [K.BreakStatement]: "'break'",
  [K.ContinueStatement]: "'continue'",
  [K.ThrowStatement]: "'throw'",
  [K.TryStatement]: "'try'",
  [K.SwitchStatement]: "'switch'",
  [K.LabeledStatement]: 'a labelled statement',
  [K.FunctionDeclaration]: 'a function declaration',
  [K.ClassDeclaration]: 'a class declaration',
  [K.InterfaceDeclaration]: 'an interface declaration',
  [K.TypeAliasDeclaration]: 'a type alias',
  [K.EnumDeclaration]: 'an enum',
  [K.ImportDeclaration]: 'an import',
  [K.ExportDeclaration]: 'an export',
  [K.CallExpression]: 'a function call',
  [K.ArrowFunction]: 'a function expression',
  [K.FunctionExpression]: 'a function expression',
  [K.ArrayLiteralExpression]: 'an array literal',
  [K.ObjectLiteralExpression]: 'an object literal',
  [K.ElementAccessExpression]: "indexing with '[...]'",
  [K.NewExpression]: "'new'",
  [K.NullKeyword]: "'null'",
  [K.ThisKeyword]: "'this'",
  [K.SuperKeyword]: "'super'",
  [K.AsExpression]: "a type assertion ('as')",
  [K.SatisfiesExpression]: "'satisfies'",
  [K.TypeAssertionExpression]: 'a type assertion',
  [K.NonNullExpression]: "a non-null assertion ('!')",
  [K.PostfixUnaryExpression]: "'++' and '--'",
  [K.RegularExpressionLiteral]: 'a regular expression',
  [K.BigIntLiteral]: 'a bigint literal',
  [K.TaggedTemplateExpression]: 'a tagged template',
  [K.TypeOfExpression]: "'typeof'",
  [K.VoidExpression]: "'void'",
  [K.DeleteExpression]: "'delete'",
  [K.AwaitExpression]: "'await'",
  [K.YieldExpression]: "'yield'",
  [K.SpreadElement]: "spread ('...')",
  [K.ClassExpression]: 'a class expression',
  [K.MetaProperty]: "'import.meta' / 'new.target'",
  [K.DebuggerStatement]: "'debugger'",
  [K.WithStatement]: "'with'",
}));

/** Help text replacing the catalog's generic one, where a specific hint exists. */
const HELP = lazy((): Partial<Record<ts.SyntaxKind, string>> => ({
  [K.ElementAccessExpression]: 'use s.slice(i, i + 1)',
  [K.PostfixUnaryExpression]: "write 'x += 1' or 'x -= 1'",
  [K.BigIntLiteral]: "numbers in typed blocks are already 64-bit integers: drop the 'n'",
}));

function describe(node: ts.Node): string {
  const d = DESCRIPTIONS()[node.kind];
  if (d !== undefined) return d;
  // e.g. "ImportKeyword" -> "import keyword"
  const name = kindNames().get(node.kind) ?? 'this syntax';
  return name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

function forEachChildExpr(e: Expr, f: (c: Expr) => void): void {
  switch (e.k) {
    case 'num':
    case 'bytes':
    case 'bool':
    case 'var':
    case 'local':
      return;
    case 'not':
    case 'neg':
    case 'length':
    case 'copy':
      f(e.e);
      return;
    case 'arith':
    case 'concat':
    case 'cmp':
    case 'logic':
      f(e.a);
      f(e.b);
      return;
    case 'cond':
      f(e.c);
      f(e.a);
      f(e.b);
      return;
    case 'search':
      f(e.recv);
      f(e.arg);
      return;
    case 'slice':
      f(e.recv);
      f(e.start);
      if (e.end) f(e.end);
      return;
    case 'template':
      for (const p of e.parts) if ('e' in p) f(p.e);
      return;
  }
}

function readsAnyOf(e: Expr, names: ReadonlySet<string>): boolean {
  if (e.k === 'var') return names.has(e.name);
  let found = false;
  forEachChildExpr(e, (c) => {
    found ||= readsAnyOf(c, names);
  });
  return found;
}

class Checker {
  failed = false;
  readonly reads: string[] = [];
  readonly writes: string[] = [];
  private readonly scopes: Map<string, Binding>[] = [];
  private counter = 0;
  private depth = 0;
  private tooDeep = false;

  constructor(
    private readonly p: ParsedText,
    private readonly file: string,
    private readonly diags: DiagnosticBag,
    env: TypedEnv,
  ) {
    const root = new Map<string, Binding>();
    for (const [name, v] of env.vars) root.set(name, { b: 'rule', name, kind: v.kind, ty: typeOfKind(v.kind), writable: v.writable });
    if (env.retName !== undefined) root.set(env.retName, { b: 'rule', name: env.retName, kind: 'int', ty: 'number', writable: true });
    this.scopes.push(root);
  }

  // ---- reporting ----
  private notAllowed(node: ts.Node, what: string, help: string | undefined = HELP()[node.kind]): undefined {
    this.failed = true;
    this.diags.add(Diag.TypedBlockSyntax, this.file, this.p.spanOf(node), [what], help === undefined ? {} : { help });
    return undefined;
  }
  private mismatch(node: ts.Node, what: string): undefined {
    this.failed = true;
    this.diags.add(Diag.TypedBlockTypeMismatch, this.file, this.p.spanOf(node), [what]);
    return undefined;
  }
  private noMethod(name: ts.Node, recv: Ty, method: string): undefined {
    this.failed = true;
    const hint = recv === 'bytes' ? didYouMean(method, [...KNOWN_METHODS, 'length']) : undefined;
    this.diags.add(Diag.TypedBlockUnknownMethod, this.file, this.p.spanOf(name), [tyWord(recv), method], { help: hint !== undefined ? `${hint} ${METHODS_HELP}` : METHODS_HELP });
    return undefined;
  }
  guardNotBoolean(node: ts.Node, t: Ty): void {
    this.failed = true;
    this.diags.add(Diag.TypedBlockGuardNotBoolean, this.file, this.p.spanOf(node), [tyName(t)]);
  }

  // ---- names ----
  private lookup(name: string): Binding | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const b = this.scopes[i]!.get(name);
      if (b) return b;
    }
    return undefined;
  }
  /** "did you mean" among every name visible here, for an unknown one. */
  private nameHint(name: string): { help?: string } {
    const hint = didYouMean(name, this.scopes.flatMap((sc) => [...sc.keys()]));
    return hint !== undefined ? { help: hint } : {};
  }
  private note(list: string[], name: string): void {
    if (!list.includes(name)) list.push(name);
  }
  private declare(id: ts.Identifier, ty: Ty): LocalVar | undefined {
    const name = id.text;
    if (this.lookup(name)) return this.notAllowed(id, `redeclaring '${name}', which is already a name here`);
    const local: LocalVar = { name, cname: `mvr_l_${name.replace(/[^A-Za-z0-9_]/g, '_')}_${++this.counter}`, ty };
    this.scopes[this.scopes.length - 1]!.set(name, { b: 'local', local });
    return local;
  }
  private withScope<T>(f: () => T): T {
    this.scopes.push(new Map());
    try {
      return f();
    } finally {
      this.scopes.pop();
    }
  }

  /** Runs f one nesting level deeper; past MAX_TYPED_DEPTH reports MVR1014 once and fails. */
  private nested<T>(node: ts.Node, f: () => T | undefined): T | undefined {
    if (this.depth >= MAX_TYPED_DEPTH) {
      if (!this.tooDeep) {
        this.tooDeep = true;
        this.failed = true;
        this.diags.add(Diag.NestingTooDeep, this.file, this.p.spanOf(node), [MAX_TYPED_DEPTH], { help: DEPTH_HELP });
      }
      return undefined;
    }
    this.depth++;
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  // ---- expressions ----
  expr(node: ts.Expression): Expr | undefined {
    return this.nested(node, () => this.exprInner(node));
  }

  private exprInner(node: ts.Expression): Expr | undefined {
    switch (node.kind) {
      case K.ParenthesizedExpression:
        return this.expr((node as ts.ParenthesizedExpression).expression);
      case K.NumericLiteral:
        return this.intLiteral(node as ts.NumericLiteral, false, node);
      case K.StringLiteral:
      case K.NoSubstitutionTemplateLiteral:
        return { k: 'bytes', ty: 'bytes', v: utf8.encode((node as ts.StringLiteral).text) };
      case K.TemplateExpression:
        return this.template(node as ts.TemplateExpression);
      case K.TrueKeyword:
        return { k: 'bool', ty: 'boolean', v: true };
      case K.FalseKeyword:
        return { k: 'bool', ty: 'boolean', v: false };
      case K.Identifier:
        return this.identifier(node as ts.Identifier);
      case K.PrefixUnaryExpression:
        return this.prefix(node as ts.PrefixUnaryExpression);
      case K.BinaryExpression:
        return this.binary(node as ts.BinaryExpression);
      case K.ConditionalExpression:
        return this.conditional(node as ts.ConditionalExpression);
      case K.PropertyAccessExpression:
        return this.property(node as ts.PropertyAccessExpression);
      case K.CallExpression:
        return this.call(node as ts.CallExpression);
      default:
        return this.notAllowed(node, describe(node));
    }
  }

  private intLiteral(lit: ts.NumericLiteral, negate: boolean, whole: ts.Node): Expr | undefined {
    const raw = lit.getText(this.p.sf);
    const digits = raw.replace(/_/g, '');
    if (!/^(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0|[1-9][0-9]*)$/.test(digits)) {
      return this.notAllowed(lit, `the number literal '${raw}'`, 'typed blocks have 64-bit integers only: write integer literals in decimal, 0x, 0o or 0b');
    }
    let v = BigInt(digits);
    if (negate) v = -v;
    if (v > INT64_MAX || v < INT64_MIN) {
      this.failed = true;
      this.diags.add(Diag.IntegerOutOfRange, this.file, this.p.spanOf(whole), [whole.getText(this.p.sf)]);
      return undefined;
    }
    return { k: 'num', ty: 'number', v };
  }

  private template(node: ts.TemplateExpression): Expr | undefined {
    const parts: TemplatePart[] = [];
    let ok = true;
    const lit = (text: string): void => {
      if (text !== '') parts.push({ lit: utf8.encode(text) });
    };
    lit(node.head.text);
    for (const span of node.templateSpans) {
      const e = this.expr(span.expression);
      if (e) parts.push({ e });
      else ok = false;
      lit(span.literal.text);
    }
    return ok ? { k: 'template', ty: 'bytes', parts } : undefined;
  }

  private identifier(id: ts.Identifier): Expr | undefined {
    const b = this.lookup(id.text);
    if (!b) {
      this.failed = true;
      this.diags.add(Diag.TypedBlockUnknownName, this.file, this.p.spanOf(id), [id.text], this.nameHint(id.text));
      return undefined;
    }
    if (b.b === 'local') return { k: 'local', ty: b.local.ty, local: b.local };
    if (b.ty === undefined) return this.mismatch(id, `'${b.name}' is a pointer, and typed blocks cannot use pointers`);
    this.note(this.reads, b.name);
    return { k: 'var', ty: b.ty, name: b.name };
  }

  private prefix(node: ts.PrefixUnaryExpression): Expr | undefined {
    if (node.operator === K.MinusToken && ts.isNumericLiteral(node.operand)) return this.intLiteral(node.operand, true, node);
    if (node.operator !== K.ExclamationToken && node.operator !== K.MinusToken) {
      return this.notAllowed(node, `the unary '${ts.tokenToString(node.operator)}' operator`);
    }
    const e = this.expr(node.operand);
    if (!e) return undefined;
    if (node.operator === K.ExclamationToken) {
      if (e.ty !== 'boolean') return this.mismatch(node.operand, `'!' needs a boolean, but this is ${tyName(e.ty)}`);
      return { k: 'not', ty: 'boolean', e };
    }
    if (e.ty !== 'number') return this.mismatch(node.operand, `unary '-' needs a number, but this is ${tyName(e.ty)}`);
    return { k: 'neg', ty: 'number', e };
  }

  private binary(node: ts.BinaryExpression): Expr | undefined {
    const op = node.operatorToken.kind;
    const opText = ts.tokenToString(op) ?? '?';
    if (op >= K.FirstAssignment && op <= K.LastAssignment) {
      return this.notAllowed(node, "an assignment inside an expression (assign in a 'do' block statement)");
    }
    const supported = [
      K.AmpersandAmpersandToken, K.BarBarToken,
      K.EqualsEqualsToken, K.EqualsEqualsEqualsToken, K.ExclamationEqualsToken, K.ExclamationEqualsEqualsToken,
      K.LessThanToken, K.LessThanEqualsToken, K.GreaterThanToken, K.GreaterThanEqualsToken,
      K.PlusToken, K.MinusToken, K.AsteriskToken, K.SlashToken, K.PercentToken,
    ];
    if (!supported.includes(op)) return this.notAllowed(node.operatorToken, `the '${opText}' operator`);
    const a = this.expr(node.left);
    const b = this.expr(node.right);
    if (!a || !b) return undefined;
    switch (op) {
      case K.AmpersandAmpersandToken:
      case K.BarBarToken: {
        const bad = a.ty !== 'boolean' ? [node.left, a] as const : b.ty !== 'boolean' ? [node.right, b] as const : undefined;
        if (bad) return this.mismatch(bad[0], `'${opText}' needs booleans, but this is ${tyName(bad[1].ty)}`);
        return { k: 'logic', ty: 'boolean', op: op === K.AmpersandAmpersandToken ? '&&' : '||', a, b };
      }
      case K.EqualsEqualsToken:
      case K.EqualsEqualsEqualsToken:
      case K.ExclamationEqualsToken:
      case K.ExclamationEqualsEqualsToken: {
        if (a.ty !== b.ty) return this.mismatch(node, `'${opText}' compares values of one type, but these are ${tyName(a.ty)} and ${tyName(b.ty)}`);
        const eq = op === K.EqualsEqualsToken || op === K.EqualsEqualsEqualsToken;
        return { k: 'cmp', ty: 'boolean', op: eq ? '==' : '!=', operand: a.ty, a, b };
      }
      case K.PlusToken:
        if (a.ty === 'number' && b.ty === 'number') return { k: 'arith', ty: 'number', op: '+', a, b };
        if (a.ty === 'bytes' && b.ty === 'bytes') return { k: 'concat', ty: 'bytes', a, b };
        return this.mismatch(node, `'+' needs two numbers or two byte strings, but these are ${tyName(a.ty)} and ${tyName(b.ty)} (use a template string to mix them)`);
      default: {
        // < <= > >= - * / %: numbers only
        const bad = a.ty !== 'number' ? [node.left, a] as const : b.ty !== 'number' ? [node.right, b] as const : undefined;
        if (bad) return this.mismatch(bad[0], `'${opText}' needs numbers, but this is ${tyName(bad[1].ty)}`);
        if (op === K.LessThanToken || op === K.LessThanEqualsToken || op === K.GreaterThanToken || op === K.GreaterThanEqualsToken) {
          return { k: 'cmp', ty: 'boolean', op: opText as '<' | '<=' | '>' | '>=', operand: 'number', a, b };
        }
        return { k: 'arith', ty: 'number', op: opText as '-' | '*' | '/' | '%', a, b };
      }
    }
  }

  private conditional(node: ts.ConditionalExpression): Expr | undefined {
    const c = this.expr(node.condition);
    const a = this.expr(node.whenTrue);
    const b = this.expr(node.whenFalse);
    if (!c || !a || !b) return undefined;
    if (c.ty !== 'boolean') return this.mismatch(node.condition, `the condition of '?:' must be a boolean, but this is ${tyName(c.ty)}`);
    if (a.ty !== b.ty) return this.mismatch(node, `the branches of '?:' must have one type, but these are ${tyName(a.ty)} and ${tyName(b.ty)}`);
    return { k: 'cond', ty: a.ty, c, a, b };
  }

  private property(node: ts.PropertyAccessExpression): Expr | undefined {
    if (node.questionDotToken) return this.notAllowed(node, "optional chaining ('?.')");
    if (!ts.isIdentifier(node.name)) return this.notAllowed(node.name, describe(node.name));
    const name = node.name.text;
    const recv = this.expr(node.expression);
    if (!recv) return undefined;
    if (name === 'length') {
      if (recv.ty !== 'bytes') return this.mismatch(node.expression, `'.length' needs a byte string, but this is ${tyName(recv.ty)}`);
      return { k: 'length', ty: 'number', e: recv };
    }
    if (recv.ty === 'bytes' && KNOWN_METHODS.has(name)) return this.notAllowed(node, `the method '${name}' without a call`);
    return this.noMethod(node.name, recv.ty, name);
  }

  private call(node: ts.CallExpression): Expr | undefined {
    const callee = node.expression;
    if (!ts.isPropertyAccessExpression(callee) || !ts.isIdentifier(callee.name)) return this.notAllowed(node, 'a function call');
    if (callee.questionDotToken || node.questionDotToken) return this.notAllowed(node, "optional chaining ('?.')");
    if (node.typeArguments) return this.notAllowed(node, 'type arguments');
    const m = callee.name.text;
    if (m === 'split') return this.notAllowed(node, "'split' outside 'for (const x of s.split(sep))'");
    const recv = this.expr(callee.expression);
    const spread = node.arguments.find((a) => ts.isSpreadElement(a));
    if (spread) return this.notAllowed(spread, describe(spread));
    const args = node.arguments.map((a) => this.expr(a));
    if (!recv) return undefined;
    if (recv.ty !== 'bytes' || !KNOWN_METHODS.has(m)) return this.noMethod(callee.name, recv.ty, m);
    const [min, max, want]: [number, number, Ty] = SEARCH_METHODS.has(m) ? [1, 1, 'bytes'] : [1, 2, 'number'];
    const n = node.arguments.length;
    if (n < min || n > max) {
      const takes = min === max ? `${min} argument` : `${min} or ${max} arguments`;
      return this.mismatch(node, `'${m}' takes ${takes}, but ${n} ${n === 1 ? 'was' : 'were'} given`);
    }
    if (args.some((a) => a === undefined)) return undefined;
    const checked = args as Expr[];
    for (let i = 0; i < checked.length; i++) {
      if (checked[i]!.ty !== want) return this.mismatch(node.arguments[i]!, `the argument of '${m}' must be ${tyName(want)}, but this is ${tyName(checked[i]!.ty)}`);
    }
    if (m === 'slice') {
      const e: Expr = { k: 'slice', ty: 'bytes', recv, start: checked[0]! };
      if (checked[1]) e.end = checked[1];
      return e;
    }
    return { k: 'search', ty: m === 'indexOf' ? 'number' : 'boolean', m: m as SearchMethod, recv, arg: checked[0]! };
  }

  // ---- statements ----
  stmts(list: readonly ts.Statement[]): Stmt[] {
    const out: Stmt[] = [];
    for (const s of list) this.stmt(s, out);
    return out;
  }

  /** The body of an if/else branch or a loop: a block, or one statement in its own scope. */
  private body(s: ts.Statement): Stmt[] {
    if (ts.isBlock(s)) return this.withScope(() => this.stmts(s.statements));
    if (ts.isVariableStatement(s)) {
      this.notAllowed(s, 'a declaration as the whole body of a branch or loop', 'put it in { }');
      return [];
    }
    return this.withScope(() => this.stmts([s]));
  }

  private stmt(s: ts.Statement, out: Stmt[]): void {
    this.nested(s, () => this.stmtInner(s, out));
  }

  private stmtInner(s: ts.Statement, out: Stmt[]): void {
    switch (s.kind) {
      case K.Block:
        out.push({ k: 'block', body: this.withScope(() => this.stmts((s as ts.Block).statements)) });
        return;
      case K.EmptyStatement:
        return;
      case K.VariableStatement:
        this.constStmt(s as ts.VariableStatement, out);
        return;
      case K.ExpressionStatement:
        this.exprStmt(s as ts.ExpressionStatement, out);
        return;
      case K.IfStatement: {
        const is = s as ts.IfStatement;
        const c = this.expr(is.expression);
        if (c && c.ty !== 'boolean') this.mismatch(is.expression, `the condition of 'if' must be a boolean, but this is ${tyName(c.ty)}`);
        const then = this.body(is.thenStatement);
        const els = is.elseStatement ? this.body(is.elseStatement) : undefined;
        if (c && c.ty === 'boolean') {
          const st: Stmt = { k: 'if', c, then };
          if (els) st.else = els;
          out.push(st);
        }
        return;
      }
      case K.ForOfStatement:
        this.forOf(s as ts.ForOfStatement, out);
        return;
      default:
        this.notAllowed(s, describe(s));
    }
  }

  private annotation(t: ts.TypeNode): Ty | undefined {
    if (t.kind === K.NumberKeyword) return 'number';
    if (t.kind === K.StringKeyword) return 'bytes';
    if (t.kind === K.BooleanKeyword) return 'boolean';
    if (ts.isTypeReferenceNode(t) && ts.isIdentifier(t.typeName) && t.typeName.text === 'bytes' && !t.typeArguments) return 'bytes';
    return this.notAllowed(t, `the type '${t.getText(this.p.sf)}'`, 'annotate with number, string, bytes or boolean, or leave the type out');
  }

  private constStmt(s: ts.VariableStatement, out: Stmt[]): void {
    if (s.modifiers && s.modifiers.length > 0) {
      this.notAllowed(s.modifiers[0]!, `the modifier '${s.modifiers[0]!.getText(this.p.sf)}'`);
      return;
    }
    const list = s.declarationList;
    if ((list.flags & ts.NodeFlags.BlockScoped) !== ts.NodeFlags.Const) {
      const word = list.getFirstToken(this.p.sf)?.getText(this.p.sf) ?? 'this';
      this.notAllowed(s, `a '${word}' declaration`, "use 'const': a typed block's locals never change");
      return;
    }
    for (const d of list.declarations) {
      if (!ts.isIdentifier(d.name)) {
        this.notAllowed(d.name, 'destructuring');
        continue;
      }
      if (d.exclamationToken) {
        this.notAllowed(d, "a definite assignment assertion ('!')");
        continue;
      }
      const want = d.type ? this.annotation(d.type) : undefined;
      if (d.type && want === undefined) continue;
      if (!d.initializer) {
        this.notAllowed(d, "'const' without a value");
        continue;
      }
      const init = this.expr(d.initializer);
      if (!init) continue;
      if (want !== undefined && want !== init.ty) {
        this.mismatch(d.initializer, `'${d.name.text}' is declared as ${tyName(want)}, but this is ${tyName(init.ty)}`);
        continue;
      }
      const local = this.declare(d.name, init.ty);
      if (local) out.push({ k: 'const', local, init });
    }
  }

  private exprStmt(s: ts.ExpressionStatement, out: Stmt[]): void {
    const e = s.expression;
    if (!ts.isBinaryExpression(e) || e.operatorToken.kind < K.FirstAssignment || e.operatorToken.kind > K.LastAssignment) {
      if (ts.isPostfixUnaryExpression(e) || ts.isPrefixUnaryExpression(e)) {
        if (e.operator === K.PlusPlusToken || e.operator === K.MinusMinusToken) {
          this.notAllowed(e, DESCRIPTIONS()[K.PostfixUnaryExpression]!, HELP()[K.PostfixUnaryExpression]);
          return;
        }
      }
      this.notAllowed(s, 'an expression statement that is not an assignment');
      return;
    }
    const opKind = e.operatorToken.kind;
    const op = opKind === K.EqualsToken ? '=' : opKind === K.PlusEqualsToken ? '+=' : opKind === K.MinusEqualsToken ? '-=' : undefined;
    if (op === undefined) {
      this.notAllowed(e.operatorToken, `the '${ts.tokenToString(opKind)}' operator`);
      return;
    }
    if (!ts.isIdentifier(e.left)) {
      this.notAllowed(e.left, 'assignment to anything but a variable');
      return;
    }
    const name = e.left.text;
    const target = this.lookup(name);
    const value = this.expr(e.right);
    if (!target) {
      this.failed = true;
      this.diags.add(Diag.TypedBlockUnknownName, this.file, this.p.spanOf(e.left), [name], this.nameHint(name));
      return;
    }
    if (target.b === 'local' || !target.writable) {
      this.failed = true;
      this.diags.add(Diag.TypedBlockAssignInput, this.file, this.p.spanOf(e.left), [name]);
      return;
    }
    if (target.ty === undefined) {
      this.mismatch(e.left, `'${name}' is a pointer, and typed blocks cannot use pointers`);
      return;
    }
    if (!value) return;
    if (op === '-=' && target.ty !== 'number') {
      this.mismatch(e, `'-=' needs a number, but '${name}' is ${tyName(target.ty)}`);
      return;
    }
    if (op === '+=' && target.ty === 'boolean') {
      this.mismatch(e, `'+=' needs a number or a byte string, but '${name}' is a boolean`);
      return;
    }
    if (value.ty !== target.ty) {
      this.mismatch(e.right, `'${name}' is ${tyName(target.ty)}, but this is ${tyName(value.ty)}`);
      return;
    }
    if (op !== '=') this.note(this.reads, name);
    this.note(this.writes, name);
    out.push({ k: 'assign', name, ty: target.ty, op, value });
  }

  private forOf(s: ts.ForOfStatement, out: Stmt[]): void {
    if (s.awaitModifier) {
      this.notAllowed(s.awaitModifier, "'for await'");
      return;
    }
    const init = s.initializer;
    if (!ts.isVariableDeclarationList(init) || (init.flags & ts.NodeFlags.BlockScoped) !== ts.NodeFlags.Const || init.declarations.length !== 1) {
      this.notAllowed(init, "a 'for...of' loop variable not declared as 'const x'");
      return;
    }
    const decl = init.declarations[0]!;
    if (!ts.isIdentifier(decl.name) || decl.type || decl.initializer) {
      this.notAllowed(decl, "a 'for...of' loop variable not declared as 'const x'");
      return;
    }
    const call = s.expression;
    if (
      !ts.isCallExpression(call) ||
      !ts.isPropertyAccessExpression(call.expression) ||
      !ts.isIdentifier(call.expression.name) ||
      call.expression.name.text !== 'split' ||
      call.expression.questionDotToken ||
      call.questionDotToken ||
      call.typeArguments
    ) {
      this.notAllowed(call, "a 'for...of' loop over anything but 's.split(sep)'");
      return;
    }
    const src = this.expr(call.expression.expression);
    const spread = call.arguments.find((a) => ts.isSpreadElement(a));
    if (spread) {
      this.notAllowed(spread, describe(spread));
      return;
    }
    const sep = call.arguments.length === 1 ? this.expr(call.arguments[0]!) : undefined;
    if (src && src.ty !== 'bytes') {
      this.noMethod(call.expression.name, src.ty, 'split');
      return;
    }
    if (call.arguments.length !== 1) {
      this.mismatch(call, `'split' takes 1 argument, but ${call.arguments.length} were given`);
      return;
    }
    if (sep && sep.ty !== 'bytes') {
      this.mismatch(call.arguments[0]!, `the argument of 'split' must be a byte string, but this is ${tyName(sep.ty)}`);
      return;
    }
    const name = decl.name;
    this.withScope(() => {
      const local = this.declare(name, 'bytes');
      const body = this.body(s.statement);
      if (src && sep && local) out.push({ k: 'forSplit', local, src, sep, body });
    });
  }
}

// After checking: a const binding or split operand that reads an output buffer assigned somewhere
// in the block gets a snapshot (the C value is a view into that buffer, which the assignment
// rewrites; JS strings are immutable).
function insertSnapshots(body: Stmt[], assigned: ReadonlySet<string>): void {
  const snap = (e: Expr): Expr => (e.ty === 'bytes' && readsAnyOf(e, assigned) ? { k: 'copy', ty: 'bytes', e } : e);
  for (const s of body) {
    switch (s.k) {
      case 'const':
        s.init = snap(s.init);
        break;
      case 'forSplit':
        s.src = snap(s.src);
        s.sep = snap(s.sep);
        insertSnapshots(s.body, assigned);
        break;
      case 'if':
        insertSnapshots(s.then, assigned);
        if (s.else) insertSnapshots(s.else, assigned);
        break;
      case 'block':
        insertSnapshots(s.body, assigned);
        break;
      case 'assign':
        break;
    }
  }
}

function assignedBytes(body: Stmt[], into: Set<string>): Set<string> {
  for (const s of body) {
    if (s.k === 'assign' && s.ty === 'bytes') into.add(s.name);
    else if (s.k === 'if') {
      assignedBytes(s.then, into);
      if (s.else) assignedBytes(s.else, into);
    } else if (s.k === 'forSplit' || s.k === 'block') assignedBytes(s.body, into);
  }
  return into;
}

/** Checks a guard `if (EXPR)`: it must be a boolean expression. */
export function checkTypedExpr(node: TsExpr, file: string, env: TypedEnv, diags: DiagnosticBag): TypedExpr | undefined {
  return guardStack(node, file, diags, () => checkExprUnguarded(node, file, env, diags));
}

/** The TypeScript parser recurses per nesting level and can exhaust the stack on pathological
 *  input before our own depth limit sees it: that becomes MVR1014 too, never a crash. */
function guardStack<T>(node: TsExpr | TsBlock, file: string, diags: DiagnosticBag, f: () => T | undefined): T | undefined {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    diags.add(Diag.NestingTooDeep, file, { offset: node.textOffset, length: node.text.length }, [MAX_TYPED_DEPTH], { help: DEPTH_HELP });
    return undefined;
  }
}

function checkExprUnguarded(node: TsExpr, file: string, env: TypedEnv, diags: DiagnosticBag): TypedExpr | undefined {
  const parsed = parseGuardText(node.text, node.textOffset, file, diags);
  if (!parsed) return undefined;
  const c = new Checker(parsed.parsed, file, diags, env);
  const e = c.expr(parsed.expr);
  if (e && e.ty !== 'boolean') c.guardNotBoolean(parsed.expr, e.ty);
  if (!e || c.failed) return undefined;
  return { kind: 'TypedExpr', expr: e, reads: c.reads };
}

/** Checks a callback `do { STATEMENTS }`. */
export function checkTypedBlock(node: TsBlock, file: string, env: TypedEnv, diags: DiagnosticBag): TypedBlock | undefined {
  return guardStack(node, file, diags, () => checkBlockUnguarded(node, file, env, diags));
}

function checkBlockUnguarded(node: TsBlock, file: string, env: TypedEnv, diags: DiagnosticBag): TypedBlock | undefined {
  const parsed = parseBlockText(node.text, node.textOffset, file, diags);
  if (!parsed) return undefined;
  const c = new Checker(parsed.parsed, file, diags, env);
  const body = c.stmts(parsed.stmts);
  if (c.failed) return undefined;
  insertSnapshots(body, assignedBytes(body, new Set()));
  return { kind: 'TypedBlock', body, reads: c.reads, writes: c.writes };
}
