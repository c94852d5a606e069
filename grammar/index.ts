// parseSource: text -> MvrFile plus diagnostics. Never throws.
//
// Lexical problems (invalid characters, unterminated blocks/strings/comments, bad escapes, bad
// integers, blocks nested too deeply) are reported from the token stream, so they are found even
// inside items that fail to parse. Syntax errors: the driver calls the parser's `item` rule once per
// top-level item; after an error it reports ONE diagnostic for that item, skips to the next item
// boundary (see isBoundary) and goes on, so one run reports many errors and the good items between
// them still appear in the AST.
import { EOF, type ILexingError, type IRecognitionException, type IToken, type TokenType } from 'chevrotain';
import type { Comment, Item, MvrFile } from '../compiler/syntax/ast.ts';
import { Diag, type MessageTemplate } from '../compiler/core/diagnostic-messages.ts';
import { MAX_ERRORS, type DiagnosticBag } from '../compiler/core/diagnostics.ts';
import type { SourceFile, Span } from '../compiler/core/span.ts';
import { AstBuilder, tokSpan } from './ast-builder.ts';
import { decodeString, parseIntLiteral } from '../compiler/syntax/literals.ts';
import * as T from './lexer.ts';
import { describeToken, mvrParser, type ErrorInfo } from './parser.ts';

export { MAX_BLOCK_NESTING } from './lexer.ts';

/** Parses one .mvr source text. Always returns a file with every item it could recover. */
export function parseSource(source: SourceFile, diags: DiagnosticBag): MvrFile {
  const file: MvrFile = {
    kind: 'File',
    path: source.path,
    text: source.text,
    items: [],
    comments: [],
    span: { offset: 0, length: source.text.length },
  };
  try {
    new Driver(source, diags, file).run();
  } catch (e) {
    // A bug in the parser must not become a stack trace for the user.
    const msg = e instanceof Error ? e.message : String(e);
    diags.add(Diag.ParserInternalError, source.path, { offset: 0, length: 0 }, [msg]);
  }
  return file;
}

/** Token kinds that can only begin an item. */
const ALWAYS_ITEM_START = new Set<TokenType>([T.Include, T.Import, T.Group, T.At, T.Begin]);
/** Token kinds after which a line break does not end an item (the item continues). */
const CONTINUES = new Set<TokenType>([T.Comma, T.FatArrow, T.ThinArrow, T.As, T.At, T.Equals, T.LParen, T.If, T.Do, T.Include, T.Import, T.Group]);

class Driver {
  private syntaxErrors = 0;
  /** An unterminated block or comment ran to the end of the file: an error at the end of the
   *  file is a consequence of it, and is not reported again. */
  private swallowedToEnd = false;
  private readonly text: string;
  private readonly path: string;

  constructor(
    source: SourceFile,
    private readonly diags: DiagnosticBag,
    private readonly file: MvrFile,
  ) {
    this.text = source.text;
    this.path = source.path;
  }

  /** After more than MAX_ERRORS errors the bag has said "too many errors"; stop looking. */
  private get stopped(): boolean {
    return this.syntaxErrors > MAX_ERRORS;
  }

  private report(template: MessageTemplate, at: Span, args: (string | number)[] = []): void {
    if (template.severity === 'error') this.syntaxErrors++;
    this.diags.add(template, this.path, at, args);
  }

  run(): void {
    const lexed = T.mvrLexer().tokenize(this.text);
    for (const e of lexed.errors) {
      if (this.stopped) break;
      this.lexError(e);
    }
    const comments = (lexed.groups['comments'] ?? []) as IToken[];
    this.file.comments = comments.map(
      (c): Comment => ({ kind: c.tokenType === T.LineComment ? 'line' : 'block', text: c.image, span: tokSpan(c) }),
    );
    for (const c of comments) {
      if (this.stopped) break;
      this.checkToken(c);
    }
    const tokens = lexed.tokens;
    for (let i = 0; i < tokens.length && !this.stopped; i++) this.checkToken(tokens[i]!, tokens[i - 1]);
    this.parse(tokens);
  }

  private lexError(e: ILexingError): void {
    const cp = this.text.codePointAt(e.offset) ?? 0;
    const width = cp > 0xffff ? 2 : 1;
    const shown = cp >= 0x21 && cp < 0x7f ? `'${String.fromCodePoint(cp)}'` : `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    // One diagnostic per run of invalid characters (binary garbage would otherwise flood the bag).
    const more = e.length > width ? ` (and ${e.length - width} more)` : '';
    this.report(Diag.InvalidCharacter, { offset: e.offset, length: Math.max(width, e.length) }, [shown + more]);
  }

  /** Lexical checks of one token: unterminated delimiters, nesting depth, escapes, integers. */
  private checkToken(t: IToken, prev?: IToken): void {
    const p = t.payload as T.BlockPayload | undefined;
    const at = t.startOffset;
    if (p && !p.terminated) {
      if (t.tokenType !== T.StringLit && t.tokenType !== T.AngledPath) this.swallowedToEnd = true;
      switch (t.tokenType) {
        case T.CBlock:
          this.report(Diag.UnterminatedCBlock, { offset: at, length: 1 });
          break;
        case T.CBlockDouble:
          this.report(Diag.UnterminatedDoubleCBlock, { offset: at, length: 2 });
          break;
        case T.StringLit:
          this.report(Diag.UnterminatedString, { offset: at, length: 1 });
          break;
        case T.BlockComment:
          this.report(Diag.UnterminatedComment, { offset: at, length: 2 });
          break;
        case T.TsExpr:
          this.report(Diag.UnterminatedTypedBlock, { offset: at, length: 1 }, ['(', ')']);
          break;
        case T.TsBlock:
          this.report(Diag.UnterminatedTypedBlock, { offset: at, length: 1 }, ['{', '}']);
          break;
        case T.AngledPath:
          this.report(Diag.InvalidIncludePath, tokSpan(t), [`${t.image.slice(0, 40)} (missing '>')`]);
          break;
      }
    }
    if (p && p.tooDeepAt >= 0) this.report(Diag.NestingTooDeep, { offset: p.tooDeepAt, length: 1 }, [T.MAX_BLOCK_NESTING]);
    // A header name is copied to the C file as written (C gives no meaning to '\' in it).
    if (t.tokenType === T.StringLit && prev?.tokenType !== T.Include) {
      for (const e of decodeString(t.image).errors) this.report(Diag.InvalidEscape, { offset: at + e.offset, length: e.length }, [e.text]);
    } else if (t.tokenType === T.Int) {
      const r = parseIntLiteral(t.image);
      const shown = t.image.length > 40 ? `${t.image.slice(0, 37)}...` : t.image;
      if (r.error === 'invalid') this.report(Diag.InvalidInteger, tokSpan(t), [shown]);
      else if (r.error === 'range') this.report(Diag.IntegerOutOfRange, tokSpan(t), [shown]);
    } else if (t.tokenType === T.AngledPath && p?.terminated && t.image.length <= 2) {
      this.report(Diag.InvalidIncludePath, tokSpan(t), [t.image]);
    }
  }

  private parse(tokens: IToken[]): void {
    const parser = mvrParser();
    const builder = new AstBuilder(this.path, this.diags);
    parser.input = tokens;
    const items: Item[] = this.file.items;
    try {
      while (parser.position < tokens.length) {
        const start = parser.position;
        parser.errors = [];
        const cst = parser.item();
        const err = parser.errors[0];
        if (err === undefined) {
          items.push(builder.item(cst));
          continue;
        }
        const errIdx = this.tokenIndex(tokens, err.token);
        this.syntaxError(err, tokens, errIdx);
        if (this.stopped) break;
        let j = Math.max(errIdx, start + 1);
        while (j < tokens.length && !this.isBoundary(tokens, j)) j++;
        parser.position = j;
      }
    } finally {
      // Do not keep the token vector (and the file text) alive in the shared parser.
      parser.input = [];
    }
  }

  /** Index of a token in the vector (binary search by offset); EOF is tokens.length. */
  private tokenIndex(tokens: IToken[], t: IToken): number {
    if (t.tokenType === EOF || !Number.isFinite(t.startOffset)) return tokens.length;
    let lo = 0;
    let hi = tokens.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tokens[mid]!.startOffset < t.startOffset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether token j plausibly begins a new item (a re-synchronisation point after an error). */
  private isBoundary(tokens: IToken[], j: number): boolean {
    const t = tokens[j]!;
    if (ALWAYS_ITEM_START.has(t.tokenType)) return true;
    if (t.tokenType !== T.Ident && t.tokenType !== T.Nothing) return false;
    const prev = tokens[j - 1];
    if (!prev) return true;
    if (CONTINUES.has(prev.tokenType)) return false;
    const gap = this.text.slice(prev.startOffset + prev.image.length, t.startOffset);
    return /[\r\n]/.test(gap);
  }

  private spanOf(tokens: IToken[], idx: number): Span {
    const t = tokens[idx];
    return t ? tokSpan(t) : { offset: this.text.length, length: 0 };
  }

  private syntaxError(err: IRecognitionException, tokens: IToken[], idx: number): void {
    let info: ErrorInfo;
    try {
      info = JSON.parse(err.message) as ErrorInfo;
    } catch {
      info = { expected: 'something else', expectedTypes: [], rule: '' };
    }
    const actual = tokens[idx];
    if (actual === undefined && this.swallowedToEnd) return;
    // Right after an unterminated string (which ends at its line end) the error is a consequence.
    const before = tokens[idx - 1];
    if (before?.tokenType === T.StringLit && (before.payload as T.BlockPayload | undefined)?.terminated === false) return;
    const at = this.spanOf(tokens, idx);
    const prev = tokens[idx - 1];
    // '=>' where a rule's left side should start (not where a name after '@' is missing).
    if (actual?.tokenType === T.FatArrow && (info.rule === 'item' || info.rule === 'rule') && info.expectedTypes.length > 1) {
      this.report(Diag.EmptyRuleSide, at, ['left']);
      return;
    }
    if (prev?.tokenType === T.FatArrow && (actual === undefined || ALWAYS_ITEM_START.has(actual.tokenType))) {
      this.report(Diag.EmptyRuleSide, tokSpan(prev), ['right']);
      return;
    }
    if (info.expectedTypes.length === 1 && info.expectedTypes[0] === T.FatArrow.name) {
      this.report(Diag.MissingArrow, at);
      return;
    }
    const what = actual ? describeToken(actual) : 'end of file';
    this.report(Diag.UnexpectedToken, at, [what, info.expected]);
  }
}
