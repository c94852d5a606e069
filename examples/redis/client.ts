// A checked Redis client for the update examples (examples/redis/update.ts) and their tests: bulk
// loads keys, runs concurrent clients whose every answer is checked against an exact model, and
// reads every loaded key back. Speaks RESP2 over a plain socket (no client library: the answers
// must be checked byte for byte, and a library's retries would hide a failed request).
import { connect, type Socket } from 'node:net';
import type { LoadResult, Server } from '../lib/update.ts';

export type { LoadResult };

type Reply = string | number | null | { error: string } | Reply[];

/** One connection; requests may be pipelined, replies come back in order. */
export class RespConn {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private failed: Error | null = null;

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      for (;;) {
        const parsed = parseReply(this.buf, 0);
        if (!parsed) break;
        this.buf = this.buf.subarray(parsed.end);
        this.waiting.shift()?.resolve(parsed.reply);
      }
    });
    const fail = (e: Error) => {
      this.failed ??= e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('connection closed by the server')));
  }

  static open(port: number, host = '127.0.0.1'): Promise<RespConn> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host });
      s.setNoDelay(true);
      s.once('connect', () => resolve(new RespConn(s)));
      s.once('error', reject);
    });
  }

  request(...args: string[]): Promise<Reply> {
    if (this.failed) return Promise.reject(this.failed);
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.sock.write(out);
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

/** One reply from `b` at `at`, or null when it is not complete yet. */
function parseReply(b: Buffer, at: number): { reply: Reply; end: number } | null {
  const eol = b.indexOf('\r\n', at);
  if (eol < 0) return null;
  const line = b.toString('utf8', at + 1, eol);
  switch (String.fromCharCode(b[at]!)) {
    case '+': return { reply: line, end: eol + 2 };
    case '-': return { reply: { error: line }, end: eol + 2 };
    case ':': return { reply: Number(line), end: eol + 2 };
    case '$': {
      const n = Number(line);
      if (n < 0) return { reply: null, end: eol + 2 };
      if (b.length < eol + 2 + n + 2) return null;
      return { reply: b.toString('utf8', eol + 2, eol + 2 + n), end: eol + 2 + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { reply: null, end: eol + 2 };
      const items: Reply[] = [];
      let end = eol + 2;
      for (let i = 0; i < n; i++) {
        const r = parseReply(b, end);
        if (!r) return null;
        items.push(r.reply);
        end = r.end;
      }
      return { reply: items, end };
    }
    default: throw new Error(`not a RESP reply: ${JSON.stringify(b.toString('utf8', at, Math.min(b.length, at + 40)))}`);
  }
}

export const bulkKey = (i: number): string => `key:${i}`;
export const bulkValue = (i: number): string => `value-${i}-${(i * 2654435761) >>> 0}`;

/** SETs key:0..n-1 in pipelined windows; throws on any answer but OK. */
export async function loadKeys(port: number, n: number, window = 256): Promise<void> {
  const c = await RespConn.open(port);
  try {
    for (let i = 0; i < n; i += window) {
      const batch: Promise<Reply>[] = [];
      for (let j = i; j < Math.min(n, i + window); j++) batch.push(c.request('SET', bulkKey(j), bulkValue(j)));
      for (const [k, r] of (await Promise.all(batch)).entries())
        if (r !== 'OK') throw new Error(`SET ${bulkKey(i + k)} answered ${JSON.stringify(r)}`);
    }
  } finally {
    c.close();
  }
}

/** GETs key:0..n-1 and lists every key whose value is not the one loaded (lost or wrong). */
export async function checkKeys(port: number, n: number, window = 256): Promise<string[]> {
  const c = await RespConn.open(port);
  const bad: string[] = [];
  try {
    for (let i = 0; i < n; i += window) {
      const batch: Promise<Reply>[] = [];
      for (let j = i; j < Math.min(n, i + window); j++) batch.push(c.request('GET', bulkKey(j)));
      for (const [k, r] of (await Promise.all(batch)).entries())
        if (r !== bulkValue(i + k) && bad.length < 20) bad.push(`${bulkKey(i + k)}: ${JSON.stringify(r)}`);
    }
  } finally {
    c.close();
  }
  return bad;
}


/**
 * `clients` concurrent connections, each making `requests` requests one at a time, mixing SET,
 * GET, INCR, DEL, APPEND and LPUSH/LLEN on keys of its own (so the model is exact), checked
 * against that model. A client whose connection fails counts its remaining requests as errors.
 */
export async function runLoad(port: number, clients: number, requests: number, tag: string): Promise<LoadResult> {
  const res: LoadResult = { answered: 0, errors: [], wrong: [], latencies: [] };
  await Promise.all(
    Array.from({ length: clients }, async (_, ci) => {
      const model = new Map<string, string | number | string[]>();
      let c: RespConn;
      try {
        c = await RespConn.open(port);
      } catch (e) {
        res.errors.push(`client ${ci}: ${(e as Error).message}`);
        return;
      }
      let seed = (ci + 1) * 7919;
      const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
      try {
        for (let r = 0; r < requests; r++) {
          const key = `${tag}:c${ci}:k${next() % 8}`;
          const op = next() % 6;
          const cur = model.get(key);
          let args: string[];
          let expect: Reply;
          if (op === 0) {
            const v = `v${next()}`;
            args = ['SET', key, v];
            expect = 'OK';
            model.set(key, v);
          } else if (op === 1) {
            args = ['GET', key];
            expect = typeof cur === 'string' ? cur : typeof cur === 'number' ? String(cur) : cur === undefined ? null : { error: 'WRONGTYPE' };
          } else if (op === 2 && (cur === undefined || typeof cur === 'number')) {
            args = ['INCR', key];
            expect = (cur ?? 0) + 1;
            model.set(key, expect);
          } else if (op === 3) {
            args = ['DEL', key];
            expect = cur === undefined ? 0 : 1;
            model.delete(key);
          } else if (op === 4 && (cur === undefined || Array.isArray(cur))) {
            const v = `e${next() % 100}`;
            args = ['LPUSH', key, v];
            const list = [v, ...((cur as string[] | undefined) ?? [])];
            model.set(key, list);
            expect = list.length;
          } else {
            args = ['EXISTS', key];
            expect = cur === undefined ? 0 : 1;
          }
          const t0 = performance.now();
          let got: Reply;
          try {
            got = await c.request(...args);
          } catch (e) {
            res.errors.push(`client ${ci} request ${r} ${args.join(' ')}: ${(e as Error).message}`);
            return;
          }
          res.latencies.push(performance.now() - t0);
          res.answered++;
          const ok =
            typeof expect === 'object' && expect !== null && 'error' in expect
              ? typeof got === 'object' && got !== null && 'error' in got && got.error.startsWith(expect.error)
              : JSON.stringify(got) === JSON.stringify(expect);
          if (!ok && res.wrong.length < 20) res.wrong.push(`${args.join(' ')}: expected ${JSON.stringify(expect)}, got ${JSON.stringify(got)}`);
        }
      } finally {
        c.close();
      }
    }),
  );
  return res;
}

/** The checked client as examples/lib/update.ts drives it. */
export const redis: Server = {
  name: 'redis',
  async ping(port) {
    const c = await RespConn.open(port);
    try {
      return (await c.request('PING')) === 'PONG';
    } finally {
      c.close();
    }
  },
  loadKeys,
  checkKeys,
  runLoad,
};
