// Process and port helpers the end-to-end server tests share.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A loopback TCP port free at the time of the call (the kernel's choice for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The pids of the live (not zombie) processes whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(e));
    } catch { /* ended meanwhile */ }
  }
  return out;
}
