// mvrc infer A B [-o OUT.mvr]: suggest mapping rules from two traces of the same workload, A the
// old version's (leader), B the new version's (follower). The rules (compiler/traces/infer.ts) are
// printed in canonical form, checked with the real checker and verified against the two traces
// (compiler/traces/verify.ts). Exit 0: they verify (or the traces do not differ); 1: they do not (they
// are still written, with the findings), or a trace cannot be read as a trace; 2: usage error or
// a file that cannot be read at all.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Diag } from '../core/diagnostic-messages.ts';
import { DiagnosticBag } from '../core/diagnostics.ts';
import { comparedTrace, hunkLocation, MAX_DIFF_EDITS, suggestRules } from '../traces/infer.ts';
import { readTraceFile, reportCommandMismatch, type Trace } from '../traces/trace.ts';
import { findingDiagnostics } from '../traces/verify.ts';
import { DIAGNOSTIC_OPTIONS, displayPath, parseOptions, Reporter } from './options.ts';
import { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError, type CliIO } from './types.ts';

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    output: { type: 'string', short: 'o' },
    ...DIAGNOSTIC_OPTIONS,
  });
  if (positionals.length < 2) throw new UsageError("two traces are needed: the old version's (leader) and the new version's (follower)");
  if (positionals.length > 2) throw new UsageError(`too many arguments: expected two traces, got ${positionals.length}`);
  if (values.output === '') throw new UsageError('-o needs a file name');
  const reporter = new Reporter(io, values);
  // stdout holds one document: the rules, or the diagnostics as JSON/SARIF, never both.
  if (reporter.structured && values.output === undefined) throw new UsageError(`--format ${reporter.format} prints the findings on stdout: write the rules with -o OUT.mvr`);

  // Read both traces; every problem is a diagnostic.
  const diags = new DiagnosticBag();
  const traces: (Trace | undefined)[] = [];
  for (const p of positionals) {
    const abs = resolve(io.cwd, p);
    const shown = displayPath(io.cwd, abs);
    // readTraceFile opens the path as given: a relative one only when it names the same file.
    traces.push(await readTraceFile(resolve(shown) === abs ? shown : abs, diags));
  }
  if (traces[0] && traces[1]) reportCommandMismatch(traces[0], traces[1], diags);
  const sources = new Map<string, string>();
  for (const t of traces) if (t) sources.set(t.file.path, t.file.text);
  if (diags.hasErrors || !traces[0] || !traces[1]) {
    reporter.report(diags.sorted(), sources);
    // As `mvrc check` does: a file that cannot be read at all is an environment error (2);
    // a file that is not a trace, an input error (1).
    const unreadable = new Set<string>([Diag.CannotReadFile.code, Diag.TraceIsADirectory.code, Diag.IsADirectory.code, Diag.TraceTooLarge.code]);
    return reporter.finish(diags.items.some((d) => unreadable.has(d.code)) ? EXIT_USAGE : EXIT_FINDINGS);
  }
  // Warnings (cut buffers, a cut trace, different command lines) come before the rules' verdict.
  if (diags.items.length) reporter.report(diags.sorted(), sources);
  const [leader, follower] = traces as [Trace, Trace];
  const outName = values.output !== undefined ? displayPath(io.cwd, resolve(io.cwd, values.output)) : 'inferred.mvr';

  const s = suggestRules(leader, follower, outName, io.cwd);
  if (!s) {
    io.stderr(`mvrc infer: error: the traces differ in more than ${MAX_DIFF_EDITS} events; infer compares two runs of the same workload\n`);
    return reporter.finish(EXIT_FINDINGS);
  }
  if (values.output !== undefined) writeFileSync(resolve(io.cwd, values.output), s.text);
  else io.stdout(s.text);
  const into = values.output !== undefined ? ` (written to ${outName})` : '';

  if (s.status === 'identical') {
    io.stderr(
      `no differences: the default match reconciles the traces (${plural(s.inference.leaderEvents.length, 'leader event')}, ${plural(s.inference.followerEvents.length, 'follower call')} compared${s.inference.threadPairs > 1 ? ` in ${s.inference.threadPairs} thread pairs` : ''})${into}\n`,
    );
    return reporter.finish(EXIT_OK);
  }
  const summary = `inferred ${plural(s.rules.length, 'rule')} from ${plural(s.inference.hunks.length, 'differing hunk')}`;
  if (s.status === 'verified') {
    io.stderr(`${summary}; verified: the rules reconcile the two traces${into}\n`);
    return reporter.finish(EXIT_OK);
  }
  for (const k of s.inference.skipped) io.stderr(`mvrc infer: no rule for ${hunkLocation(k.hunk, leader, follower)}: ${k.why}\n`);
  for (const d of s.dropped) io.stderr(`mvrc infer: no rule for ${d.where}: ${d.why}\n`);
  sources.set(outName, s.text);
  reporter.report(findingDiagnostics(s.verdict.findings, comparedTrace(leader), comparedTrace(follower)), sources);
  io.stderr(`${summary}; not verified: the rules do not reconcile the two traces${into}\n`);
  return reporter.finish(EXIT_FINDINGS);
}
