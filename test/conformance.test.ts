// A conformance suite generated from the syscall model (compiler/syscalls/x86_64.tsv): for every
// call with inputs — and every command of fcntl, ioctl, prctl, futex, setsockopt ... — a
// leader/follower pair that differs in exactly one meaningful input must be caught, and a pair
// that differs only in what does not matter must not: pointer values, unused arguments, lengths
// that only size another argument, the upper half of 32-bit arguments, padding, pointers and
// ignored fields inside structures, a string's bytes after its NUL (a sockaddr_un's path),
// sin_zero. Every scattered read (readv, preadv, recvmsg, recvmmsg ...) gives the follower exactly
// the leader's bytes, its name and control data included.
//
// Each case runs at the verify level (JSON-lines traces through the reader, the reference
// interpreter and mvrc verify; calls the runtime records) and through the generated C matcher
// (the harness, every call), so the TypeScript model and the C tables are held to the same cases.
import { expect } from 'chai';
import { runHarness } from '../codegen-c/harness/build.ts';
import { followerLine, leaderLine, runInterpreterText } from '../codegen-c/harness/driver.ts';
import { harnessFor, loadRules, removeScratchDirs } from '../codegen-c/harness/testing.ts';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { flatten, isCompared } from '../compiler/syscalls/layout.ts';
import { allSyscalls } from '../compiler/syscalls/lookup.ts';
import { compareClass, paramsOf, sockaddrLayout, structByName } from '../compiler/syscalls/meaning.ts';
import type { ParamInfo, SyscallInfo } from '../compiler/syscalls/types.ts';
import { parseJsonTrace } from '../compiler/traces/trace.ts';
import { verifyTraces } from '../compiler/traces/verify.ts';

interface Call {
  args: bigint[];
  bufs: (Uint8Array | null)[];
  caps: number[];
}

interface Case {
  what: string;
  sc: SyscallInfo;
  leader: Call & { ret: bigint };
  follower: Call;
  expect: 'match' | 'diverge';
  /** Outputs the follower must be given exactly (scattered reads). */
  outs?: { j: number; bytes: Uint8Array }[];
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const clone = (c: Call): Call => ({ args: [...c.args], bufs: c.bufs.map((b) => (b ? Uint8Array.from(b) : null)), caps: [...c.caps] });

/** Sample bytes for an input of this type, every meaningful byte non-zero (and a string's NUL). */
function sample(p: ParamInfo): Uint8Array {
  switch (p.type) {
    case undefined:
      return p.kind === 'path' ? enc('/srv/data/file') : p.fixedSize ? new Uint8Array(p.fixedSize).fill(0x41) : enc('hello world');
    case 'iovec':
    case 'mmsghdr':
    case 'msghdr':
      return enc('gathered data');
    case 'cstr':
      return Uint8Array.from([...enc('eth0'), 0, 0x7a, 0x7a, 0x7a]);
    case 'sockaddr':
      return Uint8Array.from([1, 0, ...enc('/run/app.sock'), 0]);
    case 'sigset':
      return Uint8Array.from([0x02, 0x40, 0, 0, 0, 0, 0, 0]);
    case 'cmsg':
      return Uint8Array.from([20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
    case 'mmsg_meta':
      return Uint8Array.from([13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    default: {
      const s = structByName(p.type)!;
      const one = new Uint8Array(s.size).fill(0x11);
      // Strings end within their field (their bytes after the NUL mean nothing).
      for (const ff of flatten(s, structByName)) if (ff.field.type === 'cstr' || ff.field.type === 'sunpath') one.set([...enc('ab'), 0], ff.offset);
      if (p.lenParam !== undefined && p.fixedSize !== undefined) return Uint8Array.from([...one, ...one]);
      return one;
    }
  }
}

/** Offsets of bytes that mean something in a sample, and of bytes that do not. */
function byteRoles(p: ParamInfo, b: Uint8Array): { meaningful: number[]; meaningless: { at: number; why: string }[] } {
  const t = p.type;
  if (t === 'cstr') return { meaningful: [0], meaningless: [{ at: b.indexOf(0) + 1, why: 'a byte after its NUL' }] };
  if (t === 'sockaddr') return { meaningful: [4], meaningless: [] };
  if (t === undefined || !structByName(t)) return { meaningful: [0], meaningless: [] };
  const s = structByName(t)!;
  const meaningful: number[] = [];
  const meaningless: { at: number; why: string }[] = [];
  for (const ff of flatten(s, structByName)) {
    if (ff.size === 0) continue;
    if (!isCompared(ff.field)) meaningless.push({ at: ff.offset, why: `${ff.field.type === 'pad' ? 'padding' : ff.field.type === 'ptr' ? 'the pointer' : 'the ignored field'} ${ff.field.name}` });
    else if (ff.field.type === 'cstr' || ff.field.type === 'sunpath') {
      meaningful.push(ff.offset);
      meaningless.push({ at: ff.offset + 4, why: `a byte after ${ff.field.name}'s NUL` });
    } else meaningful.push(ff.offset);
  }
  return { meaningful: meaningful.slice(0, 3), meaningless };
}

/** A leader event and an identical follower call for this syscall with these selector values. */
function baseCall(sc: SyscallInfo, selectors: Map<number, bigint>): { call: Call; ps: (ParamInfo | undefined)[] } {
  const args = sc.params.map((p, j) => {
    if (selectors.has(j)) return selectors.get(j)!;
    switch (p.kind) {
      case 'fd':
        return BigInt(3 + j);
      case 'size':
        return 64n;
      case 'ptr':
        return BigInt(0x7f0000001000 + j * 0x100);
      case 'int':
      case 'flags':
        return BigInt(j + 1);
      default:
        return BigInt(0x7f0000002000 + j * 0x100);
    }
  });
  while (args.length < 6) args.push(0n);
  const ps = paramsOf(sc, args);
  // A command may make an argument memory: give it an address.
  ps.forEach((p, j) => {
    if (j < sc.arity && p && !['fd', 'int', 'size', 'flags'].includes(p.kind) && !selectors.has(j) && sc.params[j]!.kind !== p.kind) args[j] = BigInt(0x7f0000003000 + j * 0x100);
  });
  const bufs: (Uint8Array | null)[] = [null, null, null, null, null, null];
  const caps = [0, 0, 0, 0, 0, 0];
  ps.forEach((p, j) => {
    if (!p) return;
    const cls = compareClass(p);
    if (cls === 'content') {
      bufs[j] = sample(p);
      // The length argument of plain bytes is their length.
      if (p.lenParam !== undefined && !p.type && p.kind === 'in_bytes' && ps[p.lenParam]?.kind === 'size') args[p.lenParam] = BigInt(bufs[j]!.length);
    } else if (cls === 'out' || cls === 'outret') caps[j] = 4096;
  });
  return { call: { args, bufs, caps }, ps };
}

function describe32(p: ParamInfo): boolean {
  return p.bits === 32 && (p.kind === 'fd' || p.kind === 'int' || p.kind === 'flags');
}

/** The cases of one syscall with one choice of selector values. */
function casesFor(sc: SyscallInfo, selectors: Map<number, bigint>, label: string): Case[] {
  const { call, ps } = baseCall(sc, selectors);
  const out: Case[] = [];
  const ret = ps.some((p) => compareClass(p) === 'outret') ? 5n : 0n;
  const add = (what: string, f: Call, want: 'match' | 'diverge'): void => {
    out.push({ what: `${sc.name}${label}: ${what}`, sc, leader: { ...clone(call), ret }, follower: f, expect: want });
  };
  ps.forEach((p, j) => {
    if (!p) return;
    const cls = compareClass(p);
    const name = p.derived ? `${sc.params[p.derived.from]!.name}.${p.derived.part}` : p.name;
    if (cls === 'scalar') {
      const f = clone(call);
      f.args[j] = call.args[j]! ^ 1n;
      add(`${name} differs`, f, 'diverge');
      if (describe32(p)) {
        const g = clone(call);
        g.args[j] = call.args[j]! + (0x7eadn << 32n);
        add(`${name}'s upper half differs (a 32-bit argument)`, g, 'match');
      }
    } else if (cls === 'content') {
      const b = call.bufs[j]!;
      const roles = byteRoles(p, b);
      for (const at of roles.meaningful) {
        if (at >= b.length) continue;
        const f = clone(call);
        f.bufs[j]![at] ^= 0x5a;
        add(`${name} differs at byte ${at}`, f, 'diverge');
      }
      for (const m of roles.meaningless) {
        if (m.at >= b.length) continue;
        const f = clone(call);
        f.bufs[j]![m.at] ^= 0x5a;
        add(`only ${name}'s ${m.why} differs`, f, 'match');
      }
      const f = clone(call);
      f.args[j] = call.args[j]! + 0x10000n;
      add(`only ${name}'s address differs`, f, 'match');
    } else if (j < sc.arity) {
      // Never compared: a pointer, an unused argument, a length of another argument, an output.
      const f = clone(call);
      f.args[j] = call.args[j]! + 0xdead0000n;
      const why = p.unused ? 'unused' : p.kind === 'ptr' ? 'a pointer' : p.layout ? 'a length of another argument' : 'an output';
      add(`only ${name} differs (${why})`, f, 'match');
    }
  });
  // A socket address: the bytes after a sockaddr_un's path and a sockaddr_in's sin_zero mean
  // nothing; its length (addrlen) is no part of its meaning.
  ps.forEach((p, j) => {
    if (p?.type !== 'sockaddr' || compareClass(p) !== 'content') return;
    const f = clone(call);
    f.bufs[j] = Uint8Array.from([...call.bufs[j]!, 0x58, 0x58, 0x58]);
    add(`only the bytes after ${p.name}'s path NUL differ (sockaddr_un)`, f, 'match');
    const sin = Uint8Array.from([2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    const l = clone(call);
    l.bufs[j] = sin;
    const g = clone(call);
    g.bufs[j] = Uint8Array.from(sin);
    g.bufs[j]!.fill(0x33, 8);
    out.push({ what: `${sc.name}${label}: only ${p.name}'s sin_zero differs (sockaddr_in)`, sc, leader: { ...l, ret }, follower: g, expect: 'match' });
    const h = clone(call);
    h.bufs[j] = Uint8Array.from(sin);
    h.bufs[j]![3] = 0x91;
    out.push({ what: `${sc.name}${label}: ${p.name}'s port differs (sockaddr_in)`, sc, leader: { ...l, ret }, follower: h, expect: 'diverge' });
    if (!sockaddrLayout(2)) throw new Error('the model has no sockaddr_in');
  });
  // Scattered reads: the follower gets the leader's data, name, control data and flags.
  const scattered = ps
    .map((p, j) => ({ p, j }))
    .filter(({ p }) => p && (compareClass(p) === 'out' || compareClass(p) === 'outret') && (p.type === 'iovec' || p.type === 'msghdr' || p.type === 'mmsghdr' || p.derived));
  if (scattered.length) {
    const l = { ...clone(call), ret: 13n };
    const outs = scattered.map(({ j, p }) => ({ j, bytes: p!.derived?.part === 'name' ? Uint8Array.from([2, 0, 0, 80, 10, 0, 0, 1]) : p!.derived?.part === 'flags' ? Uint8Array.from([0x40, 0, 0, 0]) : enc(`leader bytes ${j}`) }));
    for (const o of outs) l.bufs[o.j] = o.bytes;
    out.push({ what: `${sc.name}${label}: a scattered read gives the follower the leader's bytes`, sc, leader: l, follower: clone(call), expect: 'match', outs });
  }
  return out;
}

/** Every case the model gives: each syscall, then each entry of its command table. */
function allCases(): Case[] {
  const cases: Case[] = [];
  for (const sc of allSyscalls()) {
    if (!sc.detailed) continue;
    cases.push(...casesFor(sc, new Map(), ''));
    const c = sc.commands;
    if (!c) continue;
    for (const e of c.entries) {
      const sel = new Map<number, bigint>();
      e.match.forEach((m, k) => {
        if ('eq' in m) sel.set(c.selectors[k]!, m.eq);
        else if ('all' in m) sel.set(c.selectors[k]!, m.all);
      });
      if (sel.size) cases.push(...casesFor(sc, sel, ` (${e.label})`));
    }
  }
  return cases;
}

function jsonTrace(nr: number, c: Call & { ret?: bigint }): string {
  const bufs: Record<string, string> = {};
  c.bufs.forEach((b, j) => {
    if (b) bufs[String(j)] = Buffer.from(b).toString('hex');
  });
  const caps: Record<string, number> = {};
  c.caps.forEach((n, j) => {
    if (n) caps[String(j)] = n;
  });
  const ev = { thread: 0, i: 0, nr, args: c.args.map((a) => BigInt.asIntN(64, a).toString()), ret: Number(c.ret ?? 0n), bufs, caps };
  return `{"mvrcTrace":1,"command":["conformance"],"arch":"x86_64"}\n${JSON.stringify(ev)}\n{"end":true,"status":0}\n`;
}

describe('conformance: every call compared by its meaning (generated from the syscall model)', function () {
  this.timeout(600_000);
  const cases = allCases();
  after(removeScratchDirs);

  it('covers every call with inputs and every command', () => {
    const names = new Set(cases.map((c) => c.sc.name));
    for (const n of ['writev', 'pwritev', 'sendmsg', 'sendmmsg', 'readv', 'recvmsg', 'recvmmsg', 'connect', 'setgroups', 'chroot', 'pselect6', 'lgetxattr', 'fadvise64', 'fcntl', 'ioctl', 'prctl', 'futex', 'setsockopt']) {
      expect(names.has(n), n).to.equal(true);
    }
    expect(cases.filter((c) => c.expect === 'diverge').length).to.be.greaterThan(900);
    expect(cases.filter((c) => c.expect === 'match').length).to.be.greaterThan(900);
    expect(cases.filter((c) => c.outs).map((c) => c.sc.name)).to.include.members(['readv', 'preadv', 'preadv2', 'recvmsg', 'recvmmsg']);
    // The commands that make an argument unused are among the negative cases.
    expect(cases.some((c) => /fcntl \(F_GETFL\): only arg differs \(unused\)/.test(c.what))).to.equal(true);
  });

  it('verify: a follower that differs in one meaningful input is caught, one that differs in nothing meaningful is not', () => {
    const { program } = loadRules('');
    const wrong: string[] = [];
    for (const c of cases) {
      if (!c.sc.recorded) continue;
      const diags = new DiagnosticBag();
      const leader = parseJsonTrace({ path: 'leader.jsonl', text: jsonTrace(c.sc.nr, c.leader) }, diags);
      const follower = parseJsonTrace({ path: 'follower.jsonl', text: jsonTrace(c.sc.nr, { ...c.follower, ret: c.leader.ret }) }, diags);
      if (diags.items.length) throw new Error(`${c.what}: ${diags.items.map((d) => d.message).join('; ')}`);
      const r = verifyTraces(program, leader, follower);
      const got = r.findings.some((f) => f.kind === 'divergence') ? 'diverge' : r.findings.length ? 'other' : 'match';
      if (got !== c.expect) wrong.push(`${c.what}: expected ${c.expect}, verify says ${got}`);
    }
    expect(wrong, wrong.slice(0, 20).join('\n')).to.deep.equal([]);
  });

  it('the interpreter and the generated C matcher decide every case alike, as the model says, and give scattered reads the leader bytes', () => {
    const { program, automaton, dir } = loadRules('');
    const exe = harnessFor(program, automaton, dir, false);
    const lines: string[] = [];
    for (const c of cases) {
      const bufs = (call: Call): Record<number, Uint8Array> => Object.fromEntries(call.bufs.flatMap((b, j) => (b ? [[j, b]] : [])));
      const caps = Object.fromEntries(c.follower.caps.flatMap((n, j) => (n ? [[j, n]] : [])));
      lines.push('R', leaderLine({ nr: c.sc.nr, args: c.leader.args, ret: c.leader.ret, bufs: bufs(c.leader) }), followerLine({ nr: c.sc.nr, args: c.follower.args, bufs: bufs(c.follower), caps }), 'E');
    }
    const input = lines.join('\n') + '\n';
    // One `reset` line per case, then the step's line.
    const steps = (text: string): string[] => text.trimEnd().split('\n').filter((l) => l !== 'reset');
    const fromC = steps(runHarness(exe, input));
    const fromTs = steps(runInterpreterText(automaton, input));
    expect(fromC.length).to.equal(cases.length);
    const wrong: string[] = [];
    cases.forEach((c, k) => {
      const cLine = fromC[k]!;
      const tsLine = fromTs[k]!;
      if (cLine !== tsLine) wrong.push(`${c.what}: C says '${cLine}', the interpreter '${tsLine}'`);
      const got = cLine.startsWith('ok ') ? 'match' : 'diverge';
      if (got !== c.expect) wrong.push(`${c.what}: expected ${c.expect}, got '${cLine}'`);
      for (const o of c.outs ?? []) {
        const want = `${o.j}:${Buffer.from(o.bytes).toString('hex')}`;
        if (!new RegExp(`out=(\\S*,)?${want}(,|\\s|$)`).test(cLine)) wrong.push(`${c.what}: argument ${o.j} should get ${want}: '${cLine}'`);
      }
    });
    expect(wrong, wrong.slice(0, 20).join('\n')).to.deep.equal([]);
  });
});
