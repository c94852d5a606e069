// `mvrc ctl SOCK COMMAND [--json]`: talks to a running monitor (started by `mvrc run --control SOCK`).
//
//   mvrc ctl SOCK status [--json]
//   mvrc ctl SOCK update [--rules F] [--back B] [--state replay|handoff] [--retries N] [--env K=V]... [--json] -- NEW_CMD...
//   mvrc ctl SOCK promote|commit|rollback [--json]
//
// Exit status: 0 done, 1 refused by the monitor (wrong stage, failed switch), 2 usage error or
// monitor unreachable. The lifecycle is described in docs/lifecycle.md.
import { didYouMean } from '../core/suggest.ts';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EXIT_OK, EXIT_USAGE, UsageError, type CliIO } from './types.ts';

export interface TimelineEntry {
  timeMs: number;
  event: string;
  stage: string;
  reason: string;
}

export interface MonitorStatus {
  stage: string;
  /** Which version leads: 'old' (outdated leader), 'new' (updated leader) or 'single'. */
  leads?: string;
  leader: { pid: number; state: string; version?: number };
  follower: { pid: number; state: string; version?: number } | null;
  events: { recorded: number; consumed: number };
  /** Leader threads and child processes being followed, the main thread included. */
  threads: number;
  ring: { size: number; used: number; leaderWaitMs: number };
  retirements: { pid: number; reason: string; event: number; report: string }[];
  journal?: { enabled: boolean; valid: boolean; limit: number; used: number; descriptors: number; exceededAtEvent: number; endedByHandoff?: boolean; endedBySpace?: boolean; disk?: number; file?: string | null };
  catchUp?: { target: number; done: boolean; ms: number; eventsPerSec: number } | null;
  update?: { attempt: number; retries: number };
  timeline?: TimelineEntry[];
}

/** The monitor's answer to update/promote/commit/rollback. */
export interface ControlReply {
  ok: boolean;
  message?: string;
  error?: string;
  stage: string;
}

const LIFECYCLE = new Set(['update', 'promote', 'commit', 'rollback']);

/** Percent-encodes one word of a control line (no raw space, newline or '%' survives); the same
 *  bytes as the runtime's runtime-c/common/mvr_pct.c (test/pct.test.ts). */
export function encodeWord(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b <= 0x20 || b >= 0x7f || b === 0x25 ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
  }
  return out;
}

/** Sends one command line to the control socket and returns the reply (one JSON line). */
export function query(sock: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer from ${sock} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${command}\n`));
    s.on('data', (d: string) => (data += d));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('end', () => {
      clearTimeout(timer);
      resolve(data);
    });
  });
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatStatus(st: MonitorStatus): string {
  const lines = [
    `stage:       ${st.stage}`,
    `leader:      pid ${st.leader.pid} (${st.leader.state})`,
    `follower:    ${st.follower ? `pid ${st.follower.pid} (${st.follower.state})` : 'none'}`,
    `events:      ${st.events.recorded} recorded, ${st.events.consumed} consumed` +
      (st.threads > 1 ? ` (${st.threads} task pairs: threads and child processes)` : ''),
    `ring:        ${bytes(st.ring.used)} used of ${bytes(st.ring.size)}; the leader waited ${st.ring.leaderWaitMs} ms for space`,
    `retirements: ${st.retirements.length === 0 ? 'none' : st.retirements.length}`,
  ];
  if (st.leader.version !== undefined) {
    lines[1] += ` version ${st.leader.version}`;
    if (st.follower?.version) lines[2] += ` version ${st.follower.version}`;
  }
  if (st.journal?.enabled)
    lines.push(`journal:     ${st.journal.valid ? `${bytes(st.journal.used)} of ${bytes(st.journal.limit)}` : st.journal.endedByHandoff ? 'ended at a handoff (a replay is no longer possible; a handoff is)' : st.journal.endedBySpace ? `ended at event #${st.journal.exceededAtEvent}: no room left in the state directory (--journal-min-free)` : `bound exceeded at event #${st.journal.exceededAtEvent}`}${st.journal.file ? `; ${bytes(st.journal.disk ?? 0)} on disk in ${st.journal.file}` : ''}`);
  if (st.catchUp)
    lines.push(`catch-up:    ${st.catchUp.done ? 'done' : 'in progress'}, ${st.catchUp.target} journal events, ${st.catchUp.ms} ms (${st.catchUp.eventsPerSec} events/s)`);
  for (const r of st.retirements) {
    lines.push(`  pid ${r.pid}: ${r.reason} at leader event #${r.event}`);
    for (const l of r.report.trimEnd().split('\n')) lines.push(`  ${l}`);
  }
  if (st.timeline && st.timeline.length > 0) {
    lines.push('timeline:');
    for (const t of st.timeline) lines.push(`  ${new Date(t.timeMs).toISOString()} ${t.event}: ${t.reason}`);
  }
  return lines.join('\n') + '\n';
}

interface UpdateArgs {
  rules?: string;
  back?: string;
  state?: string;
  retries?: number;
  env: string[];
  command: string[];
}

function parseUpdate(args: string[]): UpdateArgs {
  const u: UpdateArgs = { env: [], command: [] };
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      u.command = args.slice(i + 1);
      break;
    }
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const names = ['--rules', '--back', '--state', '--retries', '--env'];
    if (!names.includes(name)) {
      const hint = didYouMean(name, names);
      throw new UsageError(`update: unknown option '${a}'${hint ? `; ${hint}` : ''}`);
    }
    let v: string;
    if (name !== a) v = a.slice(eq + 1);
    else {
      if (i + 1 >= args.length) throw new UsageError(`${a} needs a value`);
      v = args[++i]!;
    }
    if (name === '--rules') u.rules = v;
    else if (name === '--back') u.back = v;
    else if (name === '--state') {
      if (!['replay', 'start', 'handoff'].includes(v)) throw new UsageError(`--state expects replay or handoff, got '${v}'`);
      u.state = v;
    } else if (name === '--retries') {
      if (!/^\d+$/.test(v) || Number(v) > 100) throw new UsageError(`--retries expects a number 0..100, got '${v}'`);
      u.retries = Number(v);
    } else {
      if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) throw new UsageError(`--env expects NAME=VALUE, got '${v}'`);
      u.env.push(v);
    }
  }
  if (u.command.length === 0) throw new UsageError("update needs the new version's command after '--'");
  return u;
}

/** The control line for `update` (rules built to .so, paths made absolute). */
async function updateLine(u: UpdateArgs, io: CliIO): Promise<string | null> {
  const { buildRules } = await import('./run.ts');
  const abs = (p: string): string => path.resolve(io.cwd, p);
  let dir: string | undefined;
  const build = async (file: string, sub: string): Promise<string | null> => {
    dir ??= mkdtempSync(path.join(tmpdir(), 'mvrc-update-'));
    const so = await buildRules(abs(file), dir, io, sub);
    return so === null ? null : path.resolve(so);
  };
  const words = ['update'];
  if (u.rules) {
    const so = await build(u.rules, 'rules');
    if (so === null) return null;
    words.push(`rules=${so}`);
  } else {
    // No rules: the new version runs the empty rule file's module (empty-rules.ts).
    const so = (await import('./empty-rules.ts')).buildEmptyRules(io);
    if (so === null) return null;
    words.push(`rules=${so}`);
  }
  if (u.back) {
    const so = await build(u.back, 'back');
    if (so === null) return null;
    words.push(`back=${so}`);
  }
  if (u.state) words.push(`state=${u.state}`);
  if (u.retries !== undefined) words.push(`retries=${u.retries}`);
  for (const e of u.env) words.push(`env=${e}`);
  words.push('--');
  const cmd = [...u.command];
  if (cmd[0]!.includes('/')) cmd[0] = abs(cmd[0]!);
  words.push(...cmd);
  return words.map(encodeWord).join(' ');
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const dd = args.indexOf('--');
  const head = dd < 0 ? args : args.slice(0, dd);
  const json = head.includes('--json');
  const rest = [...head.filter((a) => a !== '--json'), ...(dd < 0 ? [] : args.slice(dd))];
  if (rest.length < 2 || rest[0]!.startsWith('-') || rest[1]!.startsWith('-')) throw new UsageError('expected a socket path and a command');
  const [sock, cmd] = rest as [string, string];
  const sockPath = path.resolve(io.cwd, sock);
  if (LIFECYCLE.has(cmd)) {
    let line: string;
    if (cmd === 'update') {
      const l = await updateLine(parseUpdate(rest.slice(2)), io);
      if (l === null) return EXIT_USAGE;
      line = l;
    } else {
      if (rest.length > 2) throw new UsageError(`'${cmd}' takes no arguments, got '${rest[2]}'`);
      line = cmd;
    }
    let text: string;
    try {
      // A promotion or rollback answers once the switch is done (bounded by the monitor's deadline).
      text = await query(sockPath, line, 60_000);
    } catch (e) {
      io.stderr(`mvrc ctl: error: cannot reach the monitor at ${sock}: ${(e as Error).message}\n`);
      return EXIT_USAGE;
    }
    let r: ControlReply;
    try {
      r = JSON.parse(text) as ControlReply;
    } catch {
      io.stderr(`mvrc ctl: error: the monitor sent an unreadable answer${text ? '' : ' (none)'}\n`);
      return EXIT_USAGE;
    }
    if (json) io.stdout(`${JSON.stringify(r)}\n`);
    if (!r.ok) {
      if (!json) io.stderr(`mvrc ctl: ${cmd} refused: ${r.error ?? 'unknown error'} (stage: ${r.stage})\n`);
      return 1;
    }
    if (!json) io.stdout(`${cmd}: ${r.message ?? 'done'}\nstage: ${r.stage}\n`);
    return EXIT_OK;
  }
  if (cmd !== 'status') {
    const hint = didYouMean(cmd, ['status', ...LIFECYCLE]);
    throw new UsageError(`unknown command '${cmd}'${hint ? `; ${hint}` : ''} (expected status, update, promote, commit or rollback)`);
  }
  if (rest.length > 2) throw new UsageError(`'status' takes no arguments, got '${rest[2]}'`);
  let reply: string;
  try {
    reply = await query(sockPath, 'status');
  } catch (e) {
    io.stderr(`mvrc ctl: error: cannot reach the monitor at ${sock}: ${(e as Error).message}\n`);
    return EXIT_USAGE;
  }
  let st: MonitorStatus & { error?: string };
  try {
    st = JSON.parse(reply) as MonitorStatus & { error?: string };
  } catch {
    io.stderr(`mvrc ctl: error: the monitor sent an unreadable answer\n`);
    return EXIT_USAGE;
  }
  if (st.error) {
    io.stderr(`mvrc ctl: error: the monitor refused: ${st.error}\n`);
    return EXIT_USAGE;
  }
  io.stdout(json ? `${JSON.stringify(st)}\n` : formatStatus(st));
  return EXIT_OK;
}
