// Markdown descriptions shared by hover and completion: a syscall's signature and argument kinds,
// a group, a label, a variable, a diagnostic code from the catalog.
import { Diag, type MessageTemplate } from '../core/diagnostic-messages.ts';
import type { Diagnostic } from '../core/diagnostics.ts';
import type { VariableInfo } from '../check/program-types.ts';
import { paramKindDescription } from '../syscalls/lookup.ts';
import type { EffectClass, ParamInfo, SyscallInfo } from '../syscalls/types.ts';

/** `read(fd, buf, count)`. */
export function syscallSignature(sc: SyscallInfo): string {
  return `${sc.name}(${sc.params.map((p) => p.name).join(', ')})`;
}

const EFFECTS: Record<EffectClass, string> = {
  local: 'affects only the calling process: a follower-only call is executed by the follower',
  readonly: 'observes the system without changing it: a follower-only call is executed by the follower',
  external: 'has an effect outside the process: a follower-only call on a resource shared with the leader is emulated, not executed',
};

function paramLine(sc: SyscallInfo, p: ParamInfo): string {
  const notes: string[] = [p.dir === 'inout' ? 'read and written by the kernel' : p.dir === 'out' ? 'written by the kernel' : 'read by the kernel'];
  const len = p.lenParam !== undefined ? sc.params[p.lenParam]?.name : undefined;
  if (len !== undefined) notes.push(p.fixedSize !== undefined ? `${len} elements of ${p.fixedSize} bytes` : `length in \`${len}\``);
  else if (p.fixedSize !== undefined) notes.push(`${p.fixedSize} bytes`);
  if (p.lenFromRet) notes.push('bytes written: the return value');
  return `- \`${p.name}\`: ${p.kind} — ${paramKindDescription(p.kind)} (${notes.join('; ')})`;
}

/** The signature in a code block, the argument kinds, and what the runtime does with the call. */
export function syscallMarkdown(sc: SyscallInfo): string {
  const parts = ['```mvr\n' + syscallSignature(sc) + '\n```', `syscall ${sc.nr} (x86-64), ${sc.arity} argument${sc.arity === 1 ? '' : 's'}`];
  if (sc.detailed) parts.push(sc.params.map((p) => paramLine(sc, p)).join('\n'));
  else parts.push('Its arguments are not described in the table: each one is compared as an integer.');
  const extra: string[] = [];
  if (sc.returnsFd) extra.push('returns a new file descriptor');
  if (sc.fdParam !== undefined) extra.push(`acts on the file descriptor \`${sc.params[sc.fdParam]?.name ?? `a${sc.fdParam}`}\``);
  parts.push(`Effect: ${EFFECTS[sc.effect]}${extra.length ? `; ${extra.join(', ')}` : ''}.`);
  return parts.join('\n\n');
}

/** A group: its definition as written, and where. */
export function groupMarkdown(name: string, definition: string, where: string): string {
  return `group \`${name}\` (defined in ${where})\n\n\`\`\`mvr\n${definition}\n\`\`\``;
}

/** A label: the left-hand item it is bound to. */
export function labelMarkdown(name: string, item: string, index: number, replayed: boolean): string {
  const use = replayed
    ? 'Here the labelled leader event is replayed to the follower with these argument patterns.'
    : "On the right side it stands for that leader event: the follower's call must match it and gets its results.";
  return `label \`${name}\`: left item ${index + 1} of this rule\n\n\`\`\`mvr\n${item}\n\`\`\`\n\n${use}`;
}

export function variableMarkdown(v: VariableInfo): string {
  const side = v.side === 'leader' ? "bound by the leader's event (left side)" : "bound by the follower's call (right side only)";
  return `variable \`${v.name}\`: ${v.kind} — ${paramKindDescription(v.kind)}, ${side}`;
}

const BY_CODE = new Map<string, MessageTemplate>(Object.values(Diag).map((t) => [t.code, t]));

/** The catalog's entry for a code (placeholders shown as …), or undefined for an unknown code. */
export function diagnosticCodeMarkdown(code: string): string | undefined {
  const t = BY_CODE.get(code);
  if (!t) return undefined;
  const fill = (s: string): string => s.replace(/\{\d+\}/g, '…');
  return `**${t.code}** (${t.severity}): ${fill(t.message)}${t.help !== undefined ? `\n\nhelp: ${fill(t.help)}` : ''}`;
}

/** A diagnostic as reported at this place. */
export function diagnosticMarkdown(d: Diagnostic): string {
  return `**${d.code}** (${d.severity}): ${d.message}${d.help !== undefined ? `\n\nhelp: ${d.help}` : ''}`;
}
