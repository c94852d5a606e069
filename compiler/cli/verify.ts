// mvrc verify RULES.mvr --leader-trace A --follower-trace B [--keep-going]: do the rules reconcile
// two recorded runs? The rule file is checked as `mvrc check` checks it; the traces (mvrc JSON lines
// or strace output) are streamed (compiler/traces/stream.ts): read a chunk at a time as the
// reference interpreter needs their events, never whole, so memory does not grow with their size
// and a divergence near the start is found without reading the rest. Every follower call of every
// thread and child process is decided, paired with the leader's by creation order
// (compiler/traces/verify.ts); verify stops at the first finding (--keep-going: each thread pair
// to its own first finding). Findings are diagnostics pointing into the trace files; the lines
// they point at are read again for their code frames.
// Exit 0: reconciled (a one-line summary); 1: findings, rule errors or unreadable trace lines;
// 2: usage, or a file that cannot be read at all.
import path from 'node:path';
import { DiagnosticBag, type Diagnostic } from '../core/diagnostics.ts';
import { loadProgram } from '../check/program.ts';
import { reportCommandMismatch } from '../traces/trace.ts';
import { excerptSource, reportStreamShape, TraceStream, verifyStreams } from '../traces/stream.ts';
import { findingDiagnostics } from '../traces/verify.ts';
import { verifyStreamsNative } from '../traces/native.ts';
import { buildAutomaton } from '../lower/automaton.ts';
import { buildVerifier, type VerifierBuild } from '../../codegen-c/verify-build.ts';
import { rmSync } from 'node:fs';
import { DIAGNOSTIC_OPTIONS, displayPath, exitStatusFor, parseOptions, Reporter } from './options.ts';
import { EXIT_FINDINGS, EXIT_OK, UsageError, type CliIO } from './types.ts';

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    'leader-trace': { type: 'string' },
    'follower-trace': { type: 'string' },
    'keep-going': { type: 'boolean' },
    interpreter: { type: 'boolean' },
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
  const files: { abs: string; shown: string }[] = [];
  const open = (p: string): TraceStream | undefined => {
    const abs = path.resolve(io.cwd, p);
    const shown = displayPath(io.cwd, abs);
    files.push({ abs, shown });
    return TraceStream.open(abs, bag, shown);
  };
  const leader = open(values['leader-trace']);
  const follower = open(values['follower-trace']);
  // The trace lines the diagnostics point at, read again for their code frames.
  const report = (diags: Diagnostic[]): number => {
    let out = diags;
    for (const f of files) {
      const ex = excerptSource(f.abs, f.shown, out);
      out = ex.diags;
      if (ex.text) sources.set(f.shown, ex.text);
    }
    reporter.report(out, sources);
    return reporter.finish(exitStatusFor(out));
  };
  let native: VerifierBuild | undefined;
  try {
    if (exitStatusFor([...all, ...bag.items]) !== EXIT_OK || !leader || !follower) {
      const status = report([...all, ...bag.sorted()]);
      return status === EXIT_OK ? EXIT_FINDINGS : status;
    }
    // The compiled rules, as the runtime runs them (C blocks included); the reference interpreter
    // when there is no C compiler, or with --interpreter.
    const keepGoing = values['keep-going'] === true;
    if (values.interpreter !== true) native = buildVerifier(program, buildAutomaton(program), { env: io.env, cwd: io.cwd });
    if (native && !native.notFound && !native.exe) return report([...all, ...native.diagnostics]);
    const result = native?.exe
      ? await verifyStreamsNative(program, leader, follower, { keepGoing, exe: native.exe, reopen: (side) => TraceStream.open(files[side === 'leader' ? 0 : 1]!.abs, new DiagnosticBag(), files[side === 'leader' ? 0 : 1]!.shown) })
      : verifyStreams(program, leader, follower, { keepGoing });
    reportStreamShape(leader, bag);
    reportStreamShape(follower, bag);
    reportCommandMismatch(leader.shell(), follower.shell(), bag);
    // Lines that cannot be read stop the verdict, as they did when traces were read whole.
    const unreadable = bag.items.some((d) => d.severity === 'error');
    all.push(...bag.sorted());
    if (!unreadable) all.push(...findingDiagnostics(result.findings, leader.shell(), follower.shell()));
    const status = report(all);
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
  } finally {
    leader?.close();
    follower?.close();
    if (native?.scratch) rmSync(native.scratch, { recursive: true, force: true });
  }
}

function lineOf(text: string | undefined, offset: number): number {
  if (text === undefined) return 0;
  let n = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}
