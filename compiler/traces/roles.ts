// What a trace's calls are about, beyond their numbers, for mvrc infer (compiler/traces/infer.ts):
// - the role of each descriptor argument: what it was opened from (`file:/etc/hosts`), a socket,
//   a connection accepted on a socket, a pipe, a standard stream — followed from the calls that
//   create, duplicate and close descriptors (or read from strace -y annotations), so that two calls
//   on descriptor 3 that mean different files are not taken for the same call;
// - which output bytes are file contents read from the system (not the program's own protocol
//   data: sockets, pipes, standard input), and the secrets a trace shows (the environment in
//   /proc/self/environ, /etc/shadow, keys, tokens): infer never copies them into rules.
import { syscallByNr } from '../syscalls/lookup.ts';
import { paramsOf, returnsFdOf } from '../syscalls/meaning.ts';
import type { Trace } from './trace.ts';

/** Files whose contents are secrets: the environment, password hashes, keys, tokens, credentials. */
const SECRET_PATH = /(?:^|\/)(?:environ|shadow|gshadow|master\.passwd|\.netrc|\.pgpass|\.git-credentials|credentials(?:\.json)?|\.npmrc|\.pypirc|authorized_keys|id_(?:rsa|dsa|ecdsa|ed25519)[^/]*)$|\.(?:pem|key|p12|pfx|keytab|kdb|jks)$|(?:^|\/)(?:\.ssh|\.gnupg|secrets?|private)\/|token|secret|passw/i;

/** Whether the file at `path` holds secrets (its contents are never copied into rules). */
export function isSecretPath(path: string): boolean {
  return SECRET_PATH.test(path);
}

/** What a trace's calls are about (analyzeTrace). Events are keyed by their offset in the file. */
export interface TraceMeaning {
  /** The roles of an event's descriptor arguments, by position. */
  roles: Map<number, (string | undefined)[]>;
  /** Events whose output bytes are the contents of a file, with the file's path. */
  fileData: Map<number, string>;
  /** Pieces of secrets the trace shows (values of environment variables, lines of key files):
   *  any literal that holds one is redacted. */
  secrets: Uint8Array[];
}

/** `TCP:[127.0.0.1:80->...]` -> `TCP`, `socket:[1234]` -> `socket`, `/dev/pts/0<char 136:0>` -> `/dev/pts/0`. */
function annotationRole(a: string): string {
  const bracket = a.indexOf(':[');
  if (bracket > 0) return a.slice(0, bracket);
  const lt = a.indexOf('<');
  const path = lt > 0 ? a.slice(0, lt) : a;
  return path.startsWith('/') ? `file:${path}` : path;
}

const STD = ['stdin', 'stdout', 'stderr'];

/** Pieces of a secret file's contents worth looking for in literals (8 bytes or more, or an
 *  environment variable's value of 4 or more). */
function secretPieces(path: string, data: Uint8Array, out: Uint8Array[]): void {
  const env = /environ$/.test(path);
  let start = 0;
  for (let i = 0; i <= data.length; i++) {
    const c = i < data.length ? data[i]! : 0;
    if (c !== 0 && c !== 10) continue;
    let piece = data.subarray(start, i);
    start = i + 1;
    if (env) {
      const eq = piece.indexOf(61); // NAME=value: the value
      if (eq >= 0) piece = piece.subarray(eq + 1);
      if (piece.length >= 4) out.push(piece);
    } else if (piece.length >= 8) out.push(piece);
  }
}

/**
 * Follows the descriptors of a trace, in file order (the threads of a process share them; a child
 * process starts with its parent's, so one table serves the trace).
 */
export function analyzeTrace(trace: Trace): TraceMeaning {
  const table = new Map<bigint, string>(STD.map((r, i) => [BigInt(i), r]));
  const m: TraceMeaning = { roles: new Map(), fileData: new Map(), secrets: [] };
  const events = [...trace.events].sort((a, b) => a.span.offset - b.span.offset);
  for (const e of events) {
    const sc = syscallByNr(e.nr);
    if (!sc) continue;
    const ps = paramsOf(sc, e.args);
    const roles: (string | undefined)[] = [];
    let fdRole: string | undefined;
    for (let j = 0; j < sc.arity; j++) {
      if (ps[j]?.kind !== 'fd' && sc.params[j]?.kind !== 'fd') continue;
      const v = e.args[j] ?? 0n;
      const shown = e.fdPaths?.[j];
      const role = v === -100n ? 'cwd' : shown !== undefined ? annotationRole(shown) : (table.get(v) ?? `fd:${v}`);
      roles[j] = role;
      if (j === sc.fdParam || (fdRole === undefined && sc.fdParam === undefined)) fdRole = role;
    }
    if (roles.length) m.roles.set(e.span.offset, roles);
    const ok = !e.noRet && e.ret >= 0n;
    // Output bytes read from a file: its contents, not protocol data.
    if (ok && fdRole?.startsWith('file:') && !/^file:\/dev\//.test(fdRole)) {
      for (let j = 0; j < sc.arity; j++) {
        const b = e.bufs[j];
        if (ps[j]?.kind !== 'out_bytes' || !b) continue;
        const path = fdRole.slice(5);
        m.fileData.set(e.span.offset, path);
        if (isSecretPath(path)) secretPieces(path, b, m.secrets);
      }
    }
    if (!ok) continue;
    // Descriptors created, duplicated, closed.
    if (sc.name === 'close') table.delete(e.args[0] ?? -1n);
    if (returnsFdOf(sc, e.args)) {
      const shown = e.fdPaths?.[6];
      let role: string;
      const pathAt = ps.findIndex((p) => p?.kind === 'path');
      if (shown !== undefined) role = annotationRole(shown);
      else if (pathAt >= 0 && e.bufs[pathAt]) role = `file:${Buffer.from(e.bufs[pathAt]!).toString('latin1')}`;
      else if (/^(dup[23]?|fcntl)$/.test(sc.name)) role = roles[0] ?? `fd:${e.args[0]}`;
      else if (/^accept4?$/.test(sc.name)) role = `conn:${roles[0] ?? '?'}`;
      else if (sc.name === 'socket') role = `socket:${e.args[0]}:${BigInt.asUintN(32, e.args[1] ?? 0n) & 0xffn}`;
      else role = sc.name;
      table.set(e.ret, role);
    }
    if (typeof sc.newFds === 'number') {
      const b = e.bufs[sc.newFds];
      if (b && b.length >= 8) {
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        for (const k of [0, 4]) table.set(BigInt(dv.getInt32(k, true)), sc.name);
      }
    }
  }
  return m;
}

/** Whether `bytes` holds one of the secrets. */
export function holdsSecret(bytes: Uint8Array, secrets: readonly Uint8Array[]): boolean {
  if (secrets.length === 0 || bytes.length === 0) return false;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return secrets.some((s) => s.length <= b.length && b.indexOf(s) >= 0);
}
