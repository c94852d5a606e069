// A minimal RESP2 (Redis protocol) client for the tests that run redis-server: one request at a
// time per connection (test/runtime-redis.test.ts, test/matrix.test.ts).
import { connect, type Socket } from 'node:net';

export type Reply = string | number | null | Reply[] | { error: string };

/** A minimal RESP2 client: one request at a time per connection. */
export class Resp {
  private buf = Buffer.alloc(0);
  private waiting: ((r: Reply) => void) | undefined;
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.drain();
    });
  }
  static open(port: number): Promise<Resp> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new Resp(s)));
      s.once('error', reject);
    });
  }
  private parse(at: number): [Reply, number] | undefined {
    const eol = this.buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const type = String.fromCharCode(this.buf[at]!);
    const line = this.buf.toString('utf8', at + 1, eol);
    const next = eol + 2;
    if (type === '+') return [line, next];
    if (type === '-') return [{ error: line }, next];
    if (type === ':') return [Number(line), next];
    if (type === '$') {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (this.buf.length < next + n + 2) return undefined;
      return [this.buf.toString('utf8', next, next + n), next + n + 2];
    }
    if (type === '*') {
      const n = Number(line);
      const items: Reply[] = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const r = this.parse(pos);
        if (!r) return undefined;
        items.push(r[0]);
        pos = r[1];
      }
      return [items, pos];
    }
    throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
  private drain(): void {
    if (!this.waiting) return;
    const r = this.parse(0);
    if (!r) return;
    this.buf = this.buf.subarray(r[1]);
    const w = this.waiting;
    this.waiting = undefined;
    w(r[0]);
  }
  call(...args: string[]): Promise<Reply> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
  }
  close(): void {
    this.sock.destroy();
  }
}
