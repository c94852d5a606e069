// Go to definition and the outline of a file (document symbols).
import { existsSync } from 'node:fs';
import type { Span } from '../core/span.ts';
import type { MvrFile } from '../syntax/ast.ts';
import { printItem, printRule } from '../syntax/printer.ts';
import { groupDefinitions, importTarget, sourceOf, type Analysis } from './analysis.ts';
import { firstVariable, labelledItem, siteAt } from './locate.ts';

export interface Location {
  /** Absolute path. */
  file: string;
  span: Span;
}

/**
 * Where the name at `offset` is defined: a label's `as NAME`, a group's name (in whichever loaded
 * file defines it), a variable's first occurrence in its rule, the file an import names.
 * Syscalls have no definition in the rule files.
 */
export function definitionAt(a: Analysis, offset: number): Location | undefined {
  if (!a.file) return undefined;
  const site = siteAt(a.file, offset);
  if (!site) return undefined;
  switch (site.kind) {
    case 'call': {
      const name = site.call.name.name;
      if (site.side === 'right' && site.rule) {
        const li = labelledItem(site.rule, name);
        if (li?.label) return { file: a.entry, span: li.label.span };
      }
      const g = groupDefinitions(a).get(name);
      return g ? { file: g.file, span: g.group.name.span } : undefined;
    }
    case 'label':
      return { file: a.entry, span: site.ident.span };
    case 'variable': {
      const v = firstVariable(site, site.arg.name);
      return v ? { file: a.entry, span: v.span } : undefined;
    }
    case 'group-name': {
      const g = groupDefinitions(a).get(site.group.name.name);
      return g ? { file: g.file, span: g.group.name.span } : undefined;
    }
    case 'import': {
      const target = importTarget(a, a.entry, site.item);
      return target && (sourceOf(a, target) !== undefined || existsSync(target)) ? { file: target, span: { offset: 0, length: 0 } } : undefined;
    }
    case 'rule-name':
      return { file: a.entry, span: site.ident.span };
  }
}

export type SymbolKind = 'rule' | 'group' | 'import' | 'include';

export interface DocumentSymbol {
  name: string;
  kind: SymbolKind;
  detail?: string;
  /** The whole item. */
  span: Span;
  /** The part to highlight: the name. */
  nameSpan: Span;
}

const MAX_NAME = 80;

/** The items of a file in source order: rules (by `@name`, else their text), groups, imports, includes. */
export function documentSymbols(file: MvrFile): DocumentSymbol[] {
  const out: DocumentSymbol[] = [];
  for (const item of file.items) {
    switch (item.kind) {
      case 'Rule': {
        const text = oneLine(printRule(item));
        if (item.name) out.push({ name: `@${item.name.name}`, kind: 'rule', detail: text, span: item.span, nameSpan: item.name.span });
        else out.push({ name: text, kind: 'rule', span: item.span, nameSpan: item.lhs.span });
        break;
      }
      case 'Group': {
        const n = item.members.length;
        out.push({ name: item.name.name, kind: 'group', detail: `${n} call${n === 1 ? '' : 's'}`, span: item.span, nameSpan: item.name.span });
        break;
      }
      case 'Import':
        out.push({ name: item.path, kind: 'import', span: item.span, nameSpan: item.pathSpan });
        break;
      case 'Include':
        out.push({ name: oneLine(printItem(item)), kind: 'include', span: item.span, nameSpan: item.span });
        break;
    }
  }
  return out;
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_NAME ? `${flat.slice(0, MAX_NAME - 1)}…` : flat;
}
