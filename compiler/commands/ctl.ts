// `mvrc ctl SOCK status [--json]`: asks a running monitor (started by `mvrc run --control SOCK`)
// for its status and prints it human-readable or as JSON.
import { connect } from 'node:net';
import path from 'node:path';
import { EXIT_OK, EXIT_USAGE, UsageError, type CliIO } from './types.ts';

export interface MonitorStatus {
  stage: string;
  leader: { pid: number; state: string };
  follower: { pid: number; state: string } | null;
  events: { recorded: number; consumed: number };
  /** Leader threads and child processes being followed, the main thread included. */
  threads: number;
  ring: { size: number; used: number; leaderWaitMs: number };
  retirements: { pid: number; reason: string; event: number; report: string }[];
}

const LIFECYCLE = new Set(['update', 'promote', 'commit', 'rollback']);

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
  for (const r of st.retirements) {
    lines.push(`  pid ${r.pid}: ${r.reason} at leader event #${r.event}`);
    for (const l of r.report.trimEnd().split('\n')) lines.push(`  ${l}`);
  }
  return lines.join('\n') + '\n';
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const json = args.includes('--json');
  const pos = args.filter((a) => a !== '--json');
  const bad = pos.find((a) => a.startsWith('-'));
  if (bad) throw new UsageError(`unknown option '${bad}'`);
  if (pos.length !== 2) throw new UsageError('expected a socket path and a command');
  const [sock, cmd] = pos as [string, string];
  if (LIFECYCLE.has(cmd)) {
    io.stderr(`mvrc ctl: error: '${cmd}' is not supported by this runtime yet (only 'status')\n`);
    return EXIT_USAGE;
  }
  if (cmd !== 'status') throw new UsageError(`unknown command '${cmd}' (expected status)`);
  let reply: string;
  try {
    reply = await query(path.resolve(io.cwd, sock), 'status');
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
