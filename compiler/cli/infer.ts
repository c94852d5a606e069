// mvrc infer A B [A2 B2 ...] [-o OUT.mvr]: suggest mapping rules from traces of the same workload,
// A the old version's (leader), B the new version's (follower); several pairs (other inputs, other
// runs) give one rule set that holds on all of them. The rules (compiler/traces/infer.ts) are
// printed in canonical form, checked with the real checker and verified against every pair
// (compiler/traces/verify.ts). On a terminal, a progress line on stderr says what it is doing.
// Exit 0: they verify (or the traces do not differ); 1: they do not (they are still written, with
// the findings), or a trace cannot be read as a trace; 2: usage error or a file that cannot be
// read at all.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Diag } from '../core/diagnostic-messages.ts';
import { DiagnosticBag } from '../core/diagnostics.ts';
import { span } from '../core/span.ts';
import { hunkLocation, suggestRulesFor, type TracePair } from '../traces/infer.ts';
import { readTraceFile, reportCommandMismatch, type Trace } from '../traces/trace.ts';
import { findingDiagnostics } from '../traces/verify.ts';
import { DIAGNOSTIC_OPTIONS, displayPath, parseOptions, Reporter } from './options.ts';
import { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError, type CliIO } from './types.ts';

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** A progress line on a terminal: rewritten in place, erased at the end; nothing elsewhere. */
function progressLine(io: CliIO): { say: (what: string) => void; done: () => void } {
  if (!io.isTTY || io.env.TERM === 'dumb') return { say: () => {}, done: () => {} };
  let shown = false;
  let last = 0;
  return {
    say: (what) => {
      const now = Date.now();
      if (shown && now - last < 100) return; // a terminal need not be rewritten faster
      last = now;
      shown = true;
      io.stderr(`\r\x1b[Kmvrc infer: ${what}`);
    },
    done: () => {
      if (shown) io.stderr('\r\x1b[K');
      shown = false;
    },
  };
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    output: { type: 'string', short: 'o' },
    ...DIAGNOSTIC_OPTIONS,
  });
  if (positionals.length < 2) throw new UsageError("two traces are needed: the old version's (leader) and the new version's (follower)");
  if (positionals.length % 2 !== 0) throw new UsageError(`traces come in pairs (old version's, new version's): got ${positionals.length}`);
  if (values.output === '') throw new UsageError('-o needs a file name');
  const reporter = new Reporter(io, values);
  // stdout holds one document: the rules, or the diagnostics as JSON/SARIF, never both.
  if (reporter.structured && values.output === undefined) throw new UsageError(`--format ${reporter.format} prints the findings on stdout: write the rules with -o OUT.mvr`);
  const progress = progressLine(io);

  // Read every trace; every problem is a diagnostic.
  const diags = new DiagnosticBag();
  const traces: (Trace | undefined)[] = [];
  for (const p of positionals) {
    const abs = resolve(io.cwd, p);
    const shown = displayPath(io.cwd, abs);
    progress.say(`reading ${shown}`);
    // readTraceFile opens the path as given: a relative one only when it names the same file.
    traces.push(await readTraceFile(resolve(shown) === abs ? shown : abs, diags));
  }
  progress.done();
  for (let k = 0; k + 1 < traces.length; k += 2) if (traces[k] && traces[k + 1]) reportCommandMismatch(traces[k]!, traces[k + 1]!, diags);
  const sources = new Map<string, string>();
  for (const t of traces) if (t) sources.set(t.file.path, t.file.text);
  if (diags.hasErrors || traces.some((t) => !t)) {
    reporter.report(diags.sorted(), sources);
    // As `mvrc check` does: a file that cannot be read at all is an environment error (2);
    // a file that is not a trace, an input error (1).
    const unreadable = new Set<string>([Diag.CannotReadFile.code, Diag.TraceIsADirectory.code, Diag.IsADirectory.code, Diag.TraceTooLarge.code]);
    return reporter.finish(diags.items.some((d) => unreadable.has(d.code)) ? EXIT_USAGE : EXIT_FINDINGS);
  }
  // Warnings (cut buffers, a cut trace, different command lines) come before the rules' verdict.
  if (diags.items.length) reporter.report(diags.sorted(), sources);
  const pairs: TracePair[] = [];
  for (let k = 0; k < traces.length; k += 2) pairs.push({ leader: traces[k]!, follower: traces[k + 1]! });
  const outName = values.output !== undefined ? displayPath(io.cwd, resolve(io.cwd, values.output)) : 'inferred.mvr';

  let s;
  try {
    s = suggestRulesFor(pairs, outName, io.cwd, { progress: progress.say });
  } finally {
    progress.done();
  }
  // Two different programs share few calls: say so before the rules.
  const little = new DiagnosticBag();
  for (const v of s.verdicts) {
    const [nl, nf] = [v.compared.leader.events.length, v.compared.follower.events.length];
    let [dl, df] = [0, 0];
    for (const h of s.inference.hunks) {
      if (h.traces?.leader !== v.pair.leader) continue;
      dl += h.leader.length;
      df += h.follower.length;
    }
    if (nl >= 20 && nf >= 20 && Math.min(nl - dl, nf - df) * 10 < Math.min(nl, nf)) {
      little.add(Diag.TraceLittleInCommon, v.pair.follower.file.path, span(0, 0), [nl - dl, nl, nf - df, nf]);
    }
  }
  if (little.items.length) reporter.report(little.items, sources);
  if (values.output !== undefined) writeFileSync(resolve(io.cwd, values.output), s.text);
  else io.stdout(s.text);
  const into = values.output !== undefined ? ` (written to ${outName})` : '';
  const onPairs = pairs.length > 1 ? ` of all ${pairs.length} pairs` : '';
  const theTraces = pairs.length > 1 ? 'the traces' : 'the two traces';

  if (s.status === 'identical') {
    io.stderr(
      `no differences: the default match reconciles the traces${onPairs} (${plural(s.inference.leaderEvents.length, 'leader event')}, ${plural(s.inference.followerEvents.length, 'follower call')} compared${s.inference.threadPairs > pairs.length ? ` in ${s.inference.threadPairs} thread pairs` : ''})${into}\n`,
    );
    return reporter.finish(EXIT_OK);
  }
  const summary = `inferred ${plural(s.rules.length, 'rule')} from ${plural(s.inference.hunks.length, 'differing hunk')}`;
  if (s.status === 'verified') {
    io.stderr(`${summary}; verified: the rules reconcile ${theTraces}${onPairs}${into}\n`);
    return reporter.finish(EXIT_OK);
  }
  const [l0, f0] = [pairs[0]!.leader, pairs[0]!.follower];
  for (const k of s.inference.skipped) io.stderr(`mvrc infer: no rule for ${hunkLocation(k.hunk, l0, f0)}: ${k.why}\n`);
  for (const d of s.dropped) io.stderr(`mvrc infer: no rule for ${d.where}: ${d.why}\n`);
  sources.set(outName, s.text);
  for (const v of s.verdicts) reporter.report(findingDiagnostics(v.result.findings, v.compared.leader, v.compared.follower), sources);
  io.stderr(`${summary}; not verified: the rules do not reconcile ${theTraces}${onPairs}${into}\n`);
  return reporter.finish(EXIT_FINDINGS);
}
