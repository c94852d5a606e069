// A checked HTTP client for the nginx update example (examples/nginx/update.ts): each client keeps
// one connection (keep-alive) and checks every answer's status and body byte for byte; the "keys"
// are static files in nginx's document root, read back after the update. Node's own http module,
// one socket per client, no retries (a retry would hide a failed request).
import { Agent, request } from 'node:http';
import type { LoadResult, Server } from '../lib/update.ts';

export const fileName = (i: number): string => `f${i}.txt`;
export const fileBody = (i: number): string => `file-${i}-${(i * 2654435761) >>> 0}\n`;

function get(port: number, path: string, agent?: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The files f0..f(n-1) read back over one keep-alive connection: those not served as written. */
async function checkFiles(port: number, n: number): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const bad: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const r = await get(port, `/static/${fileName(i)}`, agent);
      if ((r.status !== 200 || r.body !== fileBody(i)) && bad.length < 20) bad.push(`${fileName(i)}: ${r.status} ${JSON.stringify(r.body.slice(0, 40))}`);
    }
  } finally {
    agent.destroy();
  }
  return bad;
}

async function runLoad(port: number, clients: number, requests: number, tag: string, files: number): Promise<LoadResult> {
  const res: LoadResult = { answered: 0, errors: [], wrong: [], latencies: [] };
  await Promise.all(
    Array.from({ length: clients }, async (_, ci) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      let seed = (ci + 1) * 7919;
      const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
      try {
        for (let r = 0; r < requests; r++) {
          const op = next() % 3;
          const i = next() % Math.max(1, files);
          // A file, a generated answer, or a missing file (404).
          const path = op === 0 ? `/static/${fileName(i)}` : op === 1 ? `/echo/${tag}-${ci}-${r}` : `/static/none-${i}`;
          const want = op === 0 ? { status: 200, body: fileBody(i) } : op === 1 ? { status: 200, body: `ok /echo/${tag}-${ci}-${r}\n` } : { status: 404, body: null };
          const t0 = performance.now();
          let got: { status: number; body: string };
          try {
            got = await get(port, path, agent);
          } catch (e) {
            res.errors.push(`client ${ci} request ${r} GET ${path}: ${(e as Error).message}`);
            return;
          }
          res.latencies.push(performance.now() - t0);
          res.answered++;
          if ((got.status !== want.status || (want.body !== null && got.body !== want.body)) && res.wrong.length < 20)
            res.wrong.push(`GET ${path}: expected ${want.status} ${JSON.stringify(want.body)}, got ${got.status} ${JSON.stringify(got.body.slice(0, 60))}`);
        }
      } finally {
        agent.destroy();
      }
    }),
  );
  return res;
}

/** The checked client as examples/lib/update.ts drives it; `files`: how many files the document root holds. */
export function nginxClient(files: number): Server {
  return {
    name: 'nginx',
    unit: 'files',
    async ping(port) {
      return (await get(port, '/echo/ping')).body === 'ok /echo/ping\n';
    },
    // The files are written before nginx starts (update.ts): there is nothing to load.
    async loadKeys() {},
    checkKeys: (port) => checkFiles(port, files),
    runLoad: (port, clients, requests, tag) => runLoad(port, clients, requests, tag, files),
  };
}
