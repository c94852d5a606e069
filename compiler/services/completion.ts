// Completion. The text being typed rarely parses, so the context is read from the tokens before
// the cursor rather than from the syntax tree: the item the cursor is in starts at the last token
// that can only begin an item (or a name at the start of a line after a complete item, as the
// parser's error recovery decides), and from there we know the side of the rule (before or after
// `=>`), the labels bound so far (`as NAME`), and whether the cursor is inside an argument list.
// Names that do not depend on the cursor (groups) come from the last analysis.
import * as path from 'node:path';
import { readdirSync } from 'node:fs';
import type { IToken, TokenType } from 'chevrotain';
import * as T from '../../grammar/lexer.ts';
import type { Span } from '../core/span.ts';
import { allSyscalls, syscallByName } from '../syscalls/lookup.ts';
import { groupDefinitions, shownPath, sourceOf, type Analysis } from './analysis.ts';
import { groupMarkdown, syscallMarkdown, syscallSignature } from './describe.ts';
import { headerSummary, stdModules } from './std.ts';
import { LineMap } from '../core/span.ts';

export type CompletionKind = 'syscall' | 'group' | 'label' | 'variable' | 'keyword' | 'module' | 'file';

export interface Completion {
  label: string;
  kind: CompletionKind;
  detail?: string;
  /** Markdown. */
  documentation?: string;
  /** The text replaced by the completion (the part of the word already typed). */
  replace: Span;
  /** Orders the list: labels before syscalls on a right side. */
  sortText?: string;
}

/** Token kinds that can only begin an item (grammar/index.ts). */
const ITEM_START = new Set<TokenType>([T.Include, T.Import, T.Group, T.At, T.Begin]);
/** Token kinds after which a line break does not end an item (grammar/index.ts). */
const CONTINUES = new Set<TokenType>([T.Comma, T.FatArrow, T.ThinArrow, T.As, T.At, T.Equals, T.LParen, T.If, T.Do, T.Include, T.Import, T.Group]);
/** Tokens the cursor can be inside of without a completion making sense. */
const OPAQUE = new Set<TokenType>([T.CBlock, T.CBlockDouble, T.TsExpr, T.TsBlock, T.AngledPath, T.Int]);

const end = (t: IToken): number => t.startOffset + t.image.length;

/**
 * Completions at `offset` of `text` (the document as it is now; `a` may be a slightly older
 * analysis of it, used only for the program's groups).
 */
export function completionsAt(a: Analysis, text: string, offset: number): Completion[] {
  const lexed = T.mvrLexer().tokenize(text);
  for (const c of (lexed.groups['comments'] ?? []) as IToken[]) {
    if (offset > c.startOffset && (offset < end(c) || (c.tokenType === T.LineComment && offset === end(c)))) return [];
  }
  const tokens = lexed.tokens;
  // Tokens that start before the cursor; the last one may contain it.
  let n = 0;
  while (n < tokens.length && tokens[n]!.startOffset < offset) n++;
  const last = tokens[n - 1];
  let word: IToken | undefined;
  if (last && offset <= end(last)) {
    if (last.tokenType === T.StringLit) return tokens[n - 2]?.tokenType === T.Import ? importCompletions(a, text, last, offset) : [];
    if (OPAQUE.has(last.tokenType) && offset < end(last)) return [];
    if (isWord(last.tokenType)) word = last;
  }
  const replace: Span = word ? { offset: word.startOffset, length: offset - word.startOffset } : { offset, length: 0 };
  const before = tokens.slice(0, word ? n - 1 : n);

  // The current item: from the last item boundary before the cursor. A word at the start of a
  // line after a complete item, or a blank line after one, begins a new item.
  const lastBefore = before[before.length - 1];
  const newItem = word
    ? startsLine(text, before, word)
    : lastBefore === undefined || (!CONTINUES.has(lastBefore.tokenType) && /[\r\n]/.test(text.slice(end(lastBefore), offset)));
  let start = before.length;
  if (!newItem) {
    start = 0;
    for (let j = before.length - 1; j >= 0; j--) {
      if (isBoundary(text, before, j)) {
        start = j;
        break;
      }
    }
  }
  const item = before.slice(start);
  const first = item[0];
  const prev = item[item.length - 1];
  if (first?.tokenType === T.Include || first?.tokenType === T.Import) return [];
  if (prev && (prev.tokenType === T.As || prev.tokenType === T.At || prev.tokenType === T.Group || prev.tokenType === T.Diverge)) return []; // a new name, or a reason string

  const groups = [...groupDefinitions(a)].map(([name, g]) => groupCompletion(a, name, g, replace));
  if (first?.tokenType === T.Group) {
    // Members of a group: syscalls and other groups.
    if (!item.some((t) => t.tokenType === T.LBrace) || depth(item, T.LParen, T.RParen) > 0) return [];
    return [...syscallCompletions(replace), ...groups];
  }
  if (depth(item, T.LParen, T.RParen) > 0) return variableCompletions(item, word, replace);
  // After a complete call (name, `)`, a block, `*`) comes `as`, `=>`, a guard or a comma: no name.
  const afterRuleName = item.length === 2 && first?.tokenType === T.At;
  if (prev && !word && !CONTINUES.has(prev.tokenType) && !afterRuleName) return [];

  const arrow = item.findIndex((t) => t.tokenType === T.FatArrow);
  const out: Completion[] = [];
  if (arrow < 0) {
    if (item.length === 0) for (const k of ['nothing', 'begin', 'group', 'import', '#include']) out.push(keyword(k, replace));
    else if (afterRuleName) for (const k of ['nothing', 'begin']) out.push(keyword(k, replace));
    return [...out, ...syscallCompletions(replace), ...groups];
  }
  // Right side: labels bound on the left come first.
  const labels = new Map<string, string>();
  for (let j = 0; j < arrow; j++) {
    const t = item[j]!;
    if (t.tokenType === T.As && item[j + 1]?.tokenType === T.Ident) labels.set(item[j + 1]!.image, leftItemText(text, item, j));
  }
  for (const [name, bound] of labels) {
    out.push({ label: name, kind: 'label', detail: `label: ${bound}`, documentation: `The leader event bound on the left:\n\n\`\`\`mvr\n${bound}\n\`\`\``, replace, sortText: `0${name}` });
  }
  if (arrow === item.length - 1) for (const k of ['nothing', 'diverge']) out.push(keyword(k, replace));
  return [...out, ...syscallCompletions(replace), ...groups];
}

function isWord(t: TokenType): boolean {
  return t === T.Ident || t === T.Underscore || t === T.Nothing || t === T.Diverge || t === T.Begin || t === T.Group || t === T.Import || t === T.As || t === T.If || t === T.Do;
}

function startsLine(text: string, before: IToken[], t: IToken): boolean {
  const prev = before[before.length - 1];
  if (!prev) return true;
  if (CONTINUES.has(prev.tokenType)) return false;
  return /[\r\n]/.test(text.slice(end(prev), t.startOffset));
}

/** As the parser's recovery decides where an item begins (grammar/index.ts isBoundary). */
function isBoundary(text: string, tokens: IToken[], j: number): boolean {
  const t = tokens[j]!;
  if (ITEM_START.has(t.tokenType)) return true;
  if (t.tokenType !== T.Ident && t.tokenType !== T.Nothing) return false;
  const prev = tokens[j - 1];
  if (!prev) return true;
  if (CONTINUES.has(prev.tokenType)) return false;
  return /[\r\n]/.test(text.slice(end(prev), t.startOffset));
}

function depth(tokens: IToken[], open: TokenType, close: TokenType): number {
  let d = 0;
  for (const t of tokens) {
    if (t.tokenType === open) d++;
    else if (t.tokenType === close && d > 0) d--;
  }
  return d;
}

/** The text of the left-hand item that `as` (at index `asAt`) labels: from the previous comma
 *  (or the item's start) to the label. */
function leftItemText(text: string, item: IToken[], asAt: number): string {
  let from = 0;
  let d = 0;
  for (let j = asAt - 1; j >= 0; j--) {
    const t = item[j]!;
    if (t.tokenType === T.RParen) d++;
    else if (t.tokenType === T.LParen) d--;
    else if (d === 0 && t.tokenType === T.Comma) {
      from = j + 1;
      break;
    }
  }
  if (item[from]?.tokenType === T.At) from += 2;
  const labelTok = item[asAt + 1]!;
  return text.slice(item[from]!.startOffset, end(labelTok)).replace(/\s+/g, ' ');
}

function keyword(k: string, replace: Span): Completion {
  return { label: k, kind: 'keyword', replace, sortText: `2${k}` };
}

let syscallItems: Omit<Completion, 'replace'>[] | undefined;
/** Every syscall, with its signature; the documentation comes from resolveDocumentation (it is
 *  ~120 KB for the whole table, too much to send at every keystroke). */
function syscallCompletions(replace: Span): Completion[] {
  syscallItems ??= allSyscalls().map((sc) => ({ label: sc.name, kind: 'syscall' as const, detail: syscallSignature(sc), sortText: `1${sc.name}` }));
  return syscallItems.map((c) => ({ ...c, replace }));
}

/** The documentation of a completion sent without it (a syscall's), when the editor asks. */
export function resolveDocumentation(kind: CompletionKind, label: string): string | undefined {
  const sc = kind === 'syscall' ? syscallByName(label) : undefined;
  return sc ? syscallMarkdown(sc) : undefined;
}

function groupCompletion(a: Analysis, name: string, g: { group: { span: Span; members: unknown[] }; file: string }, replace: Span): Completion {
  const text = sourceOf(a, g.file) ?? '';
  const line = new LineMap(text).position(g.group.span.offset).line;
  const definition = text.slice(g.group.span.offset, g.group.span.offset + g.group.span.length);
  const n = g.group.members.length;
  return { label: name, kind: 'group', detail: `group of ${n} call${n === 1 ? '' : 's'}`, documentation: groupMarkdown(name, definition, `${shownPath(a.cwd, g.file)}:${line}`), replace, sortText: `1${name}` };
}

/** In an argument list: `_` and the variables already written in this item. */
function variableCompletions(item: IToken[], word: IToken | undefined, replace: Span): Completion[] {
  const names = new Set<string>();
  let d = 0;
  for (const t of item) {
    if (t.tokenType === T.LParen) d++;
    else if (t.tokenType === T.RParen) d = Math.max(0, d - 1);
    else if (d > 0 && t.tokenType === T.Ident && t !== word) names.add(t.image);
  }
  return [{ label: '_', kind: 'keyword', detail: 'any value', replace, sortText: '0_' }, ...[...names].sort().map((name): Completion => ({ label: name, kind: 'variable', replace, sortText: `1${name}` }))];
}

/** Inside `import "…"`: std modules after `std/`, else `std/…` and the rule files beside this one. */
function importCompletions(a: Analysis, text: string, str: IToken, offset: number): Completion[] {
  const typed = text.slice(str.startOffset + 1, offset);
  if (typed.includes('"')) return [];
  const modules = stdModules(a.stdlibDir);
  if (typed.startsWith('std/')) {
    const replace = { offset: str.startOffset + 5, length: offset - (str.startOffset + 5) };
    return modules.map((m) => ({ label: m.name, kind: 'module', detail: headerSummary(m.header), documentation: m.header, replace }));
  }
  const replace = { offset: str.startOffset + 1, length: offset - (str.startOffset + 1) };
  const out: Completion[] = modules.map((m) => ({ label: `std/${m.name}`, kind: 'module', detail: headerSummary(m.header), documentation: m.header, replace }));
  const dir = path.dirname(a.entry);
  try {
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith('.mvr') && path.join(dir, f) !== a.entry) out.push({ label: f, kind: 'file', detail: 'a rule file beside this one', replace });
    }
  } catch {
    // no directory listing: only the std modules
  }
  return out;
}
