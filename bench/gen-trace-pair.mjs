#!/usr/bin/env node
// Writes a pair of strace-style traces of a kv-like server (what `strace -f -s 4096 -xx -o FILE`
// writes), N requests each: accept, then per request a read of the request and a write of the
// reply. The follower's replies equal the leader's, except that with --diverge-at K the follower's
// K-th reply differs (a divergence verify must find). Used by bench/verify-bench.mjs and infer's.
//   node bench/gen-trace-pair.mjs OUT_DIR [--events N] [--diverge-at K] [--pid P]
import { createWriteStream } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const dir = args[0];
if (!dir) {
  console.error('usage: node bench/gen-trace-pair.mjs OUT_DIR [--events N] [--diverge-at K]');
  process.exit(2);
}
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const events = opt('--events', 1_000_000);
const divergeAt = opt('--diverge-at', -1);
mkdirSync(dir, { recursive: true });

const hx = (s) => [...Buffer.from(s)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');

async function write(path, pid, diverge) {
  const out = createWriteStream(path);
  let buf = '';
  const put = async (line) => {
    buf += `${pid}  ${line}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise((r) => out.once('drain', r));
      buf = '';
    }
  };
  await put(`execve("./kv", ["./kv", "--port", "0"], 0x7ffd8e8b1f18 /* 20 vars */) = 0`);
  await put(`accept4(3, NULL, NULL, SOCK_CLOEXEC) = 5`);
  const requests = Math.max(1, Math.floor((events - 4) / 2));
  for (let i = 0; i < requests; i++) {
    const req = `GET key${i % 1000}\n`;
    const reply = diverge && i === diverge ? 'ERR other\n' : `value${i % 1000}\n`;
    await put(`read(5, "${hx(req)}", 4096) = ${req.length}`);
    await put(`write(5, "${hx(reply)}", ${reply.length}) = ${reply.length}`);
  }
  await put('close(5) = 0');
  await put('exit_group(0) = ?');
  await put('+++ exited with 0 +++');
  out.write(buf);
  await new Promise((r) => out.end(r));
}

await write(join(dir, 'leader.strace'), opt('--pid', 4242), false);
await write(join(dir, 'follower.strace'), opt('--pid', 4242) + 1000, divergeAt >= 0 ? divergeAt : false);
console.log(`wrote ${join(dir, 'leader.strace')} and ${join(dir, 'follower.strace')}: ${events} events each${divergeAt >= 0 ? `, the follower diverging at request ${divergeAt}` : ''}`);
