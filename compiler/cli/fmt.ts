// mvrc fmt FILE...: the canonical form of a rule file, on stdout, in place (--write), or as a
// check for build pipelines (--check: exit 1 when a file is not in canonical form).
import { renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DiagnosticBag, type Diagnostic } from '../core/diagnostics.ts';
import { parseSource } from '../../grammar/index.ts';
import { printFile } from '../syntax/printer.ts';
import { readSourceFile } from '../core/source-io.ts';
import { Diag } from '../core/diagnostic-messages.ts';
import type { Span } from '../core/span.ts';
import { DIAGNOSTIC_OPTIONS, displayPath, exitStatusFor, parseOptions, Reporter } from './options.ts';
import { EXIT_FINDINGS, EXIT_OK, UsageError, type CliIO } from './types.ts';

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    write: { type: 'boolean', short: 'w' },
    check: { type: 'boolean' },
    ...DIAGNOSTIC_OPTIONS,
  });
  if (positionals.length === 0) throw new UsageError('no rule file given');
  if (values.write && values.check) throw new UsageError('--write and --check cannot be used together');
  if (positionals.length > 1 && !values.write && !values.check) throw new UsageError('several files need --write or --check');
  const reporter = new Reporter(io, values);
  // stdout holds one document: the formatted file, or the diagnostics as JSON/SARIF, never both.
  if (reporter.structured && !values.write && !values.check) throw new UsageError(`--format ${reporter.format} prints the diagnostics on stdout: use it with --check or --write`);
  let status = EXIT_OK;
  for (const p of positionals) {
    const abs = resolve(io.cwd, p);
    const shown = displayPath(io.cwd, abs);
    const diags = new DiagnosticBag();
    const source = readSourceFile(abs, shown, diags);
    const file = source ? parseSource(source, diags) : undefined;
    if (!source || !file || diags.hasErrors) {
      // Never rewrite a file that does not parse: formatting would drop what could not be read.
      reporter.report(diags.sorted(), new Map(source ? [[shown, source.text]] : []));
      status = Math.max(status, exitStatusFor(diags.items));
      continue;
    }
    const formatted = printFile(file);
    if (values.check) {
      const finding = canonicalFinding(shown, source.text, formatted);
      if (finding) {
        reporter.report([finding], new Map([[shown, source.text]]));
        status = Math.max(status, EXIT_FINDINGS);
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
  return reporter.finish(status);
}

/**
 * MVR1017 when `text` is not its canonical form `formatted`: a finding like any other, so that
 * --format sarif shows it in code scanning.
 */
export function canonicalFinding(shown: string, text: string, formatted: string): Diagnostic | undefined {
  if (formatted === text) return undefined;
  return new DiagnosticBag().add(Diag.NotCanonical, shown, firstDifferentLine(text, formatted), [shown, shellWord(shown)]);
}

/** The span of the first line of `text` that differs from `formatted` (the whole line). */
function firstDifferentLine(text: string, formatted: string): Span {
  let i = 0;
  while (i < text.length && i < formatted.length && text[i] === formatted[i]) i++;
  const start = text.lastIndexOf('\n', i - 1) + 1;
  let end = text.indexOf('\n', start);
  if (end < 0) end = text.length;
  if (end > start && text[end - 1] === '\r') end--;
  return { offset: start, length: end - start };
}

/** `p` as one word for a POSIX shell (quoted only when it needs to be). */
function shellWord(p: string): string {
  return /^[\w./@%+=:,-]+$/.test(p) ? p : `'${p.replace(/'/g, "'\\''")}'`;
}
