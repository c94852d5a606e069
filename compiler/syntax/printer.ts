// The canonical printer behind `mvrc fmt`.
//
// Style: one item per line; `lhs => rhs`; ", " between items and arguments; an item that does not
// fit in 100 columns breaks after commas (filling lines) and always after `=>`, continuation lines
// indented by 4 spaces; C blocks and typed blocks verbatim; at most one blank line between items
// (kept only where the source had one); every comment kept:
//   - comments on their own lines before an item stay before it (leading);
//   - comments after an item on the same line stay on that line (trailing);
//   - comments inside an item move to just after the list element (call, `nothing`, ...) they
//     are in or follow, which is where they reappear when the output is parsed again.
// Printing depends only on the AST, the comments and where the source had blank lines, so
// print(parse(print(x))) === print(x).
import { encodeString, decodeString, parseIntLiteral } from './literals.ts';
import type { Arg, Call, Callback, CBlock, Comment, Group, Guard, Item, LhsItem, MvrFile, RhsItem, Rule, TsBlock, TsExpr } from './ast.ts';

export const PRINT_WIDTH = 100;
const INDENT = '    ';

// ---- atoms ------------------------------------------------------------------------------------

function printArg(a: Arg): string {
  switch (a.kind) {
    case 'Wildcard':
      return '_';
    case 'Var':
      return a.name;
    case 'String': {
      // Keep the user's spelling when it is one well-formed literal for the same bytes.
      const raw = a.raw;
      const ok = raw.length >= 2 && raw.startsWith('"') && reparsesWhole(raw) && !/[\r\n]/.test(raw);
      if (ok) {
        const d = decodeString(raw);
        if (d.errors.length === 0 && sameBytes(d.value, a.value)) return raw;
      }
      return encodeString(a.value);
    }
    case 'Int': {
      const p = /^-?[0-9][0-9A-Za-z_]*$/.test(a.raw) ? parseIntLiteral(a.raw) : undefined;
      return p && p.error === undefined && p.value === a.value ? a.raw : a.value.toString();
    }
  }
}

/** Whether the raw literal is one whole string token (its last quote is the closing one). */
function reparsesWhole(raw: string): boolean {
  let i = 1;
  while (i < raw.length - 1) {
    const c = raw.charCodeAt(i);
    if (c === 34) return false;
    i += c === 92 ? 2 : 1;
  }
  return i === raw.length - 1;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function printCall(c: Call): string {
  return c.args === null ? c.name.name : `${c.name.name}(${c.args.map(printArg).join(', ')})`;
}

function printCBlock(b: CBlock): string {
  return b.style === 'double' ? `{{${b.code}}}` : `{${b.code}}`;
}
function printTsExpr(e: TsExpr): string {
  return `if (${e.text})`;
}
function printTsBlock(b: TsBlock): string {
  return `do {${b.text}}`;
}
function printGuard(g: Guard): string {
  return g.kind === 'CBlock' ? printCBlock(g) : printTsExpr(g);
}

function printCallback(cb: Callback, guard: Guard | undefined): string {
  const body = cb.body.kind === 'CBlock' ? printCBlock(cb.body) : printTsBlock(cb.body);
  // Slides style `call {{ guard }} {{ callback }}` is kept as written; everything else uses '->'.
  if (cb.retName === undefined && cb.body.kind === 'CBlock' && cb.body.style === 'double' && guard?.kind === 'CBlock' && guard.style === 'double') return body;
  return cb.retName ? `-> (${cb.retName.name}) ${body}` : `-> ${body}`;
}

function printLhsItem(it: LhsItem): string {
  let s = printCall(it.call);
  if (it.guard) s += ` ${printGuard(it.guard)}`;
  if (it.label) s += ` as ${it.label.name}`;
  return s;
}

function printRhsItem(it: RhsItem): string {
  let s = printCall(it.call);
  if (it.guard) s += ` ${printGuard(it.guard)}`;
  if (it.callback) s += ` ${printCallback(it.callback, it.guard)}`;
  if (it.star) s += ' *';
  return s;
}

// ---- chunks: the list elements of one item, each with the source offset it starts at ---------

interface Chunk {
  text: string;
  /** Source offset where the element starts (for placing comments). */
  at: number;
  /** Break the line after this chunk when the item does not fit on one line. */
  breakAfter?: boolean;
  /** Never break the line before this chunk (unless a line comment ends the line). */
  glue?: boolean;
  comments: Comment[];
}

function chunk(text: string, at: number, breakAfter = false): Chunk {
  return { text, at, breakAfter, comments: [] };
}

function ruleChunks(r: Rule): Chunk[] {
  const out: Chunk[] = [];
  if (r.name) out.push(chunk(`@${r.name.name}`, r.span.offset));
  const lhs: Chunk[] = [];
  if (r.lhs.kind === 'Nothing') lhs.push(chunk('nothing', r.lhs.span.offset));
  else if (r.lhs.kind === 'Begin') lhs.push(chunk('begin', r.lhs.span.offset));
  else for (const it of r.lhs.items) lhs.push(chunk(printLhsItem(it), it.span.offset));
  lhs.forEach((c, i) => (c.text += i < lhs.length - 1 ? ',' : ''));
  out.push(...lhs);
  // '=>' is its own element so that comments before it stay before it.
  out.push({ text: '=>', at: r.arrow.offset, breakAfter: true, glue: true, comments: [] });
  const rhs: Chunk[] = [];
  if (r.rhs.kind === 'Nothing') rhs.push(chunk('nothing', r.rhs.span.offset));
  else if (r.rhs.kind === 'Diverge') rhs.push(chunk(r.rhs.reason ? `diverge ${printArg(r.rhs.reason)}` : 'diverge', r.rhs.span.offset));
  else for (const it of r.rhs.items) rhs.push(chunk(printRhsItem(it), it.span.offset));
  rhs.forEach((c, i) => (c.text += i < rhs.length - 1 ? ',' : ''));
  out.push(...rhs);
  return out;
}

function groupChunks(g: Group): { head: Chunk; members: Chunk[] } {
  const head = chunk(`group ${g.name.name} = {`, g.span.offset);
  const members = g.members.map((m, i) => chunk(printCall(m) + (i < g.members.length - 1 ? ',' : ''), m.span.offset));
  return { head, members };
}

/** Attaches each comment to the last chunk starting at or before it (or the first chunk). */
function attach(chunks: Chunk[], comments: Comment[]): void {
  let k = 0;
  for (const c of comments) {
    while (k + 1 < chunks.length && chunks[k + 1]!.at <= c.span.offset) k++;
    chunks[k]!.comments.push(c);
  }
}

// ---- line building --------------------------------------------------------------------------

/** Accumulates output lines; knows the current column and whether a line comment ends the line. */
class Out {
  text = '';
  col = 0;
  lineCommentOpen = false;

  put(s: string): void {
    this.text += s;
    const nl = s.lastIndexOf('\n');
    this.col = nl < 0 ? this.col + s.length : s.length - nl - 1;
  }
  newline(indent = ''): void {
    this.text += `\n${indent}`;
    this.col = indent.length;
    this.lineCommentOpen = false;
  }
  comment(c: Comment, indentIfBreak: string): void {
    if (this.lineCommentOpen) this.newline(indentIfBreak);
    else if (this.col > 0 && !endsWithSpace(this.text)) this.put(' ');
    this.put(c.text);
    if (c.kind === 'line') this.lineCommentOpen = true;
  }
}

function endsWithSpace(s: string): boolean {
  const c = s.charCodeAt(s.length - 1);
  return c === 32 || c === 9 || c === 10;
}

function firstLineLength(s: string): number {
  const nl = s.indexOf('\n');
  return nl < 0 ? s.length : nl;
}

function maxLineLength(s: string): number {
  let max = 0;
  for (const line of s.split('\n')) max = Math.max(max, line.length);
  return max;
}

/** Flat form: chunks joined by spaces, inline block comments. Undefined if a line comment forces a break. */
function flat(chunks: Chunk[]): string | undefined {
  const parts: string[] = [];
  for (const c of chunks) {
    parts.push(c.text);
    for (const cm of c.comments) {
      if (cm.kind === 'line') return undefined;
      parts.push(cm.text);
    }
  }
  return parts.join(' ');
}

/** Writes chunks filling lines (continuations indented), breaking where a chunk asks to. */
function fill(out: Out, chunks: Chunk[], indent: string, firstOnNewLine: boolean): void {
  let forceBreak = firstOnNewLine;
  let first = true;
  for (const c of chunks) {
    if (!first || firstOnNewLine) {
      if (out.lineCommentOpen || (!c.glue && (forceBreak || out.col + 1 + firstLineLength(c.text) > PRINT_WIDTH))) out.newline(indent);
      else out.put(' ');
    }
    first = false;
    out.put(c.text);
    for (const cm of c.comments) out.comment(cm, indent);
    forceBreak = c.breakAfter === true;
  }
}

/**
 * Comments after the first line comment that ends an item cannot stay inside it (the line
 * comment ends the line, and after reparsing they would follow the item). They are split off and
 * printed as standalone comments after the item.
 */
function splitAfterLineComment(comments: Comment[]): Comment[] {
  const k = comments.findIndex((c) => c.kind === 'line');
  return k < 0 ? [] : comments.splice(k + 1);
}

/** Prints an item; returns the comments that must follow it as standalone comments. */
function printItemInto(out: Out, item: Item, internal: Comment[]): Comment[] {
  switch (item.kind) {
    case 'Include':
    case 'Import': {
      const text = item.kind === 'Include' ? `#include ${item.angled ? `<${item.target}>` : `"${item.target}"`}` : `import ${encodeImportPath(item.path)}`;
      const mine = [...internal];
      const rest = splitAfterLineComment(mine);
      out.put(text);
      for (const c of mine) out.comment(c, '');
      return rest;
    }
    case 'Group': {
      const { head, members } = groupChunks(item);
      const all = [head, ...members];
      attach(all, internal);
      const f = flat(all);
      if (f !== undefined && maxLineLength(`${f} }`) <= PRINT_WIDTH) {
        out.put(`${f} }`);
        return [];
      }
      out.put(head.text);
      for (const cm of head.comments) out.comment(cm, INDENT);
      fill(out, members, INDENT, true);
      out.newline();
      out.put('}');
      return [];
    }
    case 'Rule': {
      const chunks = ruleChunks(item);
      attach(chunks, internal);
      // Comments in the last element end up after the item once printed, i.e. trailing
      // comments; so, like trailing comments, they do not count for the layout.
      const last = chunks[chunks.length - 1]!;
      const tail = last.comments;
      last.comments = [];
      const rest = splitAfterLineComment(tail);
      const f = flat(chunks);
      if (f !== undefined && maxLineLength(f) <= PRINT_WIDTH) out.put(f);
      else fill(out, chunks, INDENT, false);
      for (const c of tail) out.comment(c, INDENT);
      return rest;
    }
  }
}

/** An import path as a string literal; non-ASCII characters are kept as they are (readable). */
function encodeImportPath(path: string): string {
  let out = '';
  for (const ch of path) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f || ch === '"' || ch === '\\') out += encodeString(Uint8Array.of(c)).slice(1, -1);
    else out += ch;
  }
  return `"${out}"`;
}

/** One rule as text without comments (one line unless it contains multi-line blocks). */
export function printRule(rule: Rule): string {
  return ruleChunks(rule)
    .map((c) => c.text)
    .join(' ');
}

/** Prints one item alone (no comments), in the canonical layout. */
export function printItem(item: Item): string {
  const out = new Out();
  void printItemInto(out, item, []);
  return out.text;
}

function countLineBreaks(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 10) n++;
    else if (c === 13 && s.charCodeAt(i + 1) !== 10) n++;
  }
  return n;
}

function end(s: { span: { offset: number; length: number } }): number {
  return s.span.offset + s.span.length;
}

/** The whole file in canonical form (ends with one newline unless empty). */
export function printFile(file: MvrFile): string {
  const text = file.text;
  const comments = [...file.comments].sort((a, b) => a.span.offset - b.span.offset);
  const items = [...file.items].sort((a, b) => a.span.offset - b.span.offset);
  const out = new Out();
  let ci = 0;
  let prevEnd = -1; // end offset of the previous unit, -1 at the start of the file
  let prevWasComment = false;
  let first = true;

  const gapText = (at: number): string => (prevEnd >= 0 && at >= prevEnd ? text.slice(prevEnd, at) : '');
  const startLine = (at: number): void => {
    if (!first) {
      out.newline();
      if (countLineBreaks(gapText(at)) >= 2) out.newline();
    }
    first = false;
  };
  /** A comment on its own line(s); comments that shared a source line still share one. */
  const standalone = (c: Comment): void => {
    if (!first && prevWasComment && !out.lineCommentOpen && countLineBreaks(gapText(c.span.offset)) === 0) out.put(' ');
    else startLine(c.span.offset);
    out.put(c.text);
    out.lineCommentOpen = c.kind === 'line';
    prevEnd = end(c);
    prevWasComment = true;
  };

  for (const item of items) {
    while (ci < comments.length && comments[ci]!.span.offset < item.span.offset) standalone(comments[ci++]!);
    startLine(item.span.offset);
    const internal: Comment[] = [];
    while (ci < comments.length && comments[ci]!.span.offset < end(item)) internal.push(comments[ci++]!);
    const rest = printItemInto(out, item, internal);
    prevEnd = Math.max(end(item), ...internal.filter((c) => !rest.includes(c)).map(end));
    prevWasComment = false;
    for (const c of rest) standalone(c);
    if (rest.length === 0) prevEnd = Math.max(prevEnd, end(item));
    // Trailing comments: on the same source line as the end of the item.
    const itemEnd = end(item);
    let lastEnd = itemEnd;
    while (ci < comments.length) {
      const c = comments[ci]!;
      const gap = c.span.offset >= lastEnd ? text.slice(lastEnd, c.span.offset) : '\n';
      if (/[\r\n]/.test(gap)) break;
      out.comment(c, '');
      lastEnd = end(c);
      prevEnd = lastEnd;
      prevWasComment = true;
      ci++;
    }
  }
  while (ci < comments.length) standalone(comments[ci++]!);
  return out.text.length > 0 ? `${out.text}\n` : '';
}
