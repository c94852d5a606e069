// The TypeScript folders are layers (docs/architecture.md): a module imports only from its own layer
// or from layers below it, never from test/, scripts/, bench/ or examples/. This test reads every
// import of every module and fails on the first one that goes up, naming both files.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './helpers/cli.ts';

/** Lowest first. A module may import from its own layer and any layer before it. */
export const LAYERS = [
  'compiler/core', // spans, the diagnostic catalog and rendering, source reading
  'compiler/syntax', // the AST, literals, the printer
  'grammar', // the Chevrotain lexer and parser -> AST
  'compiler/syscalls', // the syscall table (data), lookup, decoding for reports
  'compiler/typed', // typed blocks: parse, check, evaluate, lower to C
  'compiler/check', // program loading, name binding, checking
  'compiler/services', // editor features over a checked program: hover, completion, definition, symbols, formatting
  'compiler/lower', // rule IR, automaton, its DOT
  'compiler/semantics', // the reference interpreter
  'codegen-c', // C emission, the cc driver, the runtime build, the test harness
  'compiler/traces', // trace readers, verify, infer
  'compiler/cli', // the commands
] as const;

/** Folders whose modules must never be imported by a layer. */
const OUTSIDE = ['test', 'scripts', 'bench', 'examples'];

export function layerOf(rel: string): number {
  return LAYERS.findIndex((l) => rel === l || rel.startsWith(`${l}/`));
}

export interface Violation {
  file: string;
  imports: string;
  why: string;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** The layer violations among `modules` (repo-relative path -> source text). */
export function layerViolations(modules: Map<string, string>): Violation[] {
  const out: Violation[] = [];
  for (const [file, text] of modules) {
    const from = layerOf(file);
    if (from < 0) {
      out.push({ file, imports: '', why: 'belongs to no layer (put it in one of the layer folders)' });
      continue;
    }
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      if (OUTSIDE.some((o) => target === o || target.startsWith(`${o}/`))) {
        out.push({ file, imports: target, why: `imports from ${target.split('/')[0]}/` });
        continue;
      }
      const to = layerOf(target);
      if (to > from) out.push({ file, imports: target, why: `${LAYERS[from]} imports from ${LAYERS[to]}, a layer above it` });
    }
  }
  return out;
}

function layerModules(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts')) out.set(rel, readFileSync(path.join(REPO, rel), 'utf8'));
    }
  };
  for (const top of ['grammar', 'compiler', 'codegen-c']) walk(top);
  return out;
}

describe('layers', () => {
  it('every module imports only from its own layer or below', () => {
    const modules = layerModules();
    expect(modules.size).to.be.greaterThan(40);
    const bad = layerViolations(modules).map((v) => `${v.file}: ${v.why}${v.imports ? ` (${v.imports})` : ''}`);
    expect(bad, bad.join('\n')).to.deep.equal([]);
  });

  it('finds an import that goes up, one from test/, and a module outside every layer', () => {
    const modules = new Map([
      ['compiler/check/binder.ts', "import { run } from '../cli/check.ts';\nimport type { X } from '../core/span.ts';"],
      ['grammar/index.ts', "export { a } from '../test/helpers/cli.ts';"],
      ['compiler/stray.ts', "import { b } from './core/span.ts';"],
      ['compiler/cli/main.ts', "const m = await import('../traces/verify.ts');"],
    ]);
    expect(layerViolations(modules)).to.deep.equal([
      { file: 'compiler/check/binder.ts', imports: 'compiler/cli/check.ts', why: 'compiler/check imports from compiler/cli, a layer above it' },
      { file: 'grammar/index.ts', imports: 'test/helpers/cli.ts', why: 'imports from test/' },
      { file: 'compiler/stray.ts', imports: '', why: 'belongs to no layer (put it in one of the layer folders)' },
    ]);
  });
});
