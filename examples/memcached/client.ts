// A checked memcached client for the update example (examples/memcached/update.ts) and its test:
// bulk loads keys, runs concurrent clients whose every answer is checked against an exact model,
// and reads every loaded key back. Speaks memcached's text protocol over a plain socket (no client
// library: the answers must be checked byte for byte, and a library's retries would hide a failed
// request).
import { connect, type Socket } from 'node:net';
import type { LoadResult, Server } from '../lib/update.ts';

/** A reply: the status line, or for a retrieval the values found (key -> data). */
export type McReply = { line: string } | { values: Map<string, string> };

/** One connection; requests may be pipelined, replies come back in order. */
export class McConn {
  private buf: Buffer = Buffer.alloc(0);
  /** Each waiting request, and whether its reply is a retrieval (VALUE ... END). */
  private waiting: { get: boolean; resolve: (r: McReply) => void; reject: (e: Error) => void }[] = [];
  private failed: Error | null = null;

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      while (this.waiting.length) {
        const parsed = parseReply(this.buf, this.waiting[0]!.get);
        if (!parsed) break;
        this.buf = this.buf.subarray(parsed.end);
        this.waiting.shift()!.resolve(parsed.reply);
      }
    });
    const fail = (e: Error) => {
      this.failed ??= e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('connection closed by the server')));
  }

  static open(port: number, host = '127.0.0.1'): Promise<McConn> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host });
      s.setNoDelay(true);
      s.once('connect', () => resolve(new McConn(s)));
      s.once('error', reject);
    });
  }

  private send(text: string, get: boolean): Promise<McReply> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiting.push({ get, resolve, reject });
      this.sock.write(text);
    });
  }

  set(key: string, value: string): Promise<McReply> {
    return this.send(`set ${key} 0 0 ${Buffer.byteLength(value)}\r\n${value}\r\n`, false);
  }
  /** One key or several in one request: a reply with the values found. */
  get(...keys: string[]): Promise<McReply> {
    return this.send(`get ${keys.join(' ')}\r\n`, true);
  }
  /** Any other one-line command (incr, decr, delete, version, ...). */
  command(line: string): Promise<McReply> {
    return this.send(`${line}\r\n`, false);
  }

  close(): void {
    this.sock.destroy();
  }
}

/** One reply from the start of `b`, or null when it is not complete yet. */
function parseReply(b: Buffer, get: boolean): { reply: McReply; end: number } | null {
  if (!get) {
    const eol = b.indexOf('\r\n');
    return eol < 0 ? null : { reply: { line: b.toString('utf8', 0, eol) }, end: eol + 2 };
  }
  const values = new Map<string, string>();
  let at = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', at);
    if (eol < 0) return null;
    const line = b.toString('utf8', at, eol);
    if (line === 'END') return { reply: { values }, end: eol + 2 };
    const m = /^VALUE (\S+) \d+ (\d+)$/.exec(line);
    // An error line (ERROR, SERVER_ERROR ...) instead of the values: the reply is that line.
    if (!m) return { reply: { line }, end: eol + 2 };
    const n = Number(m[2]);
    if (b.length < eol + 2 + n + 2) return null;
    values.set(m[1]!, b.toString('utf8', eol + 2, eol + 2 + n));
    at = eol + 2 + n + 2;
  }
}

/** The value a retrieval of one key found (null: none), or the error line it got instead. */
function valueOf(r: McReply, key: string): string | null | { line: string } {
  return 'values' in r ? (r.values.get(key) ?? null) : r;
}

export const bulkKey = (i: number): string => `key:${i}`;
export const bulkValue = (i: number): string => `value-${i}-${(i * 2654435761) >>> 0}`;

/** Sets key:0..n-1 in pipelined windows; throws on any answer but STORED. */
export async function loadKeys(port: number, n: number, window = 256): Promise<void> {
  const c = await McConn.open(port);
  try {
    for (let i = 0; i < n; i += window) {
      const batch: Promise<McReply>[] = [];
      for (let j = i; j < Math.min(n, i + window); j++) batch.push(c.set(bulkKey(j), bulkValue(j)));
      for (const [k, r] of (await Promise.all(batch)).entries())
        if (!('line' in r) || r.line !== 'STORED') throw new Error(`set ${bulkKey(i + k)} answered ${JSON.stringify(r)}`);
    }
  } finally {
    c.close();
  }
}

/** Gets key:0..n-1 and lists every key whose value is not the one loaded (lost or wrong). */
export async function checkKeys(port: number, n: number, window = 256): Promise<string[]> {
  const c = await McConn.open(port);
  const bad: string[] = [];
  try {
    for (let i = 0; i < n; i += window) {
      const batch: Promise<McReply>[] = [];
      for (let j = i; j < Math.min(n, i + window); j++) batch.push(c.get(bulkKey(j)));
      for (const [k, r] of (await Promise.all(batch)).entries()) {
        const v = valueOf(r, bulkKey(i + k));
        if (v !== bulkValue(i + k) && bad.length < 20) bad.push(`${bulkKey(i + k)}: ${JSON.stringify(v)}`);
      }
    }
  } finally {
    c.close();
  }
  return bad;
}


/**
 * `clients` concurrent connections, each making `requests` requests one at a time, mixing set,
 * get, incr, delete, append and a multi-key get on keys of its own (so the model is exact),
 * checked against that model. A client whose connection fails counts its remaining requests as
 * errors.
 */
export async function runLoad(port: number, clients: number, requests: number, tag: string): Promise<LoadResult> {
  const res: LoadResult = { answered: 0, errors: [], wrong: [], latencies: [] };
  await Promise.all(
    Array.from({ length: clients }, async (_, ci) => {
      const model = new Map<string, string>();
      let c: McConn;
      try {
        c = await McConn.open(port);
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
          let what: string;
          let send: () => Promise<McReply>;
          let check: (got: McReply) => string | null; // null: right; else what was expected
          const line = (want: string) => (got: McReply) => ('line' in got && got.line === want ? null : want);
          if (op === 0) {
            const v = `v${next()}`;
            what = `set ${key} ${v}`;
            send = () => c.set(key, v);
            check = line('STORED');
            model.set(key, v);
          } else if (op === 1) {
            what = `get ${key}`;
            send = () => c.get(key);
            const want = cur ?? null;
            check = (got) => (JSON.stringify(valueOf(got, key)) === JSON.stringify(want) ? null : JSON.stringify(want));
          } else if (op === 2 && (cur === undefined || /^\d+$/.test(cur))) {
            what = `incr ${key} 3`;
            send = () => c.command(`incr ${key} 3`);
            const want = cur === undefined ? 'NOT_FOUND' : String(Number(cur) + 3);
            if (cur !== undefined) model.set(key, want);
            check = line(want);
          } else if (op === 3) {
            what = `delete ${key}`;
            send = () => c.command(`delete ${key}`);
            check = line(cur === undefined ? 'NOT_FOUND' : 'DELETED');
            model.delete(key);
          } else if (op === 4) {
            // A number to count up from, or text added at the end of what is there.
            if (cur === undefined) {
              const v = String(next() % 1000);
              what = `set ${key} ${v}`;
              send = () => c.set(key, v);
              check = line('STORED');
              model.set(key, v);
            } else {
              const v = `+${next() % 100}`;
              what = `append ${key} ${v}`;
              send = () => c.command(`append ${key} 0 0 ${v.length}\r\n${v}`);
              check = line('STORED');
              model.set(key, cur + v);
            }
          } else {
            const other = `${tag}:c${ci}:k${next() % 8}`;
            what = `get ${key} ${other}`; // both values in one reply
            send = () => c.get(key, other);
            const want = [model.get(key) ?? null, model.get(other) ?? null];
            check = (got) => {
              const have = [valueOf(got, key), valueOf(got, other)];
              return JSON.stringify(have) === JSON.stringify(want) ? null : JSON.stringify(want);
            };
          }
          const t0 = performance.now();
          let got: McReply;
          try {
            got = await send();
          } catch (e) {
            res.errors.push(`client ${ci} request ${r} ${what}: ${(e as Error).message}`);
            return;
          }
          res.latencies.push(performance.now() - t0);
          res.answered++;
          const want = check(got);
          if (want !== null && res.wrong.length < 20) res.wrong.push(`${what}: expected ${want}, got ${JSON.stringify('line' in got ? got.line : [...got.values])}`);
        }
      } finally {
        c.close();
      }
    }),
  );
  return res;
}

/** The checked client as examples/lib/update.ts drives it. */
export const memcached: Server = {
  name: 'memcached',
  async ping(port) {
    const c = await McConn.open(port);
    try {
      const r = await c.command('version');
      return 'line' in r && r.line.startsWith('VERSION ');
    } finally {
      c.close();
    }
  },
  loadKeys,
  checkKeys,
  runLoad,
};
