// The standard rule files (`import "std/NAME"`) as an editor shows them: their names for
// completion, and the header comment each one starts with (when to use it) for hover.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

export interface StdModule {
  /** As written after "std/", e.g. "time". */
  name: string;
  path: string;
  /** The file's header comment as plain text ('' when it has none). */
  header: string;
}

/** The standard rule files in `dir`, sorted by name; none when the directory cannot be read. */
export function stdModules(dir: string): StdModule[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.mvr'));
  } catch {
    return [];
  }
  return names.sort().map((n) => {
    const p = path.join(dir, n);
    let header = '';
    try {
      header = headerComment(readFileSync(p, 'utf8'));
    } catch {
      // unreadable: listed without a description
    }
    return { name: n.slice(0, -'.mvr'.length), path: p, header };
  });
}

/**
 * The comment a rule file starts with, without the comment markers: the leading `//` lines up to
 * the first line that is not one (a blank `//` line is a paragraph break), or a leading block
 * comment. Every std file starts with one saying when to use it.
 */
export function headerComment(text: string): string {
  const body = text.replace(/^\uFEFF/, '').replace(/^\s*\n/, '');
  if (body.startsWith('/*')) {
    const end = body.indexOf('*/');
    if (end < 0) return '';
    return body
      .slice(2, end)
      .split(/\r?\n/)
      .map((l) => l.replace(/^\s*\* ?/, '').trimEnd())
      .join('\n')
      .trim();
  }
  const lines: string[] = [];
  for (const line of body.split(/\r?\n/)) {
    const m = /^\s*\/\/ ?(.*)$/.exec(line);
    if (!m) break;
    lines.push(m[1]!.trimEnd());
  }
  return lines.join('\n').trim();
}

/** The first sentence-ish line of a header: the summary shown beside a completion. */
export function headerSummary(header: string): string {
  return header.split('\n')[0] ?? '';
}
