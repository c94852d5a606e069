// The program loader: reads the entry files and everything they import, parses, binds and checks
// them, and returns the resolved rules in priority order (LANGUAGE.md §3: file order, an import
// standing where it is written) with every diagnostic of every pass. It never throws: unreadable
// files, bad imports and even internal bugs end up as coded diagnostics.
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSource } from '../../grammar/index.ts';
import type { Import, Include, MvrFile, Rule } from '../syntax/ast.ts';
import { GroupTable } from './binder.ts';
import { checkRules, internalError, type RuleInput } from './checker.ts';
import { Diag } from '../core/diagnostic-messages.ts';
import { DiagnosticBag } from '../core/diagnostics.ts';
import type { Program, ResolvedRule } from './program-types.ts';
import { readSourceFile } from '../core/source-io.ts';
import { closestName } from '../core/suggest.ts';

export interface LoadOptions {
  /** Directory relative paths are resolved against (default: process.cwd()). */
  cwd?: string;
  /** Where `import "std/NAME"` looks (default: $MVRC_STDLIB, else the repository's stdlib-rules/). */
  stdlibDir?: string;
  /** Reads a file by absolute path (default: the file system). Throw an error with `code` to fail. */
  readFile?: (path: string) => Buffer;
}

/**
 * The repository's stdlib-rules/ directory. Works both from the TypeScript sources (ESM,
 * compiler/check/program.ts, two levels below the repo root) and from the CommonJS bundle
 * (dist/mvrc.cjs, one level below), where `import.meta.url` is not available but `__dirname` is.
 */
export function defaultStdlibDir(): string {
  const env = process.env['MVRC_STDLIB'];
  if (env) return env;
  if (typeof __dirname === 'string') return path.resolve(__dirname, '..', 'stdlib-rules');
  try {
    return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'stdlib-rules');
  } catch {
    return path.resolve('stdlib-rules');
  }
}

const STD_PREFIX = 'std/';

type Reader = (path: string) => Uint8Array;

/** Items of every file flattened in priority order (imports expanded where they are written). */
type Ordered = { file: string; item: Rule } | { file: string; item: Include };

class Loader {
  readonly diags = new DiagnosticBag();
  readonly files: MvrFile[] = [];
  readonly sources = new Map<string, string>();
  readonly ordered: Ordered[] = [];
  /** Absolute paths of every file read (or tried): each file is loaded once. */
  private readonly loaded = new Set<string>();
  private readonly stack: { key: string; display: string }[] = [];
  private readonly cwd: string;
  private readonly stdlibDir: string;

  constructor(private readonly opts: LoadOptions) {
    this.cwd = opts.cwd ?? process.cwd();
    this.stdlibDir = path.resolve(this.cwd, opts.stdlibDir ?? defaultStdlibDir());
  }

  loadEntry(entry: string): void {
    const key = path.resolve(this.cwd, entry);
    if (this.loaded.has(key)) return;
    const source = readSourceFile(key, entry, this.diags, this.opts.readFile as Reader | undefined);
    this.visit(key, entry, source?.text);
  }

  /** Parses one file (text undefined: it could not be read) and walks its items depth-first. */
  private visit(key: string, display: string, text: string | undefined): void {
    this.loaded.add(key);
    if (text === undefined) return;
    this.sources.set(display, text);
    let file: MvrFile;
    try {
      file = parseSource({ path: display, text }, this.diags);
    } catch (e) {
      internalError(this.diags, display, { offset: 0, length: 0 }, 'parsing', e);
      return;
    }
    this.files.push(file);
    this.stack.push({ key, display });
    const importedHere = new Map<string, Import>();
    for (const item of file.items) {
      if (item.kind === 'Rule' || item.kind === 'Include') this.ordered.push({ file: display, item } as Ordered);
      else if (item.kind === 'Import') this.visitImport(file, item, importedHere);
    }
    this.stack.pop();
  }

  private visitImport(from: MvrFile, imp: Import, importedHere: Map<string, Import>): void {
    const target = this.resolveImport(from.path, imp.path);
    if (!target) {
      const hint = this.importHint(from.path, imp.path);
      this.diags.add(Diag.ImportNotFound, from.path, imp.pathSpan, [imp.path], hint !== undefined ? { help: `did you mean "${hint}"?` } : {});
      return;
    }
    const first = importedHere.get(target.key);
    if (first) {
      this.diags.add(Diag.DuplicateImport, from.path, imp.pathSpan, [imp.path], {
        related: [{ file: from.path, span: first.pathSpan, message: 'first imported here' }],
      });
      return;
    }
    importedHere.set(target.key, imp);
    const onStack = this.stack.findIndex((s) => s.key === target.key);
    if (onStack >= 0) {
      const chain = [...this.stack.slice(onStack).map((s) => s.display), this.stack[onStack]!.display];
      this.diags.add(Diag.ImportCycle, from.path, imp.pathSpan, [chain.join(' -> ')]);
      return;
    }
    if (this.loaded.has(target.key)) return; // already loaded: its rules stand where it was first imported
    const source = readSourceFile(target.key, target.display, this.diags, target.read as Reader | undefined);
    this.visit(target.key, target.display, source?.text);
  }

  /** The import closest to a missing one: a std module ("std/tme" -> "std/time") or a .mvr file in the directory it names. */
  private importHint(fromDisplay: string, spec: string): string | undefined {
    const mvrNames = (dir: string): string[] => {
      try {
        return readdirSync(dir).filter((f) => f.endsWith('.mvr'));
      } catch {
        return [];
      }
    };
    if (spec.startsWith(STD_PREFIX)) {
      const modules = mvrNames(this.stdlibDir).map((f) => STD_PREFIX + f.slice(0, -'.mvr'.length));
      return closestName(spec.endsWith('.mvr') ? spec.slice(0, -'.mvr'.length) : spec, modules);
    }
    if (spec === '' || path.isAbsolute(spec)) return undefined;
    const dir = path.resolve(this.cwd, path.dirname(fromDisplay), path.dirname(spec));
    const base = closestName(path.basename(spec), mvrNames(dir));
    if (base === undefined) return undefined;
    const prefix = spec.slice(0, spec.length - path.basename(spec).length);
    return prefix + base;
  }

  /**
   * Finds an imported file. Returns undefined when it does not exist (MVR2006 at the import);
   * other read errors are reported by readSourceFile at the file itself.
   */
  private resolveImport(fromDisplay: string, spec: string): { key: string; display: string; read?: (p: string) => Buffer } | undefined {
    let key: string;
    let display: string;
    if (spec.startsWith(STD_PREFIX)) {
      const name = spec.slice(STD_PREFIX.length);
      if (name === '' || name.split(/[\\/]/).includes('..')) return undefined;
      key = path.join(this.stdlibDir, name.endsWith('.mvr') ? name : `${name}.mvr`);
      const rel = path.relative(this.cwd, key);
      display = rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : key;
    } else if (spec === '') {
      return undefined;
    } else if (path.isAbsolute(spec)) {
      key = path.normalize(spec);
      display = key;
    } else {
      key = path.resolve(this.cwd, path.dirname(fromDisplay), spec);
      display = path.join(path.dirname(fromDisplay), spec);
    }
    // Existence check: a missing file is an import error, not a file error.
    const readFile = this.opts.readFile;
    if (readFile) {
      let bytes: Buffer;
      try {
        bytes = readFile(key);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
        const err = e;
        return {
          key,
          display,
          read: () => {
            throw err;
          },
        };
      }
      return { key, display, read: () => bytes };
    }
    return exists(key) ? { key, display } : undefined;
  }
}

/** False only when the path certainly does not exist; other stat errors are left to the reader. */
function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code !== 'ENOENT' && code !== 'ENOTDIR';
  }
}

/**
 * Loads, parses, binds and checks `entries` and everything they import.
 * Rules come back in priority order; diagnostics sorted by file and position.
 */
export function loadProgram(entries: string[], opts: LoadOptions = {}): Program {
  const loader = new Loader(opts);
  const { diags } = loader;
  for (const entry of entries) {
    try {
      loader.loadEntry(entry);
    } catch (e) {
      internalError(diags, entry, { offset: 0, length: 0 }, 'loading files', e);
    }
  }
  const groups = new GroupTable(diags);
  let rules: Program['rules'] = [];
  try {
    groups.collect(loader.files);
    const inputs: RuleInput[] = [];
    for (const o of loader.ordered) if (o.item.kind === 'Rule') inputs.push({ file: o.file, rule: o.item });
    rules = checkRules(inputs, groups, diags);
    // Group members are checked even when no rule uses the group.
    for (const g of groups.groups.values()) groups.alternatives(g);
  } catch (e) {
    internalError(diags, entries[0] ?? '', { offset: 0, length: 0 }, 'checking', e);
  }
  const includes: Program['includes'] = [];
  for (const o of loader.ordered) if (o.item.kind === 'Include') includes.push({ file: o.file, include: o.item });
  return { files: loader.files, includes, rules, diagnostics: diags.sorted(), sources: loader.sources };
}

/** Whether a rule has a C guard or callback (which only a C compiler can check). */
export function ruleHasCBlock(r: ResolvedRule): boolean {
  if (r.lhs.kind === 'seq' && r.lhs.items.some((it) => it.guard?.kind === 'CBlock')) return true;
  return r.rhs.kind === 'seq' && r.rhs.items.some((it) => it.guard?.kind === 'CBlock' || it.callback?.body.kind === 'CBlock');
}
