// Parsing typed-block text with the TypeScript compiler API, and mapping TypeScript positions
// back to offsets in the .mvr file. A guard's text is wrapped as `(TEXT\n)` so that it parses as
// one expression (the newline ends a trailing `//` comment); a callback's text parses as is.
import ts from 'typescript';
import { Diag } from '../core/diagnostic-messages.ts';
import type { DiagnosticBag } from '../core/diagnostics.ts';
import type { Span } from '../core/span.ts';

export interface ParsedText {
  sf: ts.SourceFile;
  /** The .mvr span of a node (its text without leading trivia). */
  spanOf(node: ts.Node): Span;
  /** The .mvr span of a TypeScript text range. */
  spanAt(start: number, length: number): Span;
}

interface WithParseDiagnostics {
  parseDiagnostics?: readonly ts.DiagnosticWithLocation[];
}

function makeParsed(sf: ts.SourceFile, prefix: number, text: string, textOffset: number): ParsedText {
  const clamp = (p: number): number => Math.max(0, Math.min(text.length, p - prefix));
  const spanAt = (start: number, length: number): Span => {
    const a = clamp(start);
    const b = clamp(start + Math.max(0, length));
    return { offset: textOffset + a, length: b - a };
  };
  return {
    sf,
    spanAt,
    spanOf: (node) => {
      const start = node.getStart(sf);
      return spanAt(start, node.getEnd() - start);
    },
  };
}

/** Reports the TypeScript parser's syntax errors as MVR3011; returns false if there were any. */
function reportSyntax(p: ParsedText, file: string, diags: DiagnosticBag): boolean {
  // The parser's own diagnostics (what `tsc` prints first); not part of the typed API surface.
  const list = (p.sf as unknown as WithParseDiagnostics).parseDiagnostics ?? [];
  for (const d of list) {
    diags.add(Diag.TypedBlockParse, file, p.spanAt(d.start, d.length), [ts.flattenDiagnosticMessageText(d.messageText, ' ')]);
  }
  return list.length === 0;
}

function createSource(text: string): ts.SourceFile {
  return ts.createSourceFile('typed-block.ts', text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
}

/** Parses a guard's text; returns the expression (or undefined after reporting MVR3011). */
export function parseGuardText(text: string, textOffset: number, file: string, diags: DiagnosticBag): { parsed: ParsedText; expr: ts.Expression } | undefined {
  const wrapped = `(${text}\n)`;
  const sf = createSource(wrapped);
  const parsed = makeParsed(sf, 1, text, textOffset);
  if (!reportSyntax(parsed, file, diags)) return undefined;
  const stmt = sf.statements[0];
  if (
    sf.statements.length !== 1 ||
    stmt === undefined ||
    !ts.isExpressionStatement(stmt) ||
    !ts.isParenthesizedExpression(stmt.expression) ||
    stmt.expression.getStart(sf) !== 0 ||
    stmt.expression.getEnd() !== wrapped.length
  ) {
    diags.add(Diag.TypedBlockParse, file, { offset: textOffset, length: text.length }, ['expected one expression']);
    return undefined;
  }
  return { parsed, expr: stmt.expression.expression };
}

/** Parses a callback's text; returns its statements (or undefined after reporting MVR3011). */
export function parseBlockText(text: string, textOffset: number, file: string, diags: DiagnosticBag): { parsed: ParsedText; stmts: readonly ts.Statement[] } | undefined {
  const sf = createSource(text);
  const parsed = makeParsed(sf, 0, text, textOffset);
  if (!reportSyntax(parsed, file, diags)) return undefined;
  return { parsed, stmts: sf.statements };
}
