// Test support shared by the codegen, differential and scenario tests: load rules from text, build the
// automaton, and run harness streams through the interpreter and through the generated C.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildAutomaton, type Automaton } from '../../compiler/lower/automaton.ts';
import { loadProgram } from '../../compiler/check/program.ts';
import type { Program } from '../../compiler/check/program-types.ts';
import { syscallByName } from '../../compiler/syscalls/lookup.ts';
import { emitC } from '../emit.ts';
import { buildHarness } from './build.ts';

export function nr(name: string): number {
  const s = syscallByName(name);
  if (!s) throw new Error(`unknown syscall ${name}`);
  return s.nr;
}

let counter = 0;
const made: string[] = [];
/** A fresh temporary directory, removed by removeScratchDirs(). */
export function scratchDir(prefix: string): string {
  const base = path.join(tmpdir(), 'mvrc-tests');
  mkdirSync(base, { recursive: true });
  const d = mkdtempSync(path.join(base, prefix));
  made.push(d);
  return d;
}
/** Removes every directory scratchDir made (unless MVRC_KEEP_TMP is set, for debugging). */
export function removeScratchDirs(): void {
  if (process.env['MVRC_KEEP_TMP']) return;
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Loads rules from text (written to a temporary rules.mvr); throws on errors. */
export function loadRules(text: string, dir = scratchDir('rules-')): { program: Program; automaton: Automaton; dir: string } {
  const file = path.join(dir, `rules${counter++}.mvr`);
  writeFileSync(file, text);
  const program = loadProgram([file], { cwd: dir });
  const errors = program.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`rules do not check:\n${errors.map((d) => `${d.code} ${d.message} @${d.span.offset}`).join('\n')}\n${text}`);
  return { program, automaton: buildAutomaton(program), dir };
}

/** Emits the module and builds the harness with it (sanitizers on by default). */
export function harnessFor(program: Program, automaton: Automaton, dir: string, sanitize = true): string {
  const { files } = emitC(program, automaton, {});
  return buildHarness(path.join(dir, 'build'), files, { sanitize });
}
