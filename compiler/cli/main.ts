// The mvrc command-line driver: parses the command name and hands the rest to the command's
// module. Every failure ends in a message and an exit status, never a stack trace:
// 0 ok, 1 findings/errors in the input, 2 usage or environment error.
import { EXIT_USAGE, UsageError, type CliIO, type Command } from './types.ts';
import { VERSION } from '../core/version.ts';
import { didYouMean } from '../core/suggest.ts';

interface CommandEntry {
  summary: string;
  usage: string;
  /** Printed after the usage line by `mvrc COMMAND --help`. */
  details?: string[];
  load: () => Promise<Command>;
}

/** The options of every command that prints diagnostics (compiler/cli/options.ts DIAGNOSTIC_OPTIONS). */
const DIAG_FLAGS = '[--format text|json|sarif] [--color auto|always|never] [--no-warnings]';
const DIAG_DETAILS = [
  '  --format F          text (stderr, with code frames), json or sarif (SARIF 2.1.0): one document on stdout',
  '  --color C           auto (a terminal without NO_COLOR), always or never;  --no-warnings: errors only',
];

const commands: Record<string, CommandEntry> = {
  check: {
    summary: 'check rule files and report diagnostics',
    usage: `mvrc check FILE... ${DIAG_FLAGS} [--no-cc]`,
    details: DIAG_DETAILS,
    load: async () => (await import('./check.ts')).run,
  },
  fmt: {
    summary: 'print a rule file in canonical form',
    usage: `mvrc fmt FILE... [--write | --check] ${DIAG_FLAGS}`,
    details: [...DIAG_DETAILS, '  --check             exit 1, with MVR1017 at the first differing line, when a file is not in canonical form'],
    load: async () => (await import('./fmt.ts')).run,
  },
  lsp: {
    summary: 'a language server for .mvr files over stdio (diagnostics, hover, completion, definition, formatting)',
    usage: 'mvrc lsp [--stdio]',
    details: ['For editors: speaks the Language Server Protocol on stdin/stdout (editors/vscode/ is a client for VS Code).'],
    load: async () => (await import('./lsp.ts')).run,
  },
  compile: {
    summary: 'compile rules to a C module (rules.c, rules.h, manifest.json)',
    usage: `mvrc compile FILE -o DIR ${DIAG_FLAGS}`,
    details: DIAG_DETAILS,
    load: async () => (await import('./compile.ts')).run,
  },
  build: {
    summary: 'compile rules and build the module with the C compiler (DIR/rules.so)',
    usage: `mvrc build FILE -o DIR ${DIAG_FLAGS}`,
    details: DIAG_DETAILS,
    load: async () => (await import('./build.ts')).run,
  },
  graph: {
    summary: 'print the matching automaton as Graphviz DOT',
    usage: `mvrc graph FILE [-o OUT.dot] ${DIAG_FLAGS}`,
    details: DIAG_DETAILS,
    load: async () => (await import('./graph.ts')).run,
  },
  verify: {
    summary: 'check that rules reconcile two recorded runs (mvrc JSON-lines or strace traces)',
    usage: `mvrc verify RULES.mvr --leader-trace A --follower-trace B [--keep-going] [--interpreter] ${DIAG_FLAGS}`,
    details: [
      ...DIAG_DETAILS,
      '  --leader-trace A    the old version\'s run; --follower-trace B: the new version\'s, under the same workload',
      '                      (mvrc JSON lines, or `strace -f -s 4096 -xx -o FILE CMD...`; read as a stream, any size)',
      '  --keep-going        report the first finding of every thread pair (default: stop at the first finding)',
      '  --interpreter       run the rules in the reference interpreter instead of compiling them ($CC); C blocks',
      '                      then cannot be evaluated (also what verify does when there is no C compiler)',
      'Exit status: 0 reconciled (one summary line), 1 a divergence, leftover leader events or bad input, 2 usage.',
    ],
    load: async () => (await import('./verify.ts')).run,
  },
  infer: {
    summary: 'suggest mapping rules from two traces (old version, new version) and verify them',
    usage: `mvrc infer LEADER_TRACE FOLLOWER_TRACE [LEADER_TRACE2 FOLLOWER_TRACE2 ...] [-o OUT.mvr] ${DIAG_FLAGS}`,
    details: [
      ...DIAG_DETAILS,
      '  traces: mvrc JSON lines (mvrc record) or strace -f -s 4096 -xx output, same workload for both',
      '  several pairs (other inputs, other runs): one rule set that holds on all of them',
      'Exit status: 0 the rules verify (or the traces do not differ), 1 they do not (still written, with the findings)',
      'or a trace cannot be read as one, 2 usage error or unreadable file.',
    ],
    load: async () => (await import('./infer.ts')).run,
  },
  explain: {
    summary: 'explain a diagnostic code: meaning, an example that produces it, the fix',
    usage: 'mvrc explain MVRnnnn | mvrc explain --list',
    details: ['Every code, with its example and fix: docs/diagnostics.md. Exit status: 0, or 2 for an unknown code.'],
    load: async () => (await import('./explain.ts')).run,
  },
  run: {
    summary: 'run a program as leader, optionally with a follower version beside it',
    usage: 'mvrc run [--rules F] [--back B] [--control SOCK] [--state replay|handoff] [--journal-size BYTES] [--journal-min-free BYTES] [--follower-log F] [--state-dir D] [--ring-size BYTES] [--deadline-ms N] [--max-tasks N] [--leader-env K=V]... [--follower-env K=V]... -- LEADER_CMD... [::: FOLLOWER_CMD...]',
    details: [
      '  --rules F          rules for the follower (.mvr, built on the fly, or a built .so); none: the default match only',
      '  --back B           backward rules, for the old version once it follows the new one (after promote)',
      '  --control SOCK     a control socket (mode 0600) for `mvrc ctl`; with no follower, the leader can be updated',
      '  --state S          with --control: how a later `ctl update` brings the new version\'s state up to date by',
      '                     default: replay (keeps a journal) or handoff (programs using runtime-c/dsu/mvr_dsu.h;',
      '                     no journal, so the leader runs untrapped until the update)',
      '  --journal-size B   the journal a replay needs, a file in --state-dir: the most each thread\'s part may take',
      '                     (default and most 4 GiB with --state replay, 0 with handoff)',
      '  --journal-min-free B  free space the journal leaves on its filesystem (default 5% of it, at most 1 GiB)',
      '  --state-dir D      where the journal and built rules go (private; default: a new directory in $TMPDIR)',
      '  --deadline-ms N    a follower that makes no progress this long while the leader moves on is retired (3000)',
      '  --ring-size B      bytes of each thread pair\'s event ring (16 MiB; 64 MiB for a leader that can be updated:',
      '                     it holds what the leader records while a new version loads its state)',
      '  --max-tasks N      threads and processes alive at once, the main thread included (16); each pair of',
      '                     tasks has a ring while it lives, reused once both have ended',
      '  --follower-env K=V the follower\'s environment (--leader-env: the leader\'s); MVR_WRAPPER_EXECS=N: the follower\'s',
      '                     command is a wrapper whose first N images run on their own (a script that execs the program: 1)',
      'Signals sent to mvrc run go to the leader; one that ends it is a stop, not a crash: no failover.',
      'The exit status is the leader\'s. docs/lifecycle.md describes updates; docs/runtime.md the runtime.',
    ],
    load: async () => (await import('./run.ts')).run,
  },
  record: {
    summary: "run a program and write its system calls to a trace (for 'verify' and 'infer')",
    usage: 'mvrc record -o TRACE [--ring-size BYTES] -- CMD...',
    details: [
      '  -o, --output TRACE  the trace file: JSON lines, one per recorded event or signal (docs/traces.md)',
      '  --ring-size B       bytes of each thread\'s event ring (16 MiB); a buffer is recorded up to B/16 bytes',
      'CMD runs under the mvr agent as a leader with no follower: its threads and forked processes are recorded',
      '(up to 15), calls local to the process (memory, signal masks, futex) are not, and an exec ends the recording.',
      'The exit status is CMD\'s; 2 for a usage error, or when the trace could not be written in full.',
    ],
    load: async () => (await import('./record.ts')).run,
  },
  ctl: {
    summary: 'talk to a running monitor: status, update, promote, commit, rollback',
    usage: 'mvrc ctl SOCK status|promote|commit|rollback [--json] | mvrc ctl SOCK update [--rules F] [--back B] [--state replay|handoff] [--retries N] [--env K=V]... [--json] -- NEW_CMD...',
    details: [
      '  update             start NEW_CMD beside the running version (stage: outdated leader); it follows it with the',
      '                     forward rules (--rules) and, after promote, is followed by it with --back',
      '    --state replay   (default) NEW_CMD starts fresh and replays the old version\'s journal, then follows live',
      '    --state handoff  the old version forks at its next update point (runtime-c/dsu/mvr_dsu.h); NEW_CMD loads',
      '                     its state and follows it from there; answers once the state is loaded',
      '    --retries N      try again (300 ms later) when the new version diverges; --env K=V: its environment',
      '  promote            the new version leads, the old one follows (or is retired without --back)',
      '  commit             the new version alone;  rollback: back to the old version, with its state',
      '  status             stage, versions, events, journal, catch-up, retirements and the timeline',
      'Exit status: 0 done, 1 refused by the monitor (nothing changed), 2 usage error or monitor unreachable.',
    ],
    load: async () => (await import('./ctl.ts')).run,
  },
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((k) => k.length));
  const lines = [
    `mvrc ${VERSION} — multi-version execution rules: compiler and runtime`,
    '',
    'Usage: mvrc COMMAND [ARGS...]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'mvrc COMMAND --help' for a command's options.",
    'Exit status: 0 ok, 1 errors in the input, 2 usage or environment error.',
  ];
  return lines.join('\n') + '\n';
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(help());
    return name === undefined ? EXIT_USAGE : 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout(`mvrc ${VERSION}\n`);
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    const hint = didYouMean(name, Object.keys(commands));
    io.stderr(`mvrc: error: unknown command '${name}'${hint ? `; ${hint}` : ''}\n\n${help()}`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    const dd = rest.indexOf('--');
    const hi = rest.indexOf('--help') >= 0 ? rest.indexOf('--help') : rest.indexOf('-h');
    if (dd < 0 || hi < dd) {
      io.stdout(`Usage: ${entry.usage}\n${entry.details ? `${entry.details.join('\n')}\n` : ''}`);
      return 0;
    }
  }
  try {
    const command = await entry.load();
    return await command(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`mvrc ${name}: error: ${e.message}\nUsage: ${entry.usage}\n`);
      return EXIT_USAGE;
    }
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && typeof err.message === 'string' && err.syscall) {
      io.stderr(`mvrc ${name}: error: ${err.message}\n`);
      return EXIT_USAGE;
    }
    // An internal error is a bug in mvrc: say so plainly, with the detail needed for a report.
    io.stderr(`mvrc ${name}: internal error: ${err?.message ?? String(e)}\nThis is a bug in mvrc; please report it with the input that caused it.\n`);
    if (io.env.MVRC_DEBUG) io.stderr(`${(e as Error)?.stack ?? ''}\n`);
    return EXIT_USAGE;
  }
}

// Entry point when run as the bundled CLI (dist/mvrc.cjs) or with tsx.
const isMain = typeof require !== 'undefined' && typeof module !== 'undefined' ? require.main === module : process.argv[1]?.endsWith('cli.ts');
if (isMain) {
  const io: CliIO = {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    cwd: process.cwd(),
    isTTY: Boolean(process.stderr.isTTY),
    env: process.env,
  };
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`mvrc: internal error: ${(e as Error)?.message ?? String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
