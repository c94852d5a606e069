// Client side of the example key-value servers (examples/kv): start a server, drive it with
// concurrent random traffic checked against an exact model of the store, bulk-load keys.
// Used by the demo (scripts/demo.ts), the native kv tests and the end-to-end tests that run kv
// under `mvrc run`.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';

export interface KvServer {
  port: number;
  proc: ChildProcess;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null if killed by a signal). */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartOptions {
  /** How long to wait for the `listening on PORT` line (default 10 s). */
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const PORT_LINE = /^listening on (\d+)\s*$/;

/**
 * Spawns `bin args...` and waits for its `listening on PORT` stdout line. `--port 0` is appended
 * unless `args` already holds a `--port` (so a caller running the server under `mvrc run`
 * passes the complete command line, with `--port 0` for each version, and it is used as is).
 * Other stdout lines before the port line are ignored (a wrapper may print its own).
 */
export function startKv(bin: string, args: string[] = [], opts: StartOptions = {}): Promise<KvServer> {
  const hasPort = args.some((a) => a === '--port' || a.startsWith('--port='));
  const argv = hasPort ? args : [...args, '--port', '0'];
  const proc = spawn(bin, argv, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

  const stop = async (graceMs = 5000): Promise<number | null> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  return new Promise<KvServer>((resolve, reject) => {
    let out = '';
    let done = false;
    const finish = (e: Error | null, port?: number): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      proc.stdout!.removeListener('data', onData);
      proc.removeListener('exit', onExit);
      proc.removeListener('error', onError);
      // Keep draining stdout so that a chatty server never blocks on a full pipe.
      proc.stdout!.resume();
      if (e) {
        void stop(500);
        reject(e);
      } else {
        resolve({ port: port!, proc, stderr: () => err, stop });
      }
    };
    const onData = (d: string): void => {
      out += d;
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const m = PORT_LINE.exec(line);
        if (m) return finish(null, Number(m[1]));
      }
    };
    const onExit = (code: number | null, signal: string | null): void =>
      finish(new Error(`${bin} exited (${signal ?? `code ${code}`}) before printing its port; stderr:\n${err}`));
    const onError = (e: Error): void => finish(new Error(`cannot start ${bin}: ${e.message}`));
    const timer = setTimeout(
      () => finish(new Error(`${bin} printed no 'listening on PORT' line within ${opts.timeoutMs ?? 10000} ms; stderr:\n${err}`)),
      opts.timeoutMs ?? 10000,
    );
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', onData);
    proc.once('exit', onExit);
    proc.once('error', onError);
  });
}

/** A line-oriented connection: send raw bytes, receive answers one line at a time. */
export class LineConn {
  private buf = '';
  private lines: string[] = [];
  private waiters: { resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;
  private ended = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1'); // byte-transparent: one char per byte
    socket.setNoDelay(true);
    socket.on('data', (d: string) => {
      this.buf += d;
      // Split with a moving index and cut the buffer once: slicing the rest after every line
      // would copy a large pipelined chunk once per line.
      let start = 0;
      let nl: number;
      while ((nl = this.buf.indexOf('\n', start)) >= 0) {
        const line = this.buf.slice(start, nl);
        start = nl + 1;
        const w = this.waiters.shift();
        if (w) w.resolve(line);
        else this.lines.push(line);
      }
      if (start > 0) this.buf = this.buf.slice(start);
    });
    const fail = (e: Error): void => {
      this.failure ??= e;
      for (const w of this.waiters.splice(0)) w.reject(this.failure);
    };
    socket.on('error', fail);
    socket.on('close', () => {
      this.ended = true;
      fail(new Error(`connection closed by server${this.buf ? ` (unterminated data: ${JSON.stringify(this.buf)})` : ''}`));
    });
  }

  static open(port: number, host = '127.0.0.1'): Promise<LineConn> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host });
      s.once('connect', () => {
        s.removeListener('error', reject);
        resolve(new LineConn(s));
      });
      s.once('error', reject);
    });
  }

  /** Sends raw bytes (each char of `data` is one byte). */
  send(data: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(data, 'latin1', (e) => (e ? reject(e) : resolve()));
    });
  }

  /** The next answer line (without its "\n"); rejects after `timeoutMs` or when the connection fails. */
  nextLine(timeoutMs = 10000): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (l: string) => {
          clearTimeout(t);
          resolve(l);
        },
        reject: (e: Error) => {
          clearTimeout(t);
          reject(e);
        },
      };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Sends one request line and returns its answer. */
  async request(line: string, timeoutMs?: number): Promise<string> {
    await this.send(line + '\n');
    return this.nextLine(timeoutMs);
  }

  /** Resolves when the server has closed the connection (or after `timeoutMs`, with false). */
  waitClosed(timeoutMs = 30_000): Promise<boolean> {
    if (this.ended) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Everything received but not yet returned by nextLine: whole answer lines, then a partial one. */
  pending(): string {
    return this.lines.map((l) => `${l}\n`).join('') + this.buf;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A small deterministic PRNG (mulberry32), so that a failing load can be replayed by seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type KvType = 'string' | 'number' | 'date';

export interface LoadOptions {
  port: number;
  clients: number;
  /** Requests per client, issued one at a time (each waits for its answer). */
  requests: number;
  seed: number;
  /** Keys per client (default 32). Each client owns its keys, so the model stays exact. */
  keys?: number;
  /** Also issue PUT-<type> (valid and invalid values, unknown types) and TYPE requests. */
  typed?: boolean;
  /**
   * Which version's answers to expect (default: 'v2' when typed, else 'v1'). With 'v1', typed
   * requests must be answered `ERROR unknown command` and leave the store unchanged: what an
   * old leader answers under forward rules.
   */
  expect?: 'v1' | 'v2';
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Prefix of every key (default `c`), to keep separate runs against one server apart. */
  keyPrefix?: string;
  /** Called after each answer with the number answered so far (all clients): a caller can act
   *  once the load is under way instead of guessing how long it takes to start. */
  onAnswer?: (answered: number) => void;
}

export interface LoadResult {
  /** Requests that got an answer (right or wrong). */
  answered: number;
  /** Transport failures: connection refused/closed, timeouts (one per failed client). */
  errors: string[];
  /** Answers that differ from the model. */
  mismatches: string[];
  latenciesMs: number[];
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function word(r: () => number, min: number, max: number): string {
  const n = min + Math.floor(r() * (max - min + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[Math.floor(r() * ALNUM.length)];
  return s;
}

function randomString(r: () => number): string {
  // Values may hold spaces (a value is the rest of the line) and may be empty.
  const parts = 1 + Math.floor(r() * 3);
  return Array.from({ length: parts }, () => word(r, 0, 12)).join(' ');
}

function randomNumber(r: () => number): string {
  const sign = r() < 0.3 ? '-' : '';
  const int = String(Math.floor(r() * 1e6));
  return r() < 0.5 ? sign + int : `${sign}${int}.${Math.floor(r() * 1000)}`;
}

function randomDate(r: () => number): string {
  const y = 1900 + Math.floor(r() * 200);
  const m = 1 + Math.floor(r() * 12);
  const d = 1 + Math.floor(r() * 28);
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** Values that kv-v2 must refuse with `ERROR bad value`. */
function badValue(r: () => number, type: 'number' | 'date'): string {
  if (type === 'number') return pick(r, ['', 'abc', '1.', '.5', '--1', '1e5', '12 34', '0x10']);
  return pick(r, ['', '2024-02-30', '2023-02-29', '2024-13-01', '2024-00-10', '24-01-01', '2024/01/01', '2024-01-1']);
}

interface Stored {
  value: string;
  type: KvType;
}

/** One random request and the answer the model expects; updates the model. */
function nextRequest(
  r: () => number,
  model: Map<string, Stored>,
  keyOf: (i: number) => string,
  nkeys: number,
  typed: boolean,
  v2: boolean,
): { line: string; expect: string } {
  const key = keyOf(Math.floor(r() * nkeys));
  const x = r();
  const get = (): { line: string; expect: string } => {
    const s = model.get(key);
    return { line: `GET ${key}`, expect: s ? `VALUE ${s.value}` : 'NOTFOUND' };
  };
  if (!typed) {
    if (x < 0.45) {
      const value = randomString(r);
      model.set(key, { value, type: 'string' });
      return { line: `PUT ${key} ${value}`, expect: 'OK' };
    }
    if (x < 0.97) return get();
    return { line: pick(r, ['DEL ' + key, 'get ' + key, 'PUT ' + key, 'GET', '']), expect: 'ERROR unknown command' };
  }
  if (x < 0.2) {
    const value = randomString(r);
    model.set(key, { value, type: 'string' });
    return { line: `PUT ${key} ${value}`, expect: 'OK' };
  }
  if (x < 0.5) {
    const type = pick(r, ['string', 'number', 'date'] as const);
    const value = type === 'string' ? randomString(r) : type === 'number' ? randomNumber(r) : randomDate(r);
    const line = `PUT-${type} ${key} ${value}`;
    if (!v2) return { line, expect: 'ERROR unknown command' };
    model.set(key, { value, type });
    return { line, expect: 'OK' };
  }
  if (x < 0.58) {
    const line =
      r() < 0.3 ? `PUT-${pick(r, ['int', 'bool', 'String', ''])} ${key} 1` : `PUT-${pick(r, ['number', 'date'] as const)} ${key} ${badValue(r, pick(r, ['number', 'date'] as const))}`;
    return { line, expect: v2 ? 'ERROR bad value' : 'ERROR unknown command' };
  }
  if (x < 0.7) {
    const s = model.get(key);
    return { line: `TYPE ${key}`, expect: !v2 ? 'ERROR unknown command' : s ? `TYPE ${s.type}` : 'NOTFOUND' };
  }
  if (x < 0.97) return get();
  return { line: pick(r, ['DEL ' + key, 'TYPE', 'PUT-number ' + key, 'type ' + key]), expect: 'ERROR unknown command' };
}

/**
 * Runs `clients` concurrent connections, each issuing `requests` random requests one at a
 * time on its own keys, and checks every answer against a model of the store (per key, the last
 * PUT wins). Deterministic for a given seed (the request sequence, not the interleaving).
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const nkeys = opts.keys ?? 32;
  const typed = opts.typed ?? false;
  const v2 = (opts.expect ?? (typed ? 'v2' : 'v1')) === 'v2';
  const prefix = opts.keyPrefix ?? 'c';
  const result: LoadResult = { answered: 0, errors: [], mismatches: [], latenciesMs: [] };

  const client = async (id: number): Promise<void> => {
    const r = rng((opts.seed * 1000003 + id) >>> 0);
    const model = new Map<string, Stored>();
    const keyOf = (i: number): string => `${prefix}${id}-k${i}`;
    let conn: LineConn;
    try {
      conn = await LineConn.open(opts.port);
    } catch (e) {
      result.errors.push(`client ${id}: connect: ${(e as Error).message}`);
      return;
    }
    try {
      for (let i = 0; i < opts.requests; i++) {
        const { line, expect } = nextRequest(r, model, keyOf, nkeys, typed, v2);
        const t0 = performance.now();
        let got: string;
        try {
          got = await conn.request(line, opts.timeoutMs);
        } catch (e) {
          result.errors.push(`client ${id} request ${i} (${JSON.stringify(line)}): ${(e as Error).message}`);
          return;
        }
        result.latenciesMs.push(performance.now() - t0);
        result.answered++;
        opts.onAnswer?.(result.answered);
        if (got !== expect) {
          result.mismatches.push(`client ${id} request ${i}: sent ${JSON.stringify(line)}, expected ${JSON.stringify(expect)}, got ${JSON.stringify(got)}`);
        }
      }
    } finally {
      conn.close();
    }
  };

  await Promise.all(Array.from({ length: opts.clients }, (_, id) => client(id)));
  return result;
}

/** The key and value `loadKeys` stores for index i. */
export const bulkKey = (i: number): string => `key:${i}`;
export const bulkValue = (i: number): string => `value-${i}-${(i * 2654435761) >>> 0}`;

/**
 * Sends `lines` over one connection with pipelining: up to `window` requests in flight, written
 * in batches; calls `check(i, answer)` for each answer in order. Returns the number of answers.
 */
async function pipeline(port: number, n: number, lineOf: (i: number) => string, check: (i: number, answer: string) => void, window = 2048, timeoutMs = 30000): Promise<number> {
  const conn = await LineConn.open(port);
  try {
    let sent = 0;
    let answered = 0;
    while (answered < n) {
      // Refill when half the window is answered: few, large writes rather than one per answer.
      if (sent < n && sent - answered <= window / 2) {
        const end = Math.min(n, answered + window);
        let batch = '';
        for (; sent < end; sent++) batch += lineOf(sent) + '\n';
        await conn.send(batch);
      }
      check(answered, await conn.nextLine(timeoutMs));
      answered++;
    }
    return answered;
  } finally {
    conn.close();
  }
}

/** Stores keys bulkKey(0..n-1) with values bulkValue(i), pipelined; rejects on any answer but OK. */
export async function loadKeys(port: number, n: number, opts: { window?: number } = {}): Promise<{ loaded: number; ms: number }> {
  const t0 = performance.now();
  const loaded = await pipeline(
    port,
    n,
    (i) => `PUT ${bulkKey(i)} ${bulkValue(i)}`,
    (i, a) => {
      if (a !== 'OK') throw new Error(`PUT ${bulkKey(i)}: expected OK, got ${JSON.stringify(a)}`);
    },
    opts.window,
  );
  return { loaded, ms: performance.now() - t0 };
}

/** Reads keys bulkKey(0..n-1) back, pipelined; lists every answer that is not the loaded value. */
export async function checkKeys(port: number, n: number, opts: { window?: number; maxReported?: number } = {}): Promise<{ checked: number; mismatches: string[] }> {
  const mismatches: string[] = [];
  let bad = 0;
  const checked = await pipeline(
    port,
    n,
    (i) => `GET ${bulkKey(i)}`,
    (i, a) => {
      if (a !== `VALUE ${bulkValue(i)}`) {
        bad++;
        if (mismatches.length < (opts.maxReported ?? 20)) mismatches.push(`GET ${bulkKey(i)}: got ${JSON.stringify(a)}`);
      }
    },
    opts.window,
  );
  if (bad > mismatches.length) mismatches.push(`... and ${bad - mismatches.length} more`);
  return { checked, mismatches };
}

/** Percentile (0..100) of a list of numbers, nearest-rank; NaN for an empty list. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
