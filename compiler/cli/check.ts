// mvrc check FILE...: parse, resolve and check each file (with its imports) and report everything.
import { dirname, resolve } from 'node:path';
import type { Diagnostic } from '../core/diagnostics.ts';
import { loadProgram, ruleHasCBlock } from '../check/program.ts';
import { DIAGNOSTIC_OPTIONS, exitStatusFor, displayPath, parseOptions, Reporter } from './options.ts';
import { UsageError, type CliIO } from './types.ts';

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseOptions(args, { ...DIAGNOSTIC_OPTIONS, 'no-cc': { type: 'boolean' } });
  if (positionals.length === 0) throw new UsageError('no rule file given');
  const reporter = new Reporter(io, values);

  const all: Diagnostic[] = [];
  const sources = new Map<string, string>();
  const seen = new Set<string>();
  let rules = 0;
  // Each file is its own rule set (as `mvrc build FILE` would see it); a file imported by several
  // entries is reported once.
  for (const p of positionals) {
    const program = loadProgram([displayPath(io.cwd, resolve(io.cwd, p))], { cwd: io.cwd });
    rules += program.rules.length;
    for (const [k, v] of program.sources) sources.set(k, v);
    const diags = [...program.diagnostics];
    // C blocks are compiled now (one compiler run per file that has any) rather than first at
    // build; a file with errors already is not, since its blocks may not lower.
    // The C generator and the compiler driver (with node:child_process) are loaded only for a
    // file that has C blocks or #include items: most rule files have none, and loading them costs
    // every `mvrc check` start-up time.
    const hasC = program.includes.length > 0 || program.rules.some(ruleHasCBlock);
    if (!values['no-cc'] && hasC && !diags.some((d) => d.severity === 'error')) {
      const [{ emitCBlockCheck }, { checkCBlocks }] = await Promise.all([import('../../codegen-c/emit.ts'), import('../../codegen-c/cc.ts')]);
      const text = emitCBlockCheck(program);
      if (text !== undefined) {
        const includeDirs = [...new Set(program.includes.map((i) => dirname(i.file)))];
        const entry = program.files[0]?.path ?? p;
        diags.push(...checkCBlocks(text, { env: io.env, cwd: io.cwd, includeDirs, sources: program.sources, entry }).diagnostics);
      }
    }
    for (const d of diags) {
      const key = `${d.file}\0${d.span.offset}\0${d.span.length}\0${d.code}\0${d.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      all.push(d);
    }
  }
  reporter.report(all, sources);
  const errors = all.some((d) => d.severity === 'error');
  if (!reporter.structured && !errors) {
    io.stderr(`checked ${positionals.length} file${positionals.length === 1 ? '' : 's'}: ${rules} rule${rules === 1 ? '' : 's'}, no errors\n`);
  }
  return reporter.finish(exitStatusFor(all));
}
