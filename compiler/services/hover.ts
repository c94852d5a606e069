// Hover: what the name under the cursor is — a syscall's signature and argument kinds, a group's
// definition, a label's left-hand item, a variable's kind, an imported file's header comment —
// and the diagnostics reported there (or the catalog entry of an `MVRnnnn` code written in a comment).
import type { Span } from '../core/span.ts';
import { syscallByName } from '../syscalls/lookup.ts';
import { printItem } from '../syntax/printer.ts';
import { absolutePath, groupDefinitions, importTarget, resolvedRule, shownPath, sourceOf, type Analysis } from './analysis.ts';
import { diagnosticCodeMarkdown, diagnosticMarkdown, groupMarkdown, labelMarkdown, syscallMarkdown, variableMarkdown } from './describe.ts';
import { labelledItem, siteAt, touches, type Site } from './locate.ts';
import { headerComment } from './std.ts';
import { readFileSync } from 'node:fs';
import { LineMap } from '../core/span.ts';

export interface Hover {
  markdown: string;
  span: Span;
}

export function hoverAt(a: Analysis, offset: number): Hover | undefined {
  const parts: string[] = [];
  let span: Span | undefined;
  for (const d of a.program.diagnostics) {
    if (absolutePath(a, d.file) !== a.entry || !touches(d.span, offset)) continue;
    parts.push(diagnosticMarkdown(d));
    span ??= d.span;
  }
  const site = a.file ? siteAt(a.file, offset) : undefined;
  const sym = site ? siteMarkdown(a, site) : undefined;
  if (sym) {
    parts.push(sym.markdown);
    span = sym.span;
  }
  if (parts.length === 0) {
    const code = codeAt(a.text, offset);
    const md = code ? diagnosticCodeMarkdown(code.code) : undefined;
    if (code && md) return { markdown: md, span: code.span };
    return undefined;
  }
  return { markdown: parts.join('\n\n---\n\n'), span: span! };
}

function siteMarkdown(a: Analysis, site: Site): Hover | undefined {
  switch (site.kind) {
    case 'call': {
      const name = site.call.name.name;
      // On the right side a label wins over a syscall or group of the same name (binder.ts).
      if (site.side === 'right' && site.rule) {
        const li = labelledItem(site.rule, name);
        if (li && site.rule.lhs.kind === 'LhsSeq') {
          const md = labelMarkdown(name, printLhsItem(a, li.span), site.rule.lhs.items.indexOf(li), site.call.args !== null);
          return { markdown: md, span: site.call.name.span };
        }
      }
      const sc = syscallByName(name);
      if (sc) return { markdown: syscallMarkdown(sc), span: site.call.name.span };
      const g = groupDefinitions(a).get(name);
      if (g) return { markdown: groupDescription(a, name, g), span: site.call.name.span };
      return undefined;
    }
    case 'label': {
      const li = labelledItem(site.rule, site.ident.name);
      if (!li || site.rule.lhs.kind !== 'LhsSeq') return undefined;
      return { markdown: labelMarkdown(site.ident.name, printLhsItem(a, li.span), site.rule.lhs.items.indexOf(li), false), span: site.ident.span };
    }
    case 'variable': {
      const v = site.rule ? resolvedRule(a, site.rule)?.variables.get(site.arg.name) : undefined;
      return v ? { markdown: variableMarkdown(v), span: site.arg.span } : undefined;
    }
    case 'group-name': {
      const g = groupDefinitions(a).get(site.group.name.name);
      return g ? { markdown: groupDescription(a, site.group.name.name, g), span: site.group.name.span } : undefined;
    }
    case 'import': {
      const target = importTarget(a, a.entry, site.item);
      if (!target) return undefined;
      const text = sourceOf(a, target) ?? readText(target);
      if (text === undefined) return undefined;
      const header = headerComment(text);
      const md = `\`${shownPath(a.cwd, target)}\`${header ? `\n\n${header}` : ''}`;
      return { markdown: md, span: site.item.pathSpan };
    }
    case 'rule-name':
      return { markdown: `rule \`@${site.ident.name}\`\n\n\`\`\`mvr\n${printItem(site.rule)}\n\`\`\``, span: site.ident.span };
  }
}

/** A left-hand item as written (its guard and label included). */
function printLhsItem(a: Analysis, at: Span): string {
  return a.text.slice(at.offset, at.offset + at.length);
}

function groupDescription(a: Analysis, name: string, g: { group: { span: Span }; file: string }): string {
  const text = sourceOf(a, g.file) ?? '';
  const line = new LineMap(text).position(g.group.span.offset).line;
  const definition = text.slice(g.group.span.offset, g.group.span.offset + g.group.span.length);
  return groupMarkdown(name, definition, `${shownPath(a.cwd, g.file)}:${line}`);
}

function readText(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

/** An `MVRnnnn` code at the offset (e.g. in a comment). */
function codeAt(text: string, offset: number): { code: string; span: Span } | undefined {
  const from = Math.max(0, offset - 7);
  const re = /MVR\d{4}/g;
  re.lastIndex = from;
  for (let m = re.exec(text); m && m.index <= offset; m = re.exec(text)) {
    if (offset >= m.index && offset <= m.index + m[0].length) return { code: m[0], span: { offset: m.index, length: m[0].length } };
  }
  return undefined;
}
