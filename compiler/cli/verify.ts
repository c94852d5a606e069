// mvrc verify RULES.mvr --leader-trace A --follower-trace B: do the rules reconcile two recorded
// runs? The rule file is checked as `mvrc check` checks it; the traces (mvrc JSON lines or strace
// output, compiler/traces/trace.ts) are read; then the reference interpreter decides every follower call
// of every thread and child process, paired with the leader's by creation order (compiler/traces/verify.ts). Findings are diagnostics pointing into the trace files.
// Exit 0: reconciled (a one-line summary); 1: findings, rule errors or unreadable trace lines;
// 2: usage, or a file that cannot be read at all.
import path from 'node:path';
import { DiagnosticBag, type Diagnostic } from '../core/diagnostics.ts';
import { loadProgram } from '../check/program.ts';
import { readTraceFile, reportCommandMismatch, type Trace } from '../traces/trace.ts';
import { findingDiagnostics, verifyTraces } from '../traces/verify.ts';
import { DIAGNOSTIC_OPTIONS, displayPath, exitStatusFor, parseOptions, Reporter } from './options.ts';
import { EXIT_FINDINGS, EXIT_OK, UsageError, type CliIO } from './types.ts';

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    'leader-trace': { type: 'string' },
    'follower-trace': { type: 'string' },
    ...DIAGNOSTIC_OPTIONS,
  });
  if (positionals.length === 0) throw new UsageError('no rule file given');
  if (positionals.length > 1) throw new UsageError('verify takes one rule file (imports bring in the others)');
  if (!values['leader-trace']) throw new UsageError('missing --leader-trace FILE (the old version\'s recorded run)');
  if (!values['follower-trace']) throw new UsageError('missing --follower-trace FILE (the new version\'s recorded run)');
  const reporter = new Reporter(io, values);

  const ruleFile = displayPath(io.cwd, path.resolve(io.cwd, positionals[0]!));
  const program = loadProgram([ruleFile], { cwd: io.cwd });
  const sources = new Map(program.sources);
  const all: Diagnostic[] = [...program.diagnostics];

  const bag = new DiagnosticBag();
  const read = async (p: string): Promise<Trace | undefined> => {
    const abs = path.resolve(io.cwd, p);
    const t = await readTraceFile(abs, bag, displayPath(io.cwd, abs));
    if (t) sources.set(t.file.path, t.file.text);
    return t;
  };
  const leader = await read(values['leader-trace']);
  const follower = await read(values['follower-trace']);
  if (leader && follower) reportCommandMismatch(leader, follower, bag);
  all.push(...bag.sorted());

  if (exitStatusFor(all) !== EXIT_OK || !leader || !follower) {
    reporter.report(all, sources);
    const status = exitStatusFor(all);
    return reporter.finish(status === EXIT_OK ? EXIT_FINDINGS : status);
  }

  const result = verifyTraces(program, leader, follower);
  all.push(...findingDiagnostics(result.findings, leader, follower));
  reporter.report(all, sources);
  const status = reporter.finish(exitStatusFor(all));
  if (!reporter.structured && status === EXIT_OK) {
    const expected = result.findings.find((f) => f.kind === 'expected-divergence');
    const rules = result.rulesUsed.map((id) => {
      if (id < 0) return 'default';
      const r = program.rules[id];
      return r ? `${r.name ? `@${r.name} ` : ''}${r.file}:${lineOf(sources.get(r.file), r.ast.span.offset)}` : `#${id}`;
    });
    io.stdout(
      `verified: ${result.followerCalls} follower call${result.followerCalls === 1 ? '' : 's'} against ${result.leaderEvents} leader event${result.leaderEvents === 1 ? '' : 's'}` +
        ` in ${result.threadPairs} thread pair${result.threadPairs === 1 ? '' : 's'}` +
        `${expected ? ' up to an expected divergence' : ''}; rules used: ${rules.length ? rules.join(', ') : 'none'}\n`,
    );
  }
  return status;
}

function lineOf(text: string | undefined, offset: number): number {
  if (text === undefined) return 0;
  let n = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}
