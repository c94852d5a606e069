// Shared option parsing and diagnostic output for CLI commands.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { relative, isAbsolute } from 'node:path';
import type { Diagnostic } from '../core/diagnostics.ts';
import { renderDiagnosticsJson, renderDiagnosticsSarif, renderDiagnosticsText, summaryLine } from '../core/render.ts';
import { VERSION } from '../core/version.ts';
import { Diag } from '../core/diagnostic-messages.ts';
import { didYouMean } from '../core/suggest.ts';
import { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError, type CliIO } from './types.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, with its errors turned into usage errors. */
export function parseOptions<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const message = (e as Error).message.replace(/^TypeError \[\w+\]: /, '');
    // node's message for a misspelt option: "Unknown option '--formt'. To specify a positional ..."
    const unknown = /^Unknown option '(--?[^']+)'/.exec(message);
    if (unknown) {
      const names = Object.entries(options).flatMap(([long, o]) => [`--${long}`, ...(o.short ? [`-${o.short}`] : [])]);
      const hint = didYouMean(unknown[1]!, names);
      throw new UsageError(`unknown option '${unknown[1]}'${hint ? `; ${hint}` : ''}`);
    }
    throw new UsageError(message);
  }
}

function hintFor(value: string, choices: readonly string[]): string {
  const hint = didYouMean(value, choices);
  return hint ? `; ${hint}` : '';
}

export type DiagnosticFormat = 'text' | 'json' | 'sarif';

export function diagnosticFormat(value: string | undefined): DiagnosticFormat {
  const f = value ?? 'text';
  if (f !== 'text' && f !== 'json' && f !== 'sarif') throw new UsageError(`--format must be text, json or sarif (got '${f}')${hintFor(f, ['text', 'json', 'sarif'])}`);
  return f;
}

export function useColor(io: CliIO, flag: string | undefined): boolean {
  const c = flag ?? 'auto';
  if (c !== 'auto' && c !== 'always' && c !== 'never') throw new UsageError(`--color must be auto, always or never (got '${c}')${hintFor(c, ['auto', 'always', 'never'])}`);
  if (c === 'always') return true;
  if (c === 'never') return false;
  return io.isTTY && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
}

/** How a path is shown in diagnostics: relative to the working directory when it is inside it. */
export function displayPath(cwd: string, path: string): string {
  if (!isAbsolute(path)) return path;
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/**
 * The options every command that prints diagnostics takes (check, compile, build, graph, fmt,
 * verify, infer): one definition, so that they accept the same spellings.
 */
export const DIAGNOSTIC_OPTIONS = {
  format: { type: 'string' },
  color: { type: 'string' },
  'no-warnings': { type: 'boolean' },
} as const;

/**
 * Collects the diagnostics of every phase of one command (checking, then C compilation, then
 * trace findings ...) and prints them in the chosen format. Text goes to stderr as each phase
 * reports (like a compiler's diagnostics) with one summary line at the end; JSON and SARIF are
 * the command's output: one document on stdout, written by `finish`, whatever the number of
 * phases. `--no-warnings` hides warnings and notes; they still do not change the exit status.
 */
export class Reporter {
  readonly format: DiagnosticFormat;
  readonly color: boolean;
  private readonly noWarnings: boolean;
  private readonly all: Diagnostic[] = [];
  private readonly shown: Diagnostic[] = [];
  private readonly sources = new Map<string, string>();
  private finished = false;

  constructor(
    private readonly io: CliIO,
    values: { format?: string | undefined; color?: string | undefined; 'no-warnings'?: boolean | undefined },
  ) {
    this.format = diagnosticFormat(values.format);
    this.color = useColor(io, values.color);
    this.noWarnings = values['no-warnings'] ?? false;
  }

  /** Whether stdout is the diagnostics document (so nothing else may be written there). */
  get structured(): boolean {
    return this.format !== 'text';
  }

  report(diags: readonly Diagnostic[], sources: ReadonlyMap<string, string>): void {
    for (const [k, v] of sources) this.sources.set(k, v);
    // Loops, not push(...): a large file can have hundreds of thousands of warnings.
    for (const d of diags) this.all.push(d);
    const shown = this.noWarnings ? diags.filter((d) => d.severity === 'error') : diags;
    for (const d of shown) this.shown.push(d);
    if (this.format === 'text') {
      const text = renderDiagnosticsText(shown, this.sources, { color: this.color });
      if (text) this.io.stderr(text);
    }
  }

  /** Every diagnostic reported so far, warnings included. */
  get diagnostics(): readonly Diagnostic[] {
    return this.all;
  }

  /** Prints the summary line (text) or the one document (JSON, SARIF); returns `status`. */
  finish(status: number): number {
    if (this.finished) return status;
    this.finished = true;
    if (this.format === 'json') this.io.stdout(renderDiagnosticsJson(this.shown, this.sources));
    else if (this.format === 'sarif') this.io.stdout(renderDiagnosticsSarif(this.shown, this.sources, VERSION, { cwd: this.io.cwd }));
    else {
      const summary = summaryLine(this.shown);
      if (summary) this.io.stderr(`${summary} generated\n`);
    }
    return status;
  }
}

/** Files that could not be read at all are an environment problem (exit 2), not findings (exit 1). */
export function exitStatusFor(diags: readonly Diagnostic[]): number {
  const unreadable = [Diag.CannotReadFile.code, Diag.IsADirectory.code, Diag.TraceIsADirectory.code];
  if (diags.some((d) => unreadable.includes(d.code))) return EXIT_USAGE;
  return diags.some((d) => d.severity === 'error') ? EXIT_FINDINGS : EXIT_OK;
}

/**
 * Splits `OPTION VALUE... -- COMMAND...` (mvrc run, mvrc record): every option takes a value,
 * given as `--name value` or `--name=value`; the words after `--` are the command, which may have
 * options of its own. Unknown options and a command without `--` are usage errors.
 */
export function optionsBeforeCommand(args: string[], valueOptions: ReadonlySet<string>, what: string): { options: [string, string][]; command: string[] } {
  const options: [string, string][] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      i++;
      break;
    }
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (!valueOptions.has(name)) throw new UsageError(a.startsWith('-') ? `unknown option '${a}'${hintFor(name, [...valueOptions])}` : `expected '--' before the ${what}, got '${a}'`);
    if (name !== a) options.push([name, a.slice(eq + 1)]);
    else {
      if (i + 1 >= args.length) throw new UsageError(`${a} needs a value`);
      options.push([name, args[++i]!]);
    }
  }
  return { options, command: args.slice(i) };
}
