// Builds the AST (compiler/syntax/ast.ts) from one Chevrotain CST item (literals are decoded by
// compiler/syntax/literals.ts).
// Lexical validity (escapes, integer ranges, unterminated blocks) is reported by grammar/index.ts
// from the token stream, so this builder only decodes; it reports the one thing the grammar accepts
// only to reject it here with a clearer message: '*' on the left side (MVR4012).
import type { CstNode, IToken } from 'chevrotain';
import type {
  Arg,
  Call,
  Callback,
  CBlock,
  Group,
  Guard,
  Ident,
  Import,
  Include,
  Item,
  Lhs,
  LhsItem,
  Rhs,
  RhsItem,
  Rule,
  StringArg,
  TsBlock,
  TsExpr,
} from '../compiler/syntax/ast.ts';
import { Diag } from '../compiler/core/diagnostic-messages.ts';
import type { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { cover, type Span } from '../compiler/core/span.ts';
import type { BlockPayload } from './lexer.ts';
import { decodeString, parseIntLiteral } from '../compiler/syntax/literals.ts';

// ---- CST access -----------------------------------------------------------------------------

type Child = CstNode | IToken;

function tok(node: CstNode, key: string, i = 0): IToken | undefined {
  return (node.children[key] as Child[] | undefined)?.[i] as IToken | undefined;
}
function subs(node: CstNode, key: string): CstNode[] {
  return (node.children[key] ?? []) as CstNode[];
}
function sub(node: CstNode, key: string): CstNode | undefined {
  return (node.children[key] as Child[] | undefined)?.[0] as CstNode | undefined;
}
function must<T>(x: T | undefined): T {
  if (x === undefined) throw new Error('incomplete syntax tree');
  return x;
}

export function tokSpan(t: IToken): Span {
  return { offset: t.startOffset, length: t.image.length };
}
function terminated(t: IToken): boolean {
  return (t.payload as BlockPayload | undefined)?.terminated !== false;
}

// ---- builder --------------------------------------------------------------------------------

export class AstBuilder {
  constructor(
    private readonly path: string,
    private readonly diags: DiagnosticBag,
  ) {}

  item(node: CstNode): Item {
    const inc = sub(node, 'include');
    if (inc) return this.include(inc);
    const imp = sub(node, 'importItem');
    if (imp) return this.importItem(imp);
    const grp = sub(node, 'group');
    if (grp) return this.group(grp);
    return this.rule(must(sub(node, 'rule')));
  }

  private include(node: CstNode): Include {
    const kw = must(tok(node, 'Include'));
    const str = tok(node, 'StringLit');
    const path = str ?? must(tok(node, 'AngledPath'));
    const closed = terminated(path);
    const target = path.image.slice(1, closed ? -1 : undefined);
    return { kind: 'Include', target, angled: str === undefined, span: cover(tokSpan(kw), tokSpan(path)) };
  }

  private importItem(node: CstNode): Import {
    const kw = must(tok(node, 'Import'));
    const str = must(tok(node, 'StringLit'));
    const path = new TextDecoder().decode(decodeString(str.image).value);
    return { kind: 'Import', path, pathSpan: tokSpan(str), span: cover(tokSpan(kw), tokSpan(str)) };
  }

  private group(node: CstNode): Group {
    const kw = must(tok(node, 'Group'));
    const close = must(tok(node, 'RBrace'));
    return {
      kind: 'Group',
      name: this.ident(must(tok(node, 'Ident'))),
      members: subs(node, 'scall').map((c) => this.call(c)),
      span: cover(tokSpan(kw), tokSpan(close)),
    };
  }

  private rule(node: CstNode): Rule {
    const at = tok(node, 'At');
    const name = at ? this.ident(must(tok(node, 'Ident'))) : undefined;
    const arrowTok = must(tok(node, 'FatArrow'));
    let lhs: Lhs;
    let rhs: Rhs;
    const begin = tok(node, 'Begin');
    if (begin) {
      lhs = { kind: 'Begin', span: tokSpan(begin) };
      rhs = this.rhsSeq(must(sub(node, 'rhsSeq')));
    } else {
      lhs = this.lhs(must(sub(node, 'lhs')));
      rhs = this.rhs(must(sub(node, 'rhs')));
    }
    const start = at ? tokSpan(at) : lhs.span;
    const rule: Rule = { kind: 'Rule', lhs, rhs, arrow: tokSpan(arrowTok), span: cover(start, rhs.span) };
    if (name) rule.name = name;
    return rule;
  }

  private lhs(node: CstNode): Lhs {
    const nothing = tok(node, 'Nothing');
    if (nothing) return { kind: 'Nothing', span: tokSpan(nothing) };
    const items = subs(node, 'lhsItem').map((n) => this.lhsItem(n));
    return { kind: 'LhsSeq', items, span: cover(items[0]!.span, items[items.length - 1]!.span) };
  }

  private lhsItem(node: CstNode): LhsItem {
    const call = this.call(must(sub(node, 'scall')));
    let span = call.span;
    const item: LhsItem = { kind: 'LhsItem', call, span };
    const g = sub(node, 'guard');
    if (g) {
      item.guard = this.guard(g);
      span = cover(span, item.guard.span);
    }
    const star = tok(node, 'Star');
    if (star) {
      this.diags.add(Diag.StarredLeft, this.path, tokSpan(star));
      span = cover(span, tokSpan(star));
    }
    const label = tok(node, 'Ident');
    if (label) {
      item.label = this.ident(label);
      span = cover(span, item.label.span);
    }
    item.span = span;
    return item;
  }

  private rhs(node: CstNode): Rhs {
    const nothing = tok(node, 'Nothing');
    if (nothing) return { kind: 'Nothing', span: tokSpan(nothing) };
    const diverge = tok(node, 'Diverge');
    if (diverge) {
      const str = tok(node, 'StringLit');
      if (!str) return { kind: 'Diverge', span: tokSpan(diverge) };
      const reason = this.stringArg(str);
      return { kind: 'Diverge', reason, span: cover(tokSpan(diverge), reason.span) };
    }
    return this.rhsSeq(must(sub(node, 'rhsSeq')));
  }

  private rhsSeq(node: CstNode): Rhs {
    const items = subs(node, 'rhsItem').map((n) => this.rhsItem(n));
    return { kind: 'RhsSeq', items, span: cover(items[0]!.span, items[items.length - 1]!.span) };
  }

  private rhsItem(node: CstNode): RhsItem {
    const call = this.call(must(sub(node, 'scall')));
    let span = call.span;
    const item: RhsItem = { kind: 'RhsItem', call, star: false, span };
    const g = sub(node, 'guard');
    if (g) {
      item.guard = this.guard(g);
      span = cover(span, item.guard.span);
    }
    const cb = sub(node, 'callback');
    if (cb) {
      item.callback = this.callback(cb);
      span = cover(span, item.callback.span);
    }
    const star = tok(node, 'Star');
    if (star) {
      item.star = true;
      span = cover(span, tokSpan(star));
    }
    item.span = span;
    return item;
  }

  private call(node: CstNode): Call {
    const name = this.ident(must(tok(node, 'Ident')));
    const close = tok(node, 'RParen');
    if (!close) return { kind: 'Call', name, args: null, span: name.span };
    const argsNode = sub(node, 'args');
    const args = argsNode ? subs(argsNode, 'arg').map((a) => this.arg(a)) : [];
    return { kind: 'Call', name, args, span: cover(name.span, tokSpan(close)) };
  }

  private arg(node: CstNode): Arg {
    const u = tok(node, 'Underscore');
    if (u) return { kind: 'Wildcard', span: tokSpan(u) };
    const id = tok(node, 'Ident');
    if (id) return { kind: 'Var', name: id.image, span: tokSpan(id) };
    const s = tok(node, 'StringLit');
    if (s) return this.stringArg(s);
    const n = must(tok(node, 'Int'));
    return { kind: 'Int', value: parseIntLiteral(n.image).value, raw: n.image, span: tokSpan(n) };
  }

  private stringArg(t: IToken): StringArg {
    return { kind: 'String', value: decodeString(t.image).value, raw: t.image, span: tokSpan(t) };
  }

  private guard(node: CstNode): Guard {
    const c = tok(node, 'CBlock') ?? tok(node, 'CBlockDouble');
    if (c) return cblock(c);
    return tsExpr(must(tok(node, 'If')), must(tok(node, 'TsExpr')));
  }

  private callback(node: CstNode): Callback {
    const arrow = tok(node, 'ThinArrow');
    if (!arrow) {
      const body = cblock(must(tok(node, 'CBlock') ?? tok(node, 'CBlockDouble')));
      return { kind: 'Callback', body, span: body.span };
    }
    const bodyNode = must(sub(node, 'callbackBody'));
    const c = tok(bodyNode, 'CBlock') ?? tok(bodyNode, 'CBlockDouble');
    const body = c ? cblock(c) : tsBlock(must(tok(bodyNode, 'Do')), must(tok(bodyNode, 'TsBlock')));
    const cb: Callback = { kind: 'Callback', body, span: cover(tokSpan(arrow), body.span) };
    const ret = tok(node, 'Ident');
    if (ret) cb.retName = this.ident(ret);
    return cb;
  }

  private ident(t: IToken): Ident {
    return { name: t.image, span: tokSpan(t) };
  }
}

/** A C block token -> CBlock (an unterminated block's code runs to the end of the file). */
export function cblock(t: IToken): CBlock {
  const double = t.image.startsWith('{{');
  const d = double ? 2 : 1;
  const code = t.image.slice(d, terminated(t) ? t.image.length - d : undefined);
  return { kind: 'CBlock', style: double ? 'double' : 'single', code, codeOffset: t.startOffset + d, span: tokSpan(t) };
}

function tsExpr(ifTok: IToken, t: IToken): TsExpr {
  const text = t.image.slice(1, terminated(t) ? -1 : undefined);
  return { kind: 'TsExpr', text, textOffset: t.startOffset + 1, span: cover(tokSpan(ifTok), tokSpan(t)) };
}

function tsBlock(doTok: IToken, t: IToken): TsBlock {
  const text = t.image.slice(1, terminated(t) ? -1 : undefined);
  return { kind: 'TsBlock', text, textOffset: t.startOffset + 1, span: cover(tokSpan(doTok), tokSpan(t)) };
}
