// mvrc graph FILE [-o OUT.dot]: the matching automaton as Graphviz DOT. Without -o the DOT text
// goes to stdout; with -o it is written to OUT.dot, and OUT.svg beside it when `dot` is on PATH.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildAutomaton } from '../lower/automaton.ts';
import { automatonToDot } from '../lower/dot.ts';
import { loadProgram } from '../check/program.ts';
import { DIAGNOSTIC_OPTIONS, displayPath, exitStatusFor, parseOptions, Reporter } from './options.ts';
import { EXIT_OK, EXIT_USAGE, UsageError, type CliIO } from './types.ts';

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseOptions(args, { output: { type: 'string', short: 'o' }, ...DIAGNOSTIC_OPTIONS });
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'graph takes one rule file' : 'no rule file given');
  const reporter = new Reporter(io, values);
  // stdout holds one document: the DOT, or the diagnostics as JSON/SARIF, never both.
  if (reporter.structured && !values.output) throw new UsageError(`--format ${reporter.format} prints the diagnostics on stdout: write the DOT with -o OUT.dot`);
  const file = displayPath(io.cwd, path.resolve(io.cwd, positionals[0]!));
  const program = loadProgram([file], { cwd: io.cwd });
  const status = exitStatusFor(program.diagnostics);
  reporter.report(program.diagnostics, program.sources);
  if (status !== EXIT_OK) return reporter.finish(status);
  const dot = automatonToDot(buildAutomaton(program), file);
  if (!values.output) {
    io.stdout(dot);
    return reporter.finish(EXIT_OK);
  }
  const out = path.resolve(io.cwd, values.output);
  try {
    writeFileSync(out, dot);
  } catch (e) {
    io.stderr(`mvrc graph: error: cannot write '${values.output}': ${(e as Error).message}\n`);
    return reporter.finish(EXIT_USAGE);
  }
  const svg = out.replace(/\.dot$/, '') + '.svg';
  const r = spawnSync('dot', ['-Tsvg', out, '-o', svg], { encoding: 'utf8', env: io.env });
  if (!r.error && r.status === 0) io.stderr(`wrote ${displayPath(io.cwd, out)} and ${displayPath(io.cwd, svg)}\n`);
  else io.stderr(`wrote ${displayPath(io.cwd, out)}${r.error ? " (no SVG: Graphviz 'dot' is not on PATH)" : ''}\n`);
  return reporter.finish(EXIT_OK);
}
