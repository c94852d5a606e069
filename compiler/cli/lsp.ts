// mvrc lsp: a language server for .mvr files over stdio (the Language Server Protocol, through
// vscode-languageserver, its reference implementation). This module is protocol glue only:
// documents, positions, scheduling and the mapping to protocol types. What a hover, completion,
// definition or outline says is decided in compiler/services/ over an Analysis, which loads a
// file as `mvrc check` does with the open documents' texts in place of the files on disk.
//
// The protocol owns stdin and stdout (nothing else may be written to stdout); the library ends
// the process on `exit` (status 0 after `shutdown`, 1 without it, as the protocol says) and when
// stdin closes.
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as path from 'node:path';
import {
  CompletionItemKind,
  DiagnosticSeverity,
  DiagnosticTag,
  SymbolKind,
  TextDocumentSyncKind,
  TextDocuments,
  createConnection,
  type Connection,
  type Diagnostic as LspDiagnostic,
  type InitializeResult,
  type Range,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Diagnostic } from '../core/diagnostics.ts';
import { LineMap, type Span } from '../core/span.ts';
import { VERSION } from '../core/version.ts';
import { analyze, diagnosticsByFile, sourceOf, type Analysis } from '../services/analysis.ts';
import { completionsAt, resolveDocumentation, type CompletionKind } from '../services/completion.ts';
import { formatText } from '../services/format.ts';
import { hoverAt } from '../services/hover.ts';
import { definitionAt, documentSymbols, type SymbolKind as MvrSymbolKind } from '../services/navigation.ts';
import { parseOptions } from './options.ts';
import { UsageError, type CliIO } from './types.ts';

/** How long typing may pause before a document is checked again. */
const CHECK_DELAY_MS = 120;

const SEVERITY = { error: DiagnosticSeverity.Error, warning: DiagnosticSeverity.Warning, note: DiagnosticSeverity.Information } as const;
/** Findings about code that has no effect: editors show it faded. */
const UNNECESSARY = new Set(['MVR2008', 'MVR2009', 'MVR4001']);

const COMPLETION_KIND: Record<CompletionKind, CompletionItemKind> = {
  syscall: CompletionItemKind.Function,
  group: CompletionItemKind.Enum,
  label: CompletionItemKind.Reference,
  variable: CompletionItemKind.Variable,
  keyword: CompletionItemKind.Keyword,
  module: CompletionItemKind.Module,
  file: CompletionItemKind.File,
};

const SYMBOL_KIND: Record<MvrSymbolKind, SymbolKind> = {
  rule: SymbolKind.Event,
  group: SymbolKind.Enum,
  import: SymbolKind.Module,
  include: SymbolKind.File,
};

export async function run(args: string[], _io: CliIO): Promise<number> {
  // `--stdio` is what editors' clients pass; stdio is the only transport. `--clientProcessId` is
  // read by the library (it exits when the editor does).
  const { positionals } = parseOptions(args, { stdio: { type: 'boolean' }, clientProcessId: { type: 'string' } });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const connection = createConnection(process.stdin, process.stdout);
  new Server(connection).listen();
  // Never resolves: the library exits the process when the editor says so or goes away.
  return new Promise<number>(() => {});
}

interface Contribution {
  /** Diagnostics of one analysis, by the URI of the file they are in. */
  byUri: Map<string, LspDiagnostic[]>;
}

class Server {
  private readonly docs = new TextDocuments(TextDocument);
  /** Open documents by absolute path (the overlay the loader reads them through). */
  private readonly openByPath = new Map<string, string>();
  private readonly cache = new Map<string, { version: number; analysis: Analysis }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** What each open document's analysis reported, for itself and the files it imports. */
  private readonly contributions = new Map<string, Contribution>();
  private root = process.cwd();

  constructor(private readonly connection: Connection) {}

  listen(): void {
    const c = this.connection;
    c.onInitialize((params): InitializeResult => {
      const folder = params.workspaceFolders?.[0]?.uri ?? params.rootUri;
      if (folder?.startsWith('file:')) this.root = fileURLToPath(folder);
      return {
        capabilities: {
          textDocumentSync: TextDocumentSyncKind.Incremental,
          hoverProvider: true,
          completionProvider: { triggerCharacters: ['"', '/'], resolveProvider: true },
          definitionProvider: true,
          documentFormattingProvider: true,
          documentSymbolProvider: true,
        },
        serverInfo: { name: 'mvrc', version: VERSION },
      };
    });
    this.docs.onDidOpen((e) => {
      this.openByPath.set(this.pathOf(e.document.uri), e.document.uri);
    });
    this.docs.onDidChangeContent((e) => this.changed(e.document.uri));
    this.docs.onDidClose((e) => {
      const uri = e.document.uri;
      this.openByPath.delete(this.pathOf(uri));
      this.cache.delete(uri);
      clearTimeout(this.timers.get(uri));
      this.timers.delete(uri);
      const old = this.contributions.get(uri);
      this.contributions.delete(uri);
      this.publish(new Set([uri, ...(old?.byUri.keys() ?? [])]));
      // Files importing it now read it from disk.
      this.invalidateDependents(this.pathOf(uri));
    });
    // Another file may have changed on disk with this one: check every open document again.
    this.docs.onDidSave(() => {
      for (const d of this.docs.all()) {
        this.cache.delete(d.uri);
        this.schedule(d.uri);
      }
    });
    c.onShutdown(() => {
      for (const t of this.timers.values()) clearTimeout(t);
      this.timers.clear();
    });

    c.onHover((p) =>
      this.guard('hover', () => {
        const a = this.analysisFor(p.textDocument.uri);
        const doc = this.docs.get(p.textDocument.uri);
        if (!a || !doc) return null;
        const h = hoverAt(a, doc.offsetAt(p.position));
        return h ? { contents: { kind: 'markdown', value: h.markdown }, range: rangeOf(a.text, h.span) } : null;
      }),
    );
    c.onCompletion((p) =>
      this.guard('completion', () => {
        const doc = this.docs.get(p.textDocument.uri);
        // Completion runs on every keystroke: an analysis of a moment ago serves for the groups.
        const a = this.cache.get(p.textDocument.uri)?.analysis ?? this.analysisFor(p.textDocument.uri);
        if (!doc || !a) return null;
        const text = doc.getText();
        return completionsAt(a, text, doc.offsetAt(p.position)).map((item) => ({
          label: item.label,
          kind: COMPLETION_KIND[item.kind],
          ...(item.detail ? { detail: item.detail } : {}),
          ...(item.documentation ? { documentation: { kind: 'markdown' as const, value: item.documentation } } : {}),
          ...(item.sortText ? { sortText: item.sortText } : {}),
          textEdit: { range: rangeOf(text, item.replace), newText: item.label },
          data: { kind: item.kind },
        }));
      }),
    );
    c.onCompletionResolve((item) => {
      const kind = (item.data as { kind?: CompletionKind } | undefined)?.kind;
      const doc = kind ? this.guard('completion', () => resolveDocumentation(kind, item.label)) : undefined;
      return doc ? { ...item, documentation: { kind: 'markdown', value: doc } } : item;
    });
    c.onDefinition((p) =>
      this.guard('definition', () => {
        const a = this.analysisFor(p.textDocument.uri);
        const doc = this.docs.get(p.textDocument.uri);
        if (!a || !doc) return null;
        const loc = definitionAt(a, doc.offsetAt(p.position));
        if (!loc) return null;
        const text = loc.file === a.entry ? a.text : (sourceOf(a, loc.file) ?? '');
        return { uri: this.uriOf(loc.file), range: rangeOf(text, loc.span) };
      }),
    );
    c.onDocumentFormatting((p) =>
      this.guard('formatting', () => {
        const doc = this.docs.get(p.textDocument.uri);
        if (!doc) return null;
        const text = doc.getText();
        const formatted = formatText(this.pathOf(doc.uri), text);
        // A file that does not parse is left alone (as `mvrc fmt` does); its diagnostics say why.
        if (formatted === undefined || formatted === text) return [];
        return [{ range: rangeOf(text, { offset: 0, length: text.length }), newText: formatted }];
      }),
    );
    c.onDocumentSymbol((p) =>
      this.guard('documentSymbol', () => {
        const a = this.analysisFor(p.textDocument.uri);
        if (!a?.file) return null;
        return documentSymbols(a.file).map((s) => ({
          name: s.name,
          kind: SYMBOL_KIND[s.kind],
          ...(s.detail ? { detail: s.detail } : {}),
          range: rangeOf(a.text, s.span),
          selectionRange: rangeOf(a.text, s.nameSpan),
        }));
      }),
    );
    this.docs.listen(c);
    c.listen();
  }

  /** A request never takes the server down: an internal error is logged and answered with null. */
  private guard<T>(what: string, f: () => T): T | null {
    try {
      return f();
    } catch (e) {
      this.connection.console.error(`mvrc lsp: internal error in ${what}: ${(e as Error)?.stack ?? String(e)}\nThis is a bug in mvrc; please report it.`);
      return null;
    }
  }

  private pathOf(uri: string): string {
    if (uri.startsWith('file:')) return fileURLToPath(uri);
    // An unsaved document: a name of its own under the workspace that no real file has.
    return path.join(this.root, '.mvrc-unsaved', encodeURIComponent(uri));
  }

  private uriOf(abs: string): string {
    return this.openByPath.get(abs) ?? pathToFileURL(abs).href;
  }

  /** Paths are shown relative to the workspace folder, as `mvrc check` run there shows them. */
  private cwdFor(abs: string): string {
    const rel = path.relative(this.root, abs);
    return !rel.startsWith('..') && !path.isAbsolute(rel) ? this.root : path.dirname(abs);
  }

  private analysisFor(uri: string): Analysis | undefined {
    const doc = this.docs.get(uri);
    if (!doc) return undefined;
    const hit = this.cache.get(uri);
    if (hit && hit.version === doc.version) return hit.analysis;
    const entry = this.pathOf(uri);
    const analysis = analyze(entry, {
      cwd: this.cwdFor(entry),
      overlay: (p) => {
        const open = this.openByPath.get(p);
        return open !== undefined ? this.docs.get(open)?.getText() : undefined;
      },
    });
    this.cache.set(uri, { version: doc.version, analysis });
    return analysis;
  }

  private changed(uri: string): void {
    this.cache.delete(uri);
    this.schedule(uri);
    this.invalidateDependents(this.pathOf(uri));
  }

  /** Open documents whose last analysis read `abs` are checked again. */
  private invalidateDependents(abs: string): void {
    for (const [uri, hit] of this.cache) {
      if (this.pathOf(uri) !== abs && hit.analysis.reads.has(abs)) {
        this.cache.delete(uri);
        this.schedule(uri);
      }
    }
  }

  private schedule(uri: string): void {
    clearTimeout(this.timers.get(uri));
    this.timers.set(
      uri,
      setTimeout(() => {
        this.timers.delete(uri);
        this.guard('checking', () => this.validate(uri));
      }, CHECK_DELAY_MS),
    );
  }

  private validate(uri: string): void {
    const a = this.analysisFor(uri);
    if (!a) return;
    const byUri = new Map<string, LspDiagnostic[]>();
    for (const [abs, list] of diagnosticsByFile(a)) {
      const text = abs === a.entry ? a.text : sourceOf(a, abs);
      byUri.set(this.uriOf(abs), list.map((d) => this.toLsp(a, d, text ?? '')));
    }
    const old = this.contributions.get(uri);
    this.contributions.set(uri, { byUri });
    this.publish(new Set([uri, ...byUri.keys(), ...(old?.byUri.keys() ?? [])]));
  }

  /**
   * An open document shows what its own analysis found (the same as `mvrc check` on it). A file
   * that is not open shows what the analyses of the open files importing it found there.
   */
  private publish(uris: Set<string>): void {
    for (const uri of uris) {
      const doc = this.docs.get(uri);
      let diagnostics: LspDiagnostic[];
      if (doc) diagnostics = this.contributions.get(uri)?.byUri.get(uri) ?? [];
      else {
        const seen = new Set<string>();
        diagnostics = [];
        for (const c of this.contributions.values()) {
          for (const d of c.byUri.get(uri) ?? []) {
            const key = JSON.stringify([d.range, d.code, d.message]);
            if (!seen.has(key)) {
              seen.add(key);
              diagnostics.push(d);
            }
          }
        }
      }
      const version = doc ? this.cache.get(uri)?.version : undefined;
      void this.connection.sendDiagnostics({ uri, diagnostics, ...(version !== undefined ? { version } : {}) });
    }
  }

  private toLsp(a: Analysis, d: Diagnostic, text: string): LspDiagnostic {
    const out: LspDiagnostic = {
      range: rangeOf(text, d.span),
      severity: SEVERITY[d.severity],
      code: d.code,
      source: 'mvrc',
      message: d.help !== undefined ? `${d.message}\nhelp: ${d.help}` : d.message,
    };
    if (UNNECESSARY.has(d.code)) out.tags = [DiagnosticTag.Unnecessary];
    if (d.related.length > 0) {
      out.relatedInformation = d.related.map((r) => {
        const abs = path.resolve(a.cwd, r.file);
        const rtext = abs === a.entry ? a.text : (sourceOf(a, abs) ?? '');
        return { location: { uri: this.uriOf(abs), range: rangeOf(rtext, r.span) }, message: r.message };
      });
    }
    return out;
  }
}

/** The last text's line map: consecutive ranges are nearly always of the same text. */
let lastMap: { text: string; map: LineMap } | undefined;

/** A span as a protocol range: 0-based lines and UTF-16 columns (the line and column of
 *  `mvrc check --format json`, less one). */
function rangeOf(text: string, s: Span): Range {
  if (lastMap?.text !== text) lastMap = { text, map: new LineMap(text) };
  const m = lastMap.map;
  const a = m.position(s.offset);
  const b = m.position(s.offset + s.length);
  return { start: { line: a.line - 1, character: a.column - 1 }, end: { line: b.line - 1, character: b.column - 1 } };
}
