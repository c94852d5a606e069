// The mvr grammar (LANGUAGE.md §2) as a Chevrotain CST parser. Syntax only: no semantics.
// Error recovery is done one level up (grammar/index.ts): Chevrotain's own recovery is off, the
// driver calls `item` once per top-level item and re-synchronises at item boundaries after an
// error. Error messages are structured (see ErrorInfo) so the driver can pick catalog codes.
import { CstParser, EOF, type CstNode, type IOrAlt, type IParserErrorMessageProvider, type IToken, type TokenType } from 'chevrotain';
import * as T from './lexer.ts';

/** What the parser's error message provider records about one syntax error (JSON in `message`). */
export interface ErrorInfo {
  /** Readable description of what would have been accepted. */
  expected: string;
  /** The token types that would have been accepted (names), when known. */
  expectedTypes: string[];
  rule: string;
}

/** Readable names of token kinds, as used in "unexpected X; expected Y". */
export function describeTokenType(t: TokenType): string {
  switch (t) {
    case T.Ident:
      return 'a name';
    case T.Int:
      return 'an integer';
    case T.StringLit:
      return 'a string';
    case EOF:
      return 'end of file';
    default:
      return t.LABEL ?? t.name;
  }
}

/** Readable description of an actual token, e.g. "name 'dup'" or "')'". */
export function describeToken(tok: IToken): string {
  const t = tok.tokenType;
  const short = (s: string): string => (s.length > 24 ? `${s.slice(0, 21)}...` : s);
  switch (t) {
    case EOF:
      return 'end of file';
    case T.Ident:
      return `name '${short(tok.image)}'`;
    case T.Int:
      return `integer ${short(tok.image)}`;
    case T.StringLit:
      return `string ${short(tok.image)}`;
    case T.Nothing:
    case T.Diverge:
    case T.Begin:
    case T.Group:
    case T.Import:
    case T.As:
    case T.If:
    case T.Do:
      return `keyword '${tok.image}'`;
    case T.CBlock:
      return "C block '{ ... }'";
    case T.CBlockDouble:
      return "C block '{{ ... }}'";
    case T.TsExpr:
      return 'typed expression';
    case T.TsBlock:
      return 'typed block';
    case T.AngledPath:
      return `header name ${short(tok.image)}`;
    default:
      return t.LABEL ?? `'${tok.image}'`;
  }
}

const ARG_START = new Set<TokenType>([T.Underscore, T.Ident, T.StringLit, T.Int]);
const ITEM_START = new Set<TokenType>([T.Include, T.Import, T.Group, T.At, T.Begin, T.Nothing, T.Ident]);
const RHS_START = new Set<TokenType>([T.Nothing, T.Diverge, T.Ident]);
const LHS_START = new Set<TokenType>([T.Nothing, T.Ident, T.Begin]);

function sameSet(a: Set<TokenType>, b: Set<TokenType>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/** Readable text for a set of acceptable token kinds. */
export function describeExpected(types: readonly TokenType[]): string {
  const set = new Set(types);
  if (sameSet(set, ARG_START)) return 'an argument (_, a name, a string or an integer)';
  if (sameSet(set, ITEM_START)) return "a rule, 'group', 'import' or '#include'";
  if (sameSet(set, RHS_START)) return "a syscall, a label, 'nothing' or 'diverge'";
  if (sameSet(set, LHS_START) || sameSet(set, new Set([T.Nothing, T.Ident]))) return "a syscall pattern, 'nothing' or 'begin'";
  if (sameSet(set, new Set([T.StringLit, T.AngledPath]))) return "a header name (\"x.h\" or <x.h>)";
  const names = [...set].map(describeTokenType);
  if (names.length === 0) return 'something else';
  if (names.length === 1) return names[0]!;
  return `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

function info(expectedTypes: TokenType[], rule: string, override?: string): string {
  const e: ErrorInfo = { expected: override ?? describeExpected(expectedTypes), expectedTypes: expectedTypes.map((t) => t.name), rule };
  return JSON.stringify(e);
}

function firstTokens(paths: TokenType[][]): TokenType[] {
  const out: TokenType[] = [];
  for (const p of paths) if (p[0] !== undefined && !out.includes(p[0])) out.push(p[0]);
  return out;
}

/** What a name stands for where the grammar expects one, by rule. */
const IDENT_ROLE: Record<string, string> = {
  scall: 'a syscall, group or label name',
  group: 'a group name',
  rule: "a rule name after '@'",
  lhsItem: "a label name after 'as'",
  callback: 'a name for the return value',
};

const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, ruleName, previous }) {
    // Where a list may start or continue, say so.
    if (expected === T.RParen && ruleName === 'scall') {
      if (previous.tokenType === T.LParen) return info([T.Underscore, T.Ident, T.StringLit, T.Int, T.RParen], ruleName, "an argument (_, a name, a string or an integer) or ')'");
      return info([T.Comma, T.RParen], ruleName);
    }
    if (expected === T.RBrace && ruleName === 'group') return info([T.Comma, T.RBrace], ruleName);
    if (expected === T.Ident) {
      const what = IDENT_ROLE[ruleName];
      if (what !== undefined) return info([T.Ident], ruleName, what);
    }
    return info([expected], ruleName);
  },
  buildNotAllInputParsedMessage({ ruleName }) {
    return info([EOF], ruleName);
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, ruleName }) {
    return info(firstTokens(expectedPathsPerAlt.flat()), ruleName);
  },
  buildEarlyExitMessage({ expectedIterationPaths, ruleName }) {
    return info(firstTokens(expectedIterationPaths), ruleName);
  },
};

class MvrParser extends CstParser {
  /** OR alternatives are built once per parser, not on every rule invocation (a Chevrotain
   *  performance recommendation: the arrays and closures are otherwise recreated per call). */
  private readonly altCache: IOrAlt<unknown>[][] = [];
  private alts(k: number, make: () => IOrAlt<unknown>[]): IOrAlt<unknown>[] {
    return (this.altCache[k] ??= make());
  }

  constructor() {
    super(T.allTokens, { recoveryEnabled: false, maxLookahead: 1, errorMessageProvider: messages, skipValidations: T.SKIP_GRAMMAR_VALIDATION });
    this.performSelfAnalysis();
  }

  item = this.RULE('item', () => {
    this.OR(this.alts(0, () => [
      { ALT: () => this.SUBRULE(this.include) },
      { ALT: () => this.SUBRULE(this.importItem) },
      { ALT: () => this.SUBRULE(this.group) },
      { ALT: () => this.SUBRULE(this.rule) },
    ]));
  });

  include = this.RULE('include', () => {
    this.CONSUME(T.Include);
    this.OR(this.alts(1, () => [{ ALT: () => this.CONSUME(T.StringLit) }, { ALT: () => this.CONSUME(T.AngledPath) }]));
  });

  importItem = this.RULE('importItem', () => {
    this.CONSUME(T.Import);
    this.CONSUME(T.StringLit);
  });

  group = this.RULE('group', () => {
    this.CONSUME(T.Group);
    this.CONSUME(T.Ident);
    this.CONSUME(T.Equals);
    this.CONSUME(T.LBrace);
    this.SUBRULE(this.scall);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.scall);
    });
    this.CONSUME(T.RBrace);
  });

  rule = this.RULE('rule', () => {
    this.OPTION(() => {
      this.CONSUME(T.At);
      this.CONSUME(T.Ident);
    });
    this.OR(this.alts(2, () => [
      {
        ALT: () => {
          this.CONSUME(T.Begin);
          this.CONSUME(T.FatArrow);
          this.SUBRULE(this.rhsSeq);
        },
      },
      {
        ALT: () => {
          this.SUBRULE(this.lhs);
          this.CONSUME2(T.FatArrow);
          this.SUBRULE(this.rhs);
        },
      },
    ]));
  });

  lhs = this.RULE('lhs', () => {
    this.OR(this.alts(3, () => [
      { ALT: () => this.CONSUME(T.Nothing) },
      {
        ALT: () => {
          this.SUBRULE(this.lhsItem);
          this.MANY(() => {
            this.CONSUME(T.Comma);
            this.SUBRULE2(this.lhsItem);
          });
        },
      },
    ]));
  });

  lhsItem = this.RULE('lhsItem', () => {
    this.SUBRULE(this.scall);
    this.OPTION(() => this.SUBRULE(this.guard));
    // '*' is not allowed on the left; it is parsed so that the AST builder can say so (MVR4012).
    this.OPTION2(() => this.CONSUME(T.Star));
    this.OPTION3(() => {
      this.CONSUME(T.As);
      this.CONSUME(T.Ident);
    });
  });

  rhs = this.RULE('rhs', () => {
    this.OR(this.alts(4, () => [
      { ALT: () => this.CONSUME(T.Nothing) },
      {
        ALT: () => {
          this.CONSUME(T.Diverge);
          this.OPTION(() => this.CONSUME(T.StringLit));
        },
      },
      { ALT: () => this.SUBRULE(this.rhsSeq) },
    ]));
  });

  rhsSeq = this.RULE('rhsSeq', () => {
    this.SUBRULE(this.rhsItem);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.rhsItem);
    });
  });

  rhsItem = this.RULE('rhsItem', () => {
    this.SUBRULE(this.scall);
    this.OPTION(() => this.SUBRULE(this.guard));
    this.OPTION2(() => this.SUBRULE(this.callback));
    this.OPTION3(() => this.CONSUME(T.Star));
  });

  scall = this.RULE('scall', () => {
    this.CONSUME(T.Ident);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.OPTION2(() => this.SUBRULE(this.args));
      this.CONSUME(T.RParen);
    });
  });

  args = this.RULE('args', () => {
    this.SUBRULE(this.arg);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.arg);
    });
  });

  arg = this.RULE('arg', () => {
    this.OR(this.alts(5, () => [
      { ALT: () => this.CONSUME(T.Underscore) },
      { ALT: () => this.CONSUME(T.Ident) },
      { ALT: () => this.CONSUME(T.StringLit) },
      { ALT: () => this.CONSUME(T.Int) },
    ]));
  });

  guard = this.RULE('guard', () => {
    this.OR(this.alts(6, () => [
      { ALT: () => this.CONSUME(T.CBlock) },
      { ALT: () => this.CONSUME(T.CBlockDouble) },
      {
        ALT: () => {
          this.CONSUME(T.If);
          this.CONSUME(T.TsExpr);
        },
      },
    ]));
  });

  callback = this.RULE('callback', () => {
    this.OR(this.alts(7, () => [
      {
        ALT: () => {
          this.CONSUME(T.ThinArrow);
          this.OPTION(() => {
            this.CONSUME(T.LParen);
            this.CONSUME(T.Ident);
            this.CONSUME(T.RParen);
          });
          this.SUBRULE(this.callbackBody);
        },
      },
      { ALT: () => this.CONSUME(T.CBlock) },
      { ALT: () => this.CONSUME(T.CBlockDouble) },
    ]));
  });

  callbackBody = this.RULE('callbackBody', () => {
    this.OR(this.alts(8, () => [
      { ALT: () => this.CONSUME(T.CBlock) },
      { ALT: () => this.CONSUME(T.CBlockDouble) },
      {
        ALT: () => {
          this.CONSUME(T.Do);
          this.CONSUME(T.TsBlock);
        },
      },
    ]));
  });

  // ---- driver access (Chevrotain keeps the token position internal) ------------------------
  /** Chevrotain's root-rule hook reports input left after the rule; the driver calls `item`
   *  once per item, so only the sentinel clean-up of the original hook is kept. */
  onAfterParse(): void {
    const v = (this as unknown as { tokVector: IToken[] }).tokVector;
    while (v.length > 0 && v[v.length - 1]!.tokenType === EOF) v.pop();
  }

  /** Index of the next token to be consumed. */
  get position(): number {
    return (this as unknown as { exportLexerState(): number }).exportLexerState() + 1;
  }
  set position(index: number) {
    (this as unknown as { importLexerState(s: number): void }).importLexerState(index - 1);
  }
}

let parserInstance: MvrParser | undefined;

/** The one parser (performSelfAnalysis is expensive, so it is built once and reused). */
export function mvrParser(): MvrParser {
  parserInstance ??= new MvrParser();
  return parserInstance;
}

export type { MvrParser, CstNode };
