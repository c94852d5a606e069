// mvrc fmt FILE...: the canonical form of a rule file, on stdout, in place (--write), or as a
// check for build pipelines (--check: exit 1 when a file is not in canonical form).
import { renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DiagnosticBag } from '../core/diagnostics.ts';
import { parseSource } from '../../grammar/index.ts';
import { printFile } from '../syntax/printer.ts';
import { readSourceFile } from '../core/source-io.ts';
import { displayPath, emitDiagnostics, exitStatusFor, parseOptions, useColor } from './options.ts';
import { EXIT_FINDINGS, EXIT_OK, UsageError, type CliIO } from './types.ts';

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    write: { type: 'boolean', short: 'w' },
    check: { type: 'boolean' },
    color: { type: 'string' },
  });
  if (positionals.length === 0) throw new UsageError('no rule file given');
  if (values.write && values.check) throw new UsageError('--write and --check cannot be used together');
  if (positionals.length > 1 && !values.write && !values.check) throw new UsageError('several files need --write or --check');
  const color = useColor(io, values.color);
  let status = EXIT_OK;
  for (const p of positionals) {
    const abs = resolve(io.cwd, p);
    const shown = displayPath(io.cwd, abs);
    const diags = new DiagnosticBag();
    const source = readSourceFile(abs, shown, diags);
    const file = source ? parseSource(source, diags) : undefined;
    if (!source || !file || diags.hasErrors) {
      // Never rewrite a file that does not parse: formatting would drop what could not be read.
      emitDiagnostics(io, diags.sorted(), new Map(source ? [[shown, source.text]] : []), 'text', color);
      status = Math.max(status, exitStatusFor(diags.items));
      continue;
    }
    const formatted = printFile(file);
    if (values.check) {
      if (formatted !== source.text) {
        io.stdout(`${shown}: not in canonical form (run: mvrc fmt --write ${shown})\n`);
        status = EXIT_FINDINGS;
      }
    } else if (values.write) {
      if (formatted !== source.text) {
        const tmp = `${abs}.mvrc-fmt.tmp`;
        writeFileSync(tmp, formatted);
        renameSync(tmp, abs);
        io.stderr(`formatted ${shown}\n`);
      }
    } else {
      io.stdout(formatted);
    }
  }
  return status;
}
