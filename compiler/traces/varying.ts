// Values that differ between two runs of one version inside the bytes a program writes: its
// pid, and times (a log line "6060:C 07 Dec 2026 18:02:39.860 # Server initialized\n"). mvrc
// infer writes a hunk whose two writes differ only there as one rule with typed guards that
// compare everything else (docs/traces.md, "mvrc infer"), instead of one rule per run with both
// lines as literals (which holds on no other run).
import type { Trace } from './trace.ts';
import { syscallByNr } from '../syscalls/lookup.ts';

const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
/** Times as programs print them, longest forms first: Redis's and syslog's `07 Dec 2026
 *  18:02:39.860`, HTTP's `Mon, 07 Dec 2026 18:02:39 GMT`, ISO 8601, ctime's `Mon Dec  7
 *  18:02:39 2026`, a bare `18:02:39.860`. */
const TIME = new RegExp(
  [
    `${DAY}, \\d{2} ${MONTH} \\d{4} \\d{2}:\\d{2}:\\d{2}(?: GMT)?`,
    `\\d{1,2} ${MONTH} \\d{4} \\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?`,
    `\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}:\\d{2}(?:[.,]\\d+)?(?:Z|[+-]\\d{2}:?\\d{2})?`,
    `${DAY} ${MONTH} [ \\d]\\d \\d{2}:\\d{2}:\\d{2} \\d{4}`,
    `\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?`,
  ].join('|'),
  'g',
);

/** The pids and tids a trace shows: its processes' and threads' ids (strace's line prefixes) and
 *  what getpid/gettid/getppid returned. */
export function tracePids(trace: Trace): Set<string> {
  const ids = new Set<string>();
  for (const e of trace.events) {
    if (trace.format === 'strace') ids.add(String(e.thread));
    const name = syscallByNr(e.nr)?.name;
    if ((name === 'getpid' || name === 'gettid' || name === 'getppid') && !e.noRet && e.ret > 0n) ids.add(String(e.ret));
  }
  return ids;
}

/** Bytes as a template: the fixed text between its run-varying fields (times, and digit runs that
 *  are one of `pids`), or undefined when it has none or is not printable text. */
export function varyingTemplate(b: Uint8Array, pids: ReadonlySet<string>): { fixed: string[]; fields: { kind: 'pid' | 'time'; width: number }[] } | undefined {
  for (const c of b) if (!(c >= 0x20 && c < 0x7f) && c !== 0x0a && c !== 0x0d && c !== 0x09) return undefined;
  const s = Buffer.from(b).toString('latin1');
  const spans: [number, number, 'pid' | 'time'][] = [];
  for (const m of s.matchAll(TIME)) spans.push([m.index, m.index + m[0].length, 'time']);
  for (const m of s.matchAll(/\d+/g)) if (pids.has(m[0])) spans.push([m.index, m.index + m[0].length, 'pid']);
  if (spans.length === 0) return undefined;
  spans.sort((x, y) => x[0] - y[0]);
  const fixed: string[] = [];
  const fields: { kind: 'pid' | 'time'; width: number }[] = [];
  let at = 0;
  for (const [from, to, kind] of spans) {
    if (from < at) return undefined; // overlapping fields: not a plain layout
    fixed.push(s.slice(at, from));
    fields.push({ kind, width: to - from });
    at = to;
  }
  fixed.push(s.slice(at));
  return { fixed, fields };
}

/**
 * A typed guard on the byte-string variable `v` saying that it is the template's text with any
 * values in its fields: it starts with the first fixed part, ends with the last, and holds the
 * others. Undefined when the fixed parts say too little (under 4 bytes in all) to tell the line
 * from another.
 */
export function templateGuard(v: string, fixed: readonly string[]): string | undefined {
  if (fixed.join('').length < 4) return undefined;
  const parts: string[] = [];
  fixed.forEach((f, i) => {
    if (f === '') return;
    const lit = JSON.stringify(f);
    parts.push(i === 0 ? `${v}.startsWith(${lit})` : i === fixed.length - 1 ? `${v}.endsWith(${lit})` : `${v}.includes(${lit})`);
  });
  return parts.join(' && ');
}

/** The layout of a log line that starts with the pid, then a short tag, then a time of fixed
 *  width, then the message (Redis's "6060:C 07 Dec 2026 18:02:39.860 # ..."): the tag's length
 *  and first byte, and the time's width; undefined for any other template. */
export function pidTagTimeLayout(t: { fixed: readonly string[]; fields: readonly { kind: string; width: number }[] }): { sep: string; tag: number; time: number } | undefined {
  const [f0, f1] = t.fields;
  if (t.fields.length !== 2 || f0!.kind !== 'pid' || f1!.kind !== 'time' || t.fixed[0] !== '' || !t.fixed[1] || t.fixed[1].length > 4) return undefined;
  return { sep: t.fixed[1][0]!, tag: t.fixed[1].length, time: f1!.width };
}

/**
 * One guard pair for every log line of that layout: the leader's line has the separator a few
 * bytes in; the follower's has the same tag and the same message after the time (compared as
 * slices of both), whatever its pid and time.
 */
export function pidTagTimeRule(name: string, fd: string, lay: { sep: string; tag: number; time: number }): string {
  const c = JSON.stringify(lay.sep);
  const at = (v: string): string => `${v}.indexOf(${c})`;
  const near = (v: string): string => `${at(v)} > 0 && ${at(v)} < 12`;
  const tag = (v: string): string => `${v}.slice(${at(v)}, ${at(v)} + ${lay.tag})`;
  const rest = (v: string): string => `${v}.slice(${at(v)} + ${lay.tag + lay.time})`;
  return `${name}(${fd}, s, _) if (${near('s')} && s.length > ${at('s')} + ${lay.tag + lay.time}) => ${name}(${fd}, t, n) if (${near('t')} && ${tag('t')} == ${tag('s')} && ${rest('t')} == ${rest('s')}) -> do { ret = n; }`;
}
