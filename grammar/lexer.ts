// The mvr lexer (LANGUAGE.md §1). Chevrotain tokens; the opaque blocks (C blocks, typed blocks),
// strings, block comments and `#include <...>` paths use custom pattern functions so that each is
// ONE token. Context decides what `{` and `(` open:
//   - `(` right after `if`            -> TsExpr  (balanced parentheses, TS strings/templates skipped)
//   - `{` right after `do`            -> TsBlock (balanced braces, TS strings/templates skipped)
//   - `{` right after `group NAME =`  -> LBrace  (a list of syscall patterns)
//   - `{{` elsewhere                  -> CBlockDouble (ends at the first `}}` at brace depth 0)
//   - `{` elsewhere                   -> CBlock  (balanced braces, C strings/chars/comments skipped)
// The scanners are iterative (no recursion), so any nesting depth is safe. An unterminated block,
// string or comment runs to the end of its line (strings) or file (blocks, comments) and carries a
// payload saying so; grammar/index.ts turns payloads into diagnostics. The pattern functions
// themselves never report anything, so they are pure and may be retried.
import { createToken, Lexer, type CustomPatternMatcherReturn, type IToken, type TokenType } from 'chevrotain';

/** Deeper nesting than this inside one block is reported (MVR1014): the C compiler and the
 *  TypeScript parser that later read the block text are recursive. */
export const MAX_BLOCK_NESTING = 256;

/** What a custom-pattern token found out about itself. */
export interface BlockPayload {
  /** False when the closing delimiter is missing (the token then runs to the end of the file/line). */
  terminated: boolean;
  /** Offset of the first delimiter that nests deeper than MAX_BLOCK_NESTING, or -1. */
  tooDeepAt: number;
}

function payloadMatch(text: string, payload: BlockPayload): CustomPatternMatcherReturn {
  const m = [text] as CustomPatternMatcherReturn;
  m.payload = payload;
  return m;
}

// ---- character codes --------------------------------------------------------------------
const LF = 10;
const CR = 13;
const DQUOTE = 34;
const SQUOTE = 39;
const LPAREN = 40;
const RPAREN = 41;
const STAR = 42;
const SLASH = 47;
const LBRACKET = 91;
const BACKSLASH = 92;
const RBRACKET = 93;
const BACKTICK = 96;
const LBRACE = 123;
const RBRACE = 125;
const DOLLAR = 36;

function isLineEnd(c: number): boolean {
  return c === LF || c === CR;
}

/** Skips a C or TS quoted literal starting at `i` (the quote); stops at the closing quote or before
 *  a line end (an unterminated literal is C's/TS's error to report, not ours). Returns the next index. */
function skipQuoted(text: string, i: number, quote: number): number {
  const n = text.length;
  i++;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === quote) return i + 1;
    if (c === BACKSLASH) {
      // A backslash-newline continues the literal in C; any other escape is two characters.
      i += 2;
      continue;
    }
    if (isLineEnd(c)) return i;
    i++;
  }
  return n;
}

/** Skips a comment starting at `i` (the '/' of // or /*). Returns the next index. */
function skipComment(text: string, i: number): number {
  const n = text.length;
  if (text.charCodeAt(i + 1) === SLASH) {
    i += 2;
    while (i < n && !isLineEnd(text.charCodeAt(i))) i++;
    return i;
  }
  const end = text.indexOf('*/', i + 2);
  return end < 0 ? n : end + 2;
}

function isCommentStart(text: string, i: number): boolean {
  if (text.charCodeAt(i) !== SLASH) return false;
  const d = text.charCodeAt(i + 1);
  return d === SLASH || d === STAR;
}

/**
 * Scans a C block. `start` is the offset of the opening `{` (or `{{` when `double`).
 * Returns the end offset (just past the closing delimiter, or text.length) and the payload.
 */
export function scanCBlock(text: string, start: number, double: boolean): { end: number; payload: BlockPayload } {
  const n = text.length;
  let i = start + (double ? 2 : 1);
  let depth = double ? 0 : 1;
  let tooDeepAt = -1;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === DQUOTE || c === SQUOTE) {
      i = skipQuoted(text, i, c);
    } else if (c === SLASH && isCommentStart(text, i)) {
      i = skipComment(text, i);
    } else if (c === LBRACE) {
      depth++;
      if (depth > MAX_BLOCK_NESTING && tooDeepAt < 0) tooDeepAt = i;
      i++;
    } else if (c === RBRACE) {
      if (double) {
        if (depth === 0 && text.charCodeAt(i + 1) === RBRACE) return { end: i + 2, payload: { terminated: true, tooDeepAt } };
        if (depth > 0) depth--;
        i++;
      } else {
        depth--;
        i++;
        if (depth === 0) return { end: i, payload: { terminated: true, tooDeepAt } };
      }
    } else {
      i++;
    }
  }
  return { end: n, payload: { terminated: false, tooDeepAt } };
}

/**
 * Scans a typed block: `(` ... `)` (closer ')') or `{` ... `}` (closer '}'), starting at the
 * opening delimiter. Skips TypeScript string literals, template literals (with `${ }` holes, which
 * may nest further templates) and comments. Iterative: the template nesting is an explicit stack.
 */
export function scanTypedBlock(text: string, start: number, closer: ')' | '}'): { end: number; payload: BlockPayload } {
  const n = text.length;
  const open = closer === ')' ? LPAREN : LBRACE;
  const close = closer === ')' ? RPAREN : RBRACE;
  let depth = 1; // of the block's own delimiter kind
  let total = 1; // all bracket kinds, for the nesting limit
  let braces = 0; // brace depth, to find the `}` that closes a template hole
  const holes: number[] = []; // brace depth at which each open `${` hole started
  let tooDeepAt = -1;
  let i = start + 1;
  let inTemplate = false;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (inTemplate) {
      if (c === BACKSLASH) i += 2;
      else if (c === BACKTICK) {
        inTemplate = false;
        i++;
      } else if (c === DOLLAR && text.charCodeAt(i + 1) === LBRACE) {
        holes.push(braces);
        braces++;
        total++;
        if (total > MAX_BLOCK_NESTING && tooDeepAt < 0) tooDeepAt = i;
        inTemplate = false;
        i += 2;
      } else i++;
      continue;
    }
    if (c === DQUOTE || c === SQUOTE) {
      i = skipQuoted(text, i, c);
      continue;
    }
    if (c === BACKTICK) {
      inTemplate = true;
      i++;
      continue;
    }
    if (c === SLASH && isCommentStart(text, i)) {
      i = skipComment(text, i);
      continue;
    }
    if (c === LPAREN || c === LBRACE || c === LBRACKET) {
      total++;
      if (total > MAX_BLOCK_NESTING && tooDeepAt < 0) tooDeepAt = i;
      if (c === LBRACE) braces++;
      if (c === open) depth++;
      i++;
      continue;
    }
    if (c === RPAREN || c === RBRACE || c === RBRACKET) {
      if (total > 0) total--;
      if (c === RBRACE) {
        braces--;
        if (holes.length > 0 && braces === holes[holes.length - 1]) {
          // The `}` closes a `${` hole: back inside the template literal.
          holes.pop();
          inTemplate = true;
          i++;
          continue;
        }
      }
      if (c === close) {
        depth--;
        if (depth === 0) return { end: i + 1, payload: { terminated: true, tooDeepAt } };
      }
      i++;
      continue;
    }
    i++;
  }
  return { end: n, payload: { terminated: false, tooDeepAt } };
}

/** Scans an mvr string literal from its opening quote to the closing quote or the end of the line. */
export function scanString(text: string, start: number): { end: number; payload: BlockPayload } {
  const n = text.length;
  let i = start + 1;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === DQUOTE) return { end: i + 1, payload: { terminated: true, tooDeepAt: -1 } };
    if (isLineEnd(c)) break;
    if (c === BACKSLASH) {
      if (i + 1 < n && isLineEnd(text.charCodeAt(i + 1))) {
        i++;
        break;
      }
      i += 2;
      continue;
    }
    i++;
  }
  return { end: Math.min(i, n), payload: { terminated: false, tooDeepAt: -1 } };
}

// ---- token context helpers ----------------------------------------------------------------
function lastType(tokens: IToken[], back = 1): TokenType | undefined {
  return tokens[tokens.length - back]?.tokenType;
}

// ---- tokens ---------------------------------------------------------------------------------
export const Whitespace = createToken({ name: 'Whitespace', pattern: /[ \t\r\n\f\v\uFEFF]+/, group: Lexer.SKIPPED, line_breaks: true });
export const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\n\r]*/, group: 'comments' });
export const BlockComment = createToken({
  name: 'BlockComment',
  pattern: {
    exec: (text, offset) => {
      if (text.charCodeAt(offset) !== SLASH || text.charCodeAt(offset + 1) !== STAR) return null;
      const end = text.indexOf('*/', offset + 2);
      const terminated = end >= 0;
      return payloadMatch(text.slice(offset, terminated ? end + 2 : text.length), { terminated, tooDeepAt: -1 });
    },
  },
  start_chars_hint: ['/'],
  line_breaks: true,
  group: 'comments',
});

export const Ident = createToken({ name: 'Ident', pattern: /[A-Za-z_][A-Za-z0-9_]*/ });
function keyword(word: string): TokenType {
  return createToken({ name: word[0]!.toUpperCase() + word.slice(1), pattern: new RegExp(word), longer_alt: Ident, label: `'${word}'` });
}
export const Nothing = keyword('nothing');
export const Diverge = keyword('diverge');
export const Begin = keyword('begin');
export const Group = keyword('group');
export const Import = keyword('import');
export const As = keyword('as');
export const If = keyword('if');
export const Do = keyword('do');
export const Underscore = createToken({ name: 'Underscore', pattern: /_/, longer_alt: Ident, label: "'_'" });
export const Include = createToken({ name: 'Include', pattern: /#include/, label: "'#include'" });

/** Integers are lexed loosely (`-?[0-9][0-9A-Za-z_]*`) and validated by the AST builder, so that
 *  `08` or `0xZ` is one bad literal (MVR1015) rather than a number followed by a name. */
export const Int = createToken({ name: 'Int', pattern: /-?[0-9][0-9A-Za-z_]*/, label: 'an integer' });
export const StringLit = createToken({
  name: 'StringLit',
  pattern: {
    exec: (text, offset) => {
      if (text.charCodeAt(offset) !== DQUOTE) return null;
      const { end, payload } = scanString(text, offset);
      return payloadMatch(text.slice(offset, end), payload);
    },
  },
  start_chars_hint: ['"'],
  line_breaks: false,
  label: 'a string',
});
/** `<path>` right after `#include`. */
export const AngledPath = createToken({
  name: 'AngledPath',
  pattern: {
    exec: (text, offset, tokens) => {
      if (text.charCodeAt(offset) !== 60 || lastType(tokens) !== Include) return null;
      let i = offset + 1;
      while (i < text.length && text.charCodeAt(i) !== 62 && !isLineEnd(text.charCodeAt(i))) i++;
      const terminated = text.charCodeAt(i) === 62;
      return payloadMatch(text.slice(offset, terminated ? i + 1 : i), { terminated, tooDeepAt: -1 });
    },
  },
  start_chars_hint: ['<'],
  line_breaks: false,
  label: "a header name '<...>'",
});

export const FatArrow = createToken({ name: 'FatArrow', pattern: /=>/, label: "'=>'" });
export const ThinArrow = createToken({ name: 'ThinArrow', pattern: /->/, label: "'->'" });
export const Equals = createToken({ name: 'Equals', pattern: /=/, label: "'='" });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: "','" });
export const Star = createToken({ name: 'Star', pattern: /\*/, label: "'*'" });
export const At = createToken({ name: 'At', pattern: /@/, label: "'@'" });

/** `( ... )` right after `if`: the typed guard expression. */
export const TsExpr = createToken({
  name: 'TsExpr',
  pattern: {
    exec: (text, offset, tokens) => {
      if (text.charCodeAt(offset) !== LPAREN || lastType(tokens) !== If) return null;
      const { end, payload } = scanTypedBlock(text, offset, ')');
      return payloadMatch(text.slice(offset, end), payload);
    },
  },
  start_chars_hint: ['('],
  line_breaks: true,
  label: "'(' after 'if'",
});
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: "')'" });

/** `{ ... }` right after `do`: typed statements. */
export const TsBlock = createToken({
  name: 'TsBlock',
  pattern: {
    exec: (text, offset, tokens) => {
      if (text.charCodeAt(offset) !== LBRACE || lastType(tokens) !== Do) return null;
      const { end, payload } = scanTypedBlock(text, offset, '}');
      return payloadMatch(text.slice(offset, end), payload);
    },
  },
  start_chars_hint: ['{'],
  line_breaks: true,
  label: "'{' after 'do'",
});
/** `{` opening the member list of `group NAME = { ... }`. */
export const LBrace = createToken({
  name: 'LBrace',
  pattern: {
    exec: (text, offset, tokens) => {
      if (text.charCodeAt(offset) !== LBRACE) return null;
      if (lastType(tokens) !== Equals || lastType(tokens, 2) !== Ident || lastType(tokens, 3) !== Group) return null;
      return ['{'] as CustomPatternMatcherReturn;
    },
  },
  start_chars_hint: ['{'],
  line_breaks: false,
  label: "'{'",
});
export const CBlockDouble = createToken({
  name: 'CBlockDouble',
  pattern: {
    exec: (text, offset) => {
      if (text.charCodeAt(offset) !== LBRACE || text.charCodeAt(offset + 1) !== LBRACE) return null;
      const { end, payload } = scanCBlock(text, offset, true);
      return payloadMatch(text.slice(offset, end), payload);
    },
  },
  start_chars_hint: ['{'],
  line_breaks: true,
  label: "a C block '{{ ... }}'",
});
export const CBlock = createToken({
  name: 'CBlock',
  pattern: {
    exec: (text, offset) => {
      if (text.charCodeAt(offset) !== LBRACE) return null;
      const { end, payload } = scanCBlock(text, offset, false);
      return payloadMatch(text.slice(offset, end), payload);
    },
  },
  start_chars_hint: ['{'],
  line_breaks: true,
  label: "a C block '{ ... }'",
});
export const RBrace = createToken({ name: 'RBrace', pattern: /\}/, label: "'}'" });

/** Order matters: Chevrotain takes the first pattern that matches. */
export const allTokens: TokenType[] = [
  Whitespace,
  LineComment,
  BlockComment,
  Include,
  Nothing,
  Diverge,
  Begin,
  Group,
  Import,
  As,
  If,
  Do,
  Underscore,
  Ident,
  Int,
  StringLit,
  AngledPath,
  FatArrow,
  ThinArrow,
  Equals,
  Comma,
  Star,
  At,
  TsExpr,
  LParen,
  RParen,
  TsBlock,
  LBrace,
  CBlockDouble,
  CBlock,
  RBrace,
];

let lexerInstance: Lexer | undefined;

/** Set by the CLI bundle (scripts/build.mjs): the grammar is validated by the tests instead. */
export const SKIP_GRAMMAR_VALIDATION = process.env.MVRC_SKIP_GRAMMAR_VALIDATION === '1';

/** The one lexer (building it validates every pattern, so it is built once and reused). */
export function mvrLexer(): Lexer {
  lexerInstance ??= new Lexer(allTokens, {
    positionTracking: 'onlyOffset',
    ensureOptimizations: true,
    // Grammar validation runs in the tests (tsx); the bundled CLI skips it to start faster.
    skipValidations: SKIP_GRAMMAR_VALIDATION,
    // Messages are replaced by catalog diagnostics in grammar/index.ts.
    errorMessageProvider: {
      buildUnexpectedCharactersMessage: () => '',
      buildUnableToPopLexerModeMessage: () => '',
    },
  });
  return lexerInstance;
}
