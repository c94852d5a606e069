// mvrc explain MVRnnnn: what a diagnostic means, a minimal rule file that produces it (with what
// mvrc reports for it, computed now by the real checker), the file fixed, and how to fix it.
// The same entries, rendered as Markdown, make docs/diagnostics.md (scripts/gen-diagnostics.ts),
// so the page and the command cannot disagree. The data is compiler/core/diagnostic-docs.ts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Diag, type DiagKey, type MessageTemplate } from '../core/diagnostic-messages.ts';
import { DIAGNOSTIC_DOCS, type DiagnosticDoc } from '../core/diagnostic-docs.ts';
import { DiagnosticBag, type Diagnostic } from '../core/diagnostics.ts';
import { renderDiagnosticsText } from '../core/render.ts';
import { closestName } from '../core/suggest.ts';
import { loadProgram } from '../check/program.ts';
import { parseSource } from '../../grammar/index.ts';
import { printFile } from '../syntax/printer.ts';
import { canonicalFinding } from './fmt.ts';
import { parseOptions } from './options.ts';
import { EXIT_OK, EXIT_USAGE, UsageError, type CliIO } from './types.ts';

/** The name an example is checked under, and shown with. */
export const EXAMPLE_FILE = 'example.mvr';
// A directory that is never read: the example's text is served from memory under this name.
const EXAMPLE_DIR = path.resolve('/', 'mvrc-example');

export interface CatalogEntry {
  key: DiagKey;
  template: MessageTemplate;
  doc: DiagnosticDoc | undefined;
}

/** Every catalog entry, by code. */
export function catalogEntries(): CatalogEntry[] {
  return (Object.keys(Diag) as DiagKey[])
    .map((key) => ({ key, template: Diag[key] as MessageTemplate, doc: DIAGNOSTIC_DOCS[key] }))
    .sort((a, b) => (a.template.code < b.template.code ? -1 : 1));
}

/**
 * The diagnostics mvrc reports for a rule file given as text: `mvrc check`'s, or `mvrc fmt
 * --check`'s. (A `build` example needs a C compiler: the caller runs it.)
 */
export function diagnoseExample(text: string, via: DiagnosticDoc['via'] = undefined): { diagnostics: Diagnostic[]; sources: Map<string, string> } {
  const sources = new Map([[EXAMPLE_FILE, text]]);
  if (via === 'fmt') {
    const bag = new DiagnosticBag();
    const file = parseSource({ path: EXAMPLE_FILE, text }, bag);
    if (!bag.hasErrors) {
      const d = canonicalFinding(EXAMPLE_FILE, text, printFile(file));
      if (d) bag.items.push(d);
    }
    return { diagnostics: bag.sorted(), sources };
  }
  const own = path.join(EXAMPLE_DIR, EXAMPLE_FILE);
  const program = loadProgram([EXAMPLE_FILE], {
    cwd: EXAMPLE_DIR,
    readFile: (p) => (p === own ? Buffer.from(text) : readFileSync(p)),
  });
  return { diagnostics: program.diagnostics, sources: new Map([...program.sources, ...sources]) };
}

function commandFor(via: DiagnosticDoc['via']): string {
  return via === 'fmt' ? `mvrc fmt --check ${EXAMPLE_FILE}` : via === 'build' ? `mvrc build ${EXAMPLE_FILE} -o out` : `mvrc check ${EXAMPLE_FILE}`;
}

/** The message template as a reader sees it: placeholders as '…'. */
function shownMessage(t: MessageTemplate): string {
  return t.message.replace(/\{\d+\}/g, '…');
}

interface Section {
  title: string;
  meaning: string;
  example?: { text: string; command: string; output?: string };
  fix: string;
  fixed?: string;
}

function section(e: CatalogEntry): Section {
  const t = e.template;
  const s: Section = { title: `${t.code} (${t.severity}): ${shownMessage(t)}`, meaning: e.doc?.meaning ?? '(no description yet)', fix: e.doc?.fix ?? t.help ?? '' };
  const doc = e.doc;
  if (doc?.example !== undefined) {
    const ex: Section['example'] = { text: doc.example, command: commandFor(doc.via) };
    if (doc.via !== 'build') {
      const { diagnostics, sources } = diagnoseExample(doc.example, doc.via);
      ex.output = renderDiagnosticsText(diagnostics.filter((d) => d.code === t.code), sources);
    }
    s.example = ex;
  }
  if (doc?.fixed !== undefined) s.fixed = doc.fixed;
  return s;
}

const indent = (text: string): string =>
  text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => (l ? `    ${l}` : ''))
    .join('\n');

/** One entry for the terminal. */
export function explainText(e: CatalogEntry): string {
  const s = section(e);
  const out = [s.title, '', s.meaning, ''];
  if (s.example) {
    out.push(`Example (${EXAMPLE_FILE}):`, indent(s.example.text), '');
    if (s.example.output !== undefined) out.push(`${s.example.command} reports:`, indent(s.example.output), '');
    else out.push(`${s.example.command} reports it with the C compiler's own message.`, '');
  }
  out.push(`Fix: ${s.fix}`);
  if (s.fixed !== undefined) out.push(indent(s.fixed));
  return out.join('\n') + '\n';
}

/** One entry as Markdown (a section of docs/diagnostics.md). */
function explainMarkdown(e: CatalogEntry): string {
  const s = section(e);
  const fence = (lang: string, text: string) => `\`\`\`${lang}\n${text.replace(/\n$/, '')}\n\`\`\``;
  const out = [`### ${e.template.code}`, '', `**${e.template.severity}**: ${shownMessage(e.template).replace(/([*_`<>|])/g, '\\$1')}`, '', s.meaning, ''];
  if (s.example) {
    out.push(`Example (\`${EXAMPLE_FILE}\`):`, '', fence('mvr', s.example.text), '');
    if (s.example.output !== undefined) out.push(`\`${s.example.command}\` reports:`, '', fence('text', s.example.output), '');
    else out.push(`\`${s.example.command}\` reports it with the C compiler's own message.`, '');
  }
  out.push(`**Fix:** ${s.fix}`, '');
  if (s.fixed !== undefined) out.push(fence('mvr', s.fixed), '');
  return out.join('\n');
}

const RANGES: [string, string][] = [
  ['MVR1', 'MVR1xxx: syntax'],
  ['MVR2', 'MVR2xxx: names'],
  ['MVR3', 'MVR3xxx: types'],
  ['MVR4', 'MVR4xxx: rule semantics, mvrc verify'],
  ['MVR5', 'MVR5xxx: C compilation'],
  ['MVR9', 'MVR9xxx: input files and environment'],
];

/** docs/diagnostics.md. */
export function diagnosticsPage(): string {
  const entries = catalogEntries();
  const out = [
    '# Diagnostics',
    '',
    '<!-- Generated from compiler/core/diagnostic-messages.ts and compiler/core/diagnostic-docs.ts',
    '     by `npm run gen:diagnostics`; edit those files, not this one. -->',
    '',
    'Every diagnostic mvrc prints has a stable code, listed here with what it means, a minimal rule',
    'file that produces it, what mvrc reports for that file, and the fix. `mvrc explain MVRnnnn` prints',
    'the same entry in a terminal. The examples are checked by the test suite: each one produces its',
    'code, and its fixed version does not.',
    '',
    'Severities: an **error** makes the command exit with status 1; a **warning** or a **note** does not',
    '(`--no-warnings` hides both). Codes that no rule file can produce (unreadable files, traces, the C',
    "compiler's environment) have no example; their entry says when they occur.",
    '',
  ];
  for (const [prefix, title] of RANGES) {
    const codes = entries.filter((e) => e.template.code.startsWith(prefix)).map((e) => `[${e.template.code}](#${e.template.code.toLowerCase()})`);
    if (codes.length) out.push(`- ${title}: ${codes.join(', ')}`);
  }
  out.push('');
  for (const [prefix, title] of RANGES) {
    const group = entries.filter((e) => e.template.code.startsWith(prefix));
    if (!group.length) continue;
    out.push(`## ${title}`, '');
    for (const e of group) out.push(explainMarkdown(e));
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').replace(/\n*$/, '\n');
}

/** The catalog entry for a code as a user may type it: MVR2001, mvr2001 or 2001. */
export function findEntry(code: string): CatalogEntry | undefined {
  const c = /^\d{4}$/.test(code) ? `MVR${code}` : code.toUpperCase();
  return catalogEntries().find((e) => e.template.code === c);
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseOptions(args, { list: { type: 'boolean' } });
  if (values.list) {
    if (positionals.length) throw new UsageError('--list takes no code');
    io.stdout(catalogEntries().map((e) => `${e.template.code}  ${e.template.severity.padEnd(7)}  ${shownMessage(e.template)}\n`).join(''));
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'explain takes one code' : 'no code given (e.g. mvrc explain MVR2001)');
  const code = positionals[0]!;
  const entry = findEntry(code);
  if (!entry) {
    const codes = catalogEntries().map((e) => e.template.code);
    const hint = closestName(/^\d{4}$/.test(code) ? `MVR${code}` : code.toUpperCase(), codes);
    io.stderr(`mvrc explain: error: unknown diagnostic code '${code}'${hint ? `; did you mean '${hint}'?` : ''}\nThe codes: docs/diagnostics.md, or mvrc explain --list\n`);
    return EXIT_USAGE;
  }
  io.stdout(explainText(entry));
  return EXIT_OK;
}
