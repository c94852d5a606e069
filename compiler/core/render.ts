// Renders diagnostics for people (GNU first line + code frame, like rustc/tsc), for tools
// (JSON), and for code-scanning in build pipelines (SARIF 2.1.0).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Diag } from './diagnostic-messages.ts';
import type { Diagnostic } from './diagnostics.ts';
import { LineMap, type Span } from './span.ts';

export interface RenderOptions {
  color?: boolean;
}

const MAX_FRAME_WIDTH = 160;

class SourceCache {
  private maps = new Map<string, LineMap>();
  constructor(private readonly sources: ReadonlyMap<string, string>) {}
  map(file: string): LineMap | undefined {
    let m = this.maps.get(file);
    if (!m) {
      const text = this.sources.get(file);
      if (text === undefined) return undefined;
      m = new LineMap(text);
      this.maps.set(file, m);
    }
    return m;
  }
}

function paint(color: boolean, code: string, s: string): string {
  return color ? `\x1b[${code}m${s}\x1b[0m` : s;
}
const severityColor = { error: '1;31', warning: '1;33', note: '1;36' } as const;

/** A printable version of one source line; every character keeps width 1 so carets line up. */
function displayLine(line: string): string {
  let out = '';
  for (const ch of line) {
    const c = ch.codePointAt(0)!;
    out += c === 9 ? ' ' : c < 32 || c === 127 || (c >= 0x80 && c < 0xa0) || c === 0xfffd ? '?' : ch;
  }
  return out;
}

function frame(lines: LineMap, sp: Span, color: boolean, marker: string, markColor: string): string[] {
  const start = lines.position(sp.offset);
  const end = lines.position(sp.offset + Math.max(0, sp.length));
  let text = lines.lineText(start.line);
  // Columns are UTF-16 based; work on the UTF-16 string directly for slicing.
  let col = start.column - 1;
  let width = end.line === start.line ? Math.max(1, end.column - start.column) : Math.max(1, text.length - col);
  let prefix = '';
  if (text.length > MAX_FRAME_WIDTH) {
    const from = Math.max(0, Math.min(col - 40, text.length - MAX_FRAME_WIDTH));
    text = text.slice(from, from + MAX_FRAME_WIDTH);
    col -= from;
    if (from > 0) prefix = '...';
    width = Math.min(width, Math.max(1, text.length - col));
  }
  col = Math.min(col, text.length);
  const gutter = String(start.line);
  const pad = ' '.repeat(gutter.length);
  const bar = paint(color, '1;34', '|');
  const more = end.line > start.line ? paint(color, markColor, ' ...') : '';
  return [
    ` ${paint(color, '1;34', gutter)} ${bar} ${prefix}${displayLine(text)}`,
    ` ${pad} ${bar} ${' '.repeat(prefix.length + col)}${paint(color, markColor, marker.repeat(width))}${more}`,
  ];
}

function location(cache: SourceCache, file: string, sp: Span): string {
  const m = cache.map(file);
  if (!m) return file;
  const p = m.position(sp.offset);
  return `${file}:${p.line}:${p.column}`;
}

/** GNU-style first line `file:line:col: error MVR2001: message`, a code frame, help and related notes. */
export function renderDiagnosticsText(diags: readonly Diagnostic[], sources: ReadonlyMap<string, string>, opts: RenderOptions = {}): string {
  const color = opts.color ?? false;
  const cache = new SourceCache(sources);
  const out: string[] = [];
  for (const d of diags) {
    const head = `${paint(color, '1', location(cache, d.file, d.span) + ':')} ${paint(color, severityColor[d.severity], `${d.severity} ${d.code}:`)} ${paint(color, '1', d.message)}`;
    out.push(head);
    const m = cache.map(d.file);
    if (m && m.text.length > 0) out.push(...frame(m, d.span, color, '^', severityColor[d.severity]));
    if (d.help) out.push(`   ${paint(color, '1;34', '=')} help: ${d.help}`);
    for (const r of d.related) {
      out.push(`${paint(color, '1', location(cache, r.file, r.span) + ':')} ${paint(color, severityColor.note, 'note:')} ${r.message}`);
      const rm = cache.map(r.file);
      if (rm && rm.text.length > 0) out.push(...frame(rm, r.span, color, '-', severityColor.note));
    }
  }
  return out.length ? out.join('\n') + '\n' : '';
}

export function summaryLine(diags: readonly Diagnostic[]): string {
  const n = (s: string) => diags.filter((d) => d.severity === s).length;
  const parts: string[] = [];
  const e = n('error');
  const w = n('warning');
  if (e) parts.push(`${e} error${e === 1 ? '' : 's'}`);
  if (w) parts.push(`${w} warning${w === 1 ? '' : 's'}`);
  return parts.join(', ');
}

interface JsonLocation {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  offset: number;
  length: number;
}

function jsonLocation(cache: SourceCache, file: string, sp: Span): JsonLocation {
  const m = cache.map(file);
  const s = m ? m.position(sp.offset) : { line: 1, column: 1 };
  const e = m ? m.position(sp.offset + sp.length) : s;
  return { file, line: s.line, column: s.column, endLine: e.line, endColumn: e.column, offset: sp.offset, length: sp.length };
}

export function renderDiagnosticsJson(diags: readonly Diagnostic[], sources: ReadonlyMap<string, string>): string {
  const cache = new SourceCache(sources);
  const items = diags.map((d) => ({
    code: d.code,
    severity: d.severity,
    message: d.message,
    ...jsonLocation(cache, d.file, d.span),
    ...(d.help !== undefined ? { help: d.help } : {}),
    related: d.related.map((r) => ({ message: r.message, ...jsonLocation(cache, r.file, r.span) })),
  }));
  return JSON.stringify({ version: 1, diagnostics: items }, null, 2) + '\n';
}

export interface SarifOptions {
  /** Directory that relative diagnostic paths are relative to (default: process.cwd()). */
  cwd?: string;
}

/** The base that relative artifact URIs are resolved against (SARIF §3.14.14, as code scanning expects). */
export const SARIF_SRCROOT = '%SRCROOT%';

/**
 * A file as a SARIF artifactLocation: files inside `cwd` get a relative, percent-encoded URI
 * against %SRCROOT% (the run maps it to `cwd` in originalUriBaseIds), so the log does not depend
 * on where the checkout lives; files outside it get an absolute file:// URI. Both are URIs
 * (RFC 3986): spaces, non-ASCII characters, '#', '?' and '%' are percent-encoded.
 */
export function sarifArtifactLocation(file: string, cwd: string): { uri: string; uriBaseId?: string } {
  const abs = path.resolve(cwd, file);
  const rel = path.relative(cwd, abs);
  if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) {
    return { uri: rel.split(path.sep).map(encodeURIComponent).join('/'), uriBaseId: SARIF_SRCROOT };
  }
  return { uri: pathToFileURL(abs).href };
}

function directoryUri(dir: string): string {
  const href = pathToFileURL(dir).href;
  return href.endsWith('/') ? href : `${href}/`;
}

/** SARIF 2.1.0 with one run; rule metadata comes from the catalog. */
export function renderDiagnosticsSarif(diags: readonly Diagnostic[], sources: ReadonlyMap<string, string>, toolVersion: string, opts: SarifOptions = {}): string {
  const cwd = opts.cwd ?? process.cwd();
  const cache = new SourceCache(sources);
  const catalog = new Map<string, { message: string; help?: string; severity: string }>();
  for (const t of Object.values(Diag)) catalog.set(t.code, t as { message: string; help?: string; severity: string });
  const used = [...new Set(diags.map((d) => d.code))].sort();
  const ruleIndex = new Map(used.map((c, i) => [c, i]));
  const region = (file: string, sp: Span) => {
    const l = jsonLocation(cache, file, sp);
    return { startLine: l.line, startColumn: l.column, endLine: l.endLine, endColumn: l.endColumn, charOffset: sp.offset, charLength: sp.length };
  };
  // A diagnostic without a file (an internal error before any file was read) has no location.
  const physical = (file: string, sp: Span) => ({ artifactLocation: sarifArtifactLocation(file, cwd), region: region(file, sp) });
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'mvrc',
            version: toolVersion,
            rules: used.map((code) => {
              const t = catalog.get(code);
              return {
                id: code,
                shortDescription: { text: t ? t.message.replace(/\{\d+\}/g, '…') : code },
                ...(t?.help ? { help: { text: t.help.replace(/\{\d+\}/g, '…') } } : {}),
                defaultConfiguration: { level: t?.severity ?? 'error' },
              };
            }),
          },
        },
        originalUriBaseIds: { [SARIF_SRCROOT]: { uri: directoryUri(cwd) } },
        // Columns count UTF-16 code units, as the text and JSON outputs do.
        columnKind: 'utf16CodeUnits',
        results: diags.map((d) => ({
          ruleId: d.code,
          ruleIndex: ruleIndex.get(d.code),
          level: d.severity,
          message: { text: d.help ? `${d.message}. Help: ${d.help}` : d.message },
          ...(d.file !== '' ? { locations: [{ physicalLocation: physical(d.file, d.span) }] } : {}),
          ...(d.related.length
            ? {
                relatedLocations: d.related.map((r, i) => ({
                  id: i,
                  message: { text: r.message },
                  ...(r.file !== '' ? { physicalLocation: physical(r.file, r.span) } : {}),
                })),
              }
            : {}),
        })),
      },
    ],
  };
  return JSON.stringify(log, null, 2) + '\n';
}
