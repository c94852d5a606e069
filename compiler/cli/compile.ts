// mvrc compile FILE -o DIR: check the rules and write the C rule module (rules.c, rules.h, the
// mvr_rules.h contract and, when typed blocks are used, mvr_typed.h) and manifest.json.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildAutomaton } from '../lower/automaton.ts';
import { loadProgram } from '../check/program.ts';
import type { Program } from '../check/program-types.ts';
import { emitC, type Manifest } from '../../codegen-c/emit.ts';
import { runtimeIncludeDir } from '../../codegen-c/cc.ts';
import { DIAGNOSTIC_OPTIONS, displayPath, exitStatusFor, parseOptions, Reporter } from './options.ts';
import { EXIT_OK, EXIT_USAGE, UsageError, type CliIO } from './types.ts';

export const COMPILE_OPTIONS = {
  output: { type: 'string', short: 'o' },
  'module-name': { type: 'string' },
  ...DIAGNOSTIC_OPTIONS,
} as const;

export interface Compiled {
  status: number;
  program?: Program;
  manifest?: Manifest;
  dir?: string;
  /** Holds the diagnostics so far; the caller adds its own phases and calls finish. */
  reporter: Reporter;
}

/** Parses the shared options, loads and checks FILE, and writes the module into -o DIR. */
export function compileCommand(args: string[], io: CliIO, what: string): Compiled {
  const { values, positionals } = parseOptions(args, COMPILE_OPTIONS);
  if (positionals.length === 0) throw new UsageError('no rule file given');
  if (positionals.length > 1) throw new UsageError(`${what} takes one rule file (imports bring in the others)`);
  if (!values.output) throw new UsageError('missing -o DIR (where to write the module)');
  const reporter = new Reporter(io, values);
  const file = displayPath(io.cwd, path.resolve(io.cwd, positionals[0]!));
  const program = loadProgram([file], { cwd: io.cwd });
  const status = exitStatusFor(program.diagnostics);
  reporter.report(program.diagnostics, program.sources);
  if (status !== EXIT_OK) return { status, program, reporter };
  const automaton = buildAutomaton(program);
  const moduleName = values['module-name'] ?? path.basename(file).replace(/\.mvr$/, '');
  const { files, manifest } = emitC(program, automaton, { moduleName });
  const dir = path.resolve(io.cwd, values.output);
  try {
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of files) writeFileSync(path.join(dir, name), text);
    const inc = runtimeIncludeDir();
    copyFileSync(path.join(inc, 'mvr_rules.h'), path.join(dir, 'mvr_rules.h'));
    for (const h of manifest.runtimeHeaders) copyFileSync(path.join(inc, h), path.join(dir, h));
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  } catch (e) {
    io.stderr(`mvrc ${what}: error: cannot write the module into '${values.output}': ${(e as Error).message}\n`);
    return { status: EXIT_USAGE, program, reporter };
  }
  return { status: EXIT_OK, program, manifest, dir, reporter };
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const r = compileCommand(args, io, 'compile');
  r.reporter.finish(r.status);
  if (r.status === EXIT_OK && !r.reporter.structured) {
    io.stderr(`wrote ${displayPath(io.cwd, path.join(r.dir!, 'rules.c'))} (${r.manifest!.rules.length} rule${r.manifest!.rules.length === 1 ? '' : 's'})\n`);
  }
  return r.status;
}
