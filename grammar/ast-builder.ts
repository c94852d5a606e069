// Builds the AST (compiler/ast.ts) from one Chevrotain CST item, and decodes literals.
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
} from '../compiler/ast.ts';
import { Diag } from '../compiler/diagnostic-messages.ts';
import type { DiagnosticBag } from '../compiler/diagnostics.ts';
import { cover, type Span } from '../compiler/span.ts';
import type { BlockPayload } from './lexer.ts';

// ---- literals -------------------------------------------------------------------------------

export interface EscapeError {
  /** Offset of the backslash relative to the start of the literal (the opening quote). */
  offset: number;
  length: number;
  text: string;
}

const utf8 = new TextEncoder();

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Decodes a string literal as written (quotes included; a missing closing quote is tolerated).
 * Escapes: \r \n \t \\ \" \0 \xNN (one or two hex digits). Other characters are UTF-8 encoded.
 */
export function decodeString(raw: string): { value: Uint8Array; errors: EscapeError[] } {
  // UTF-8 needs at most 3 bytes per UTF-16 code unit.
  const buf = new Uint8Array(raw.length * 3);
  let pos = 0;
  const bytes = { push: (b: number): void => void (buf[pos++] = b) };
  const errors: EscapeError[] = [];
  let end = raw.length;
  if (end >= 2 && raw.charCodeAt(end - 1) === 34 && isClosingQuote(raw)) end--;
  let i = 1;
  let runStart = i;
  const flush = (to: number): void => {
    if (to > runStart) pos += utf8.encodeInto(raw.slice(runStart, to), buf.subarray(pos)).written;
  };
  while (i < end) {
    if (raw.charCodeAt(i) !== 92) {
      i++;
      continue;
    }
    flush(i);
    const e = raw[i + 1];
    let len = 2;
    switch (e) {
      case 'r':
        bytes.push(13);
        break;
      case 'n':
        bytes.push(10);
        break;
      case 't':
        bytes.push(9);
        break;
      case '\\':
        bytes.push(92);
        break;
      case '"':
        bytes.push(34);
        break;
      case '0':
        bytes.push(0);
        break;
      case 'x': {
        const h1 = i + 2 < end ? hexVal(raw.charCodeAt(i + 2)) : -1;
        if (h1 < 0) {
          errors.push({ offset: i, length: 2, text: '\\x' });
          break;
        }
        const h2 = i + 3 < end ? hexVal(raw.charCodeAt(i + 3)) : -1;
        if (h2 < 0) {
          bytes.push(h1);
          len = 3;
        } else {
          bytes.push(h1 * 16 + h2);
          len = 4;
        }
        break;
      }
      default: {
        // Report the escape with its whole character (a surrogate pair is one character).
        const cp = e === undefined ? undefined : raw.codePointAt(i + 1);
        len = cp === undefined ? 1 : cp > 0xffff ? 3 : 2;
        errors.push({ offset: i, length: len, text: raw.slice(i, i + len) });
      }
    }
    i += len;
    runStart = i;
  }
  flush(end);
  return { value: buf.slice(0, pos), errors };
}

/** Whether the last '"' of `raw` closes the literal (it is not escaped by an odd run of '\'). */
function isClosingQuote(raw: string): boolean {
  let k = raw.length - 2;
  let backslashes = 0;
  while (k >= 1 && raw.charCodeAt(k) === 92) {
    backslashes++;
    k--;
  }
  return backslashes % 2 === 0;
}

/** The canonical spelling of bytes as a string literal (used by the printer). */
export function encodeString(value: Uint8Array): string {
  let out = '"';
  let i = 0;
  while (i < value.length) {
    const b = value[i]!;
    if (b === 34) out += '\\"';
    else if (b === 92) out += '\\\\';
    else if (b === 10) out += '\\n';
    else if (b === 13) out += '\\r';
    else if (b === 9) out += '\\t';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else {
      // Always two hex digits, so a following hex-digit character is never absorbed.
      out += `\\x${b.toString(16).padStart(2, '0')}`;
    }
    i++;
  }
  return `${out}"`;
}

export const INT_MIN = -(1n << 63n);
/** Unsigned 64-bit values (flags, masks) are accepted too. */
export const INT_MAX = (1n << 64n) - 1n;

/** Parses an integer literal: decimal, 0x hex, 0o octal, leading-0 octal, optional '-'. */
export function parseIntLiteral(raw: string): { value: bigint; error?: 'invalid' | 'range' } {
  const neg = raw.startsWith('-');
  const body = neg ? raw.slice(1) : raw;
  let digits: string;
  let radix: bigint;
  if (/^0[xX][0-9a-fA-F]+$/.test(body)) {
    digits = body.slice(2);
    radix = 16n;
  } else if (/^0[oO][0-7]+$/.test(body)) {
    digits = body.slice(2);
    radix = 8n;
  } else if (/^0[0-7]*$/.test(body)) {
    digits = body;
    radix = 8n;
  } else if (/^[1-9][0-9]*$/.test(body)) {
    digits = body;
    radix = 10n;
  } else {
    return { value: 0n, error: 'invalid' };
  }
  // Iterative conversion with an early stop, so a 10 MB digit string costs no more than needed.
  let v = 0n;
  for (let k = 0; k < digits.length; k++) {
    v = v * radix + BigInt(hexVal(digits.charCodeAt(k)));
    if (v > INT_MAX + 1n) return { value: 0n, error: 'range' };
  }
  if (neg) v = -v;
  if (v < INT_MIN || v > INT_MAX) return { value: 0n, error: 'range' };
  return { value: v };
}

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
