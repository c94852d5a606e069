// What is at an offset of a parsed rule file: a call name (on which side), a label, a variable,
// an import, a group's or a rule's name. An offset touching either end of a name counts as on
// it, so the cursor just after a word (where an editor usually is) finds the word.
import type { Span } from '../core/span.ts';
import type { Call, Group, Ident, Import, LhsItem, MvrFile, Rule, VarArg } from '../syntax/ast.ts';

export type Site =
  /** The name of a call: on a rule's left side, its right side, or a group member. */
  | { kind: 'call'; call: Call; side: 'left' | 'right' | 'member'; rule?: Rule; group?: Group }
  /** `as NAME` on a rule's left side. */
  | { kind: 'label'; ident: Ident; rule: Rule }
  | { kind: 'variable'; arg: VarArg; rule?: Rule; group?: Group }
  | { kind: 'import'; item: Import }
  | { kind: 'group-name'; group: Group }
  | { kind: 'rule-name'; ident: Ident; rule: Rule };

export function touches(s: Span, offset: number): boolean {
  return offset >= s.offset && offset <= s.offset + s.length;
}

function inCall(call: Call, offset: number, side: 'left' | 'right' | 'member', rule?: Rule, group?: Group): Site | undefined {
  if (touches(call.name.span, offset)) return { kind: 'call', call, side, ...(rule ? { rule } : {}), ...(group ? { group } : {}) };
  for (const a of call.args ?? []) {
    if (a.kind === 'Var' && touches(a.span, offset)) return { kind: 'variable', arg: a, ...(rule ? { rule } : {}), ...(group ? { group } : {}) };
  }
  return undefined;
}

/** The site at `offset`, or undefined (blank space, punctuation, literals, C and typed blocks). */
export function siteAt(file: MvrFile, offset: number): Site | undefined {
  for (const item of file.items) {
    if (!touches(item.span, offset)) continue;
    switch (item.kind) {
      case 'Import':
        if (touches(item.pathSpan, offset)) return { kind: 'import', item };
        break;
      case 'Group':
        if (touches(item.name.span, offset)) return { kind: 'group-name', group: item };
        for (const m of item.members) {
          const s = inCall(m, offset, 'member', undefined, item);
          if (s) return s;
        }
        break;
      case 'Rule': {
        if (item.name && touches(item.name.span, offset)) return { kind: 'rule-name', ident: item.name, rule: item };
        if (item.lhs.kind === 'LhsSeq') {
          for (const li of item.lhs.items) {
            const s = inCall(li.call, offset, 'left', item);
            if (s) return s;
            if (li.label && touches(li.label.span, offset)) return { kind: 'label', ident: li.label, rule: item };
          }
        }
        if (item.rhs.kind === 'RhsSeq') {
          for (const ri of item.rhs.items) {
            const s = inCall(ri.call, offset, 'right', item);
            if (s) return s;
          }
        }
        break;
      }
      case 'Include':
        break;
    }
  }
  return undefined;
}

/** The left-hand item a label is bound to. */
export function labelledItem(rule: Rule, name: string): LhsItem | undefined {
  if (rule.lhs.kind !== 'LhsSeq') return undefined;
  return rule.lhs.items.find((li) => li.label?.name === name);
}

/** The first place a variable is written in a rule (left side first) or a group member list. */
export function firstVariable(scope: { rule?: Rule; group?: Group }, name: string): VarArg | undefined {
  const calls: Call[] = [];
  if (scope.rule) {
    if (scope.rule.lhs.kind === 'LhsSeq') for (const li of scope.rule.lhs.items) calls.push(li.call);
    if (scope.rule.rhs.kind === 'RhsSeq') for (const ri of scope.rule.rhs.items) calls.push(ri.call);
  }
  if (scope.group) calls.push(...scope.group.members);
  for (const c of calls) for (const a of c.args ?? []) if (a.kind === 'Var' && a.name === name) return a;
  return undefined;
}
