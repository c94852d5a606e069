// One analysis of a rule file as an editor sees it: the program `mvrc check FILE` would load, but
// with the text of open documents in place of what is on disk (an overlay), for the file itself
// and for every file it imports. The language features (hover, completion, definition, symbols)
// are pure functions over an Analysis and an offset into its text.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Diagnostic } from '../core/diagnostics.ts';
import type { Group, Import, MvrFile } from '../syntax/ast.ts';
import { defaultStdlibDir, loadProgram } from '../check/program.ts';
import type { Program, ResolvedRule } from '../check/program-types.ts';

/** The text of a file open in the editor (by absolute path), or undefined to read it from disk. */
export type Overlay = (absPath: string) => string | undefined;

export interface AnalyzeOptions {
  /** The directory paths are shown relative to (the editor's workspace folder). */
  cwd: string;
  /** Open documents' texts; the entry itself should be among them. */
  overlay: Overlay;
  /** Where `import "std/NAME"` looks (default: as for `mvrc check`). */
  stdlibDir?: string;
}

export interface Analysis {
  /** Absolute path of the analysed file. */
  entry: string;
  /** The text that was analysed (offsets of every span refer to it). */
  text: string;
  /** Its syntax tree (with every item the parser could recover), undefined when unreadable. */
  file: MvrFile | undefined;
  program: Program;
  cwd: string;
  stdlibDir: string;
  /** Absolute paths of every file the load read or looked for (the entry, imports, missing ones):
   *  a change to any of them changes this analysis. */
  reads: ReadonlySet<string>;
}

/** Loads `entry` (absolute) as `mvrc check` would, reading open documents from the overlay. */
export function analyze(entry: string, opts: AnalyzeOptions): Analysis {
  const stdlibDir = path.resolve(opts.cwd, opts.stdlibDir ?? defaultStdlibDir());
  const reads = new Set<string>();
  const readFile = (p: string): Buffer => {
    reads.add(p);
    const open = opts.overlay(p);
    return open !== undefined ? Buffer.from(open, 'utf8') : readFileSync(p);
  };
  const program = loadProgram([shownPath(opts.cwd, entry)], { cwd: opts.cwd, stdlibDir, readFile });
  const file = program.files.find((f) => path.resolve(opts.cwd, f.path) === entry);
  const text = file?.text ?? opts.overlay(entry) ?? '';
  return { entry, text, file, program, cwd: opts.cwd, stdlibDir, reads };
}

/** How the loader names a file: relative to cwd when inside it (as `mvrc check` run there would). */
export function shownPath(cwd: string, abs: string): string {
  const rel = path.relative(cwd, abs);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

/** The absolute path of a file as the program names it (diagnostics, files, sources). */
export function absolutePath(a: Analysis, shown: string): string {
  return path.resolve(a.cwd, shown);
}

/** The diagnostics of the program grouped by the absolute path of the file they are in. */
export function diagnosticsByFile(a: Analysis): Map<string, Diagnostic[]> {
  const out = new Map<string, Diagnostic[]>();
  for (const d of a.program.diagnostics) {
    const abs = absolutePath(a, d.file);
    let list = out.get(abs);
    if (!list) out.set(abs, (list = []));
    list.push(d);
  }
  return out;
}

/** The source text of a loaded file by absolute path. */
export function sourceOf(a: Analysis, abs: string): string | undefined {
  for (const [shown, text] of a.program.sources) if (absolutePath(a, shown) === abs) return text;
  return undefined;
}

/** Every group of the program in priority order; the first definition of a name is the one used
 *  (as in the checker's group table). */
export function groupDefinitions(a: Analysis): Map<string, { group: Group; file: string }> {
  const out = new Map<string, { group: Group; file: string }>();
  for (const f of a.program.files) {
    for (const item of f.items) {
      if (item.kind === 'Group' && !out.has(item.name.name)) out.set(item.name.name, { group: item, file: absolutePath(a, f.path) });
    }
  }
  return out;
}

/** The checked rule for a rule of the entry file's syntax tree. */
export function resolvedRule(a: Analysis, rule: object): ResolvedRule | undefined {
  return a.program.rules.find((r) => r.ast === rule);
}

const STD_PREFIX = 'std/';

/**
 * The absolute path an import names, resolved as the loader does (compiler/check/program.ts):
 * "std/NAME" in the standard rule directory (".mvr" added), an absolute path as is, anything
 * else relative to the importing file. Undefined for a path the loader rejects outright.
 */
export function importTarget(a: Analysis, fromAbs: string, imp: Import): string | undefined {
  const spec = imp.path;
  if (spec === '') return undefined;
  if (spec.startsWith(STD_PREFIX)) {
    const name = spec.slice(STD_PREFIX.length);
    if (name === '' || name.split(/[\\/]/).includes('..')) return undefined;
    return path.join(a.stdlibDir, name.endsWith('.mvr') ? name : `${name}.mvr`);
  }
  if (path.isAbsolute(spec)) return path.normalize(spec);
  return path.resolve(path.dirname(fromAbs), spec);
}
