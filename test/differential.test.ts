// The generated C matcher and the TypeScript reference interpreter agree: random rule sets over
// a small syscall alphabet (literals, variables, labels, replays, *, nothing, diverge, begin,
// typed guards and callbacks) and random leader/follower streams, run through both. Each rule set
// is compiled once (with ASan + UBSan) and fed a batch of streams; outputs must be identical
// line for line (actions, events, results, output bytes, divergence point).
import { expect } from 'chai';
import fc from 'fast-check';
import { runHarness } from '../codegen-c/harness/build.ts';
import { followerLine, leaderLine, runInterpreterText, type CallSpec, type EventSpec } from '../codegen-c/harness/driver.ts';
import { harnessFor, loadRules, removeScratchDirs, scratchDir } from '../codegen-c/harness/testing.ts';
import { syscallByName } from '../compiler/syscalls/lookup.ts';
import type { ParamKind } from '../compiler/syscalls/types.ts';

// getrlimit: a read-only call with a structure output, executed by a follower that makes it alone.
// (Calls each version executes on its own, like rt_sigaction, never reach the matcher: the
// checker refuses rules on them.)
const ALPHABET = ['read', 'write', 'getpid', 'gettimeofday', 'open', 'close', 'dup', 'lseek', 'getrlimit'] as const;
const SC = ALPHABET.map((n) => syscallByName(n)!);

// ---- rules ----

const VAR_OF: Partial<Record<ParamKind, string>> = { fd: 'fd', int: 'k', size: 'n', flags: 'fl', in_bytes: 's', out_bytes: 'o', path: 'pth' };

function argArb(kind: ParamKind): fc.Arbitrary<string> {
  const v = VAR_OF[kind];
  const lits: Partial<Record<ParamKind, string[]>> = {
    fd: ['0', '1', '3'],
    int: ['1', '2'],
    size: ['1', '2', '3'],
    flags: ['0'],
    in_bytes: ['"a"', '"ab"'],
    out_bytes: ['"a"', '"rr"'],
    path: ['"p1"'],
  };
  const opts: string[] = ['_', '_', '_', '_', ...(lits[kind] ?? []), ...(v ? [v, v] : [])];
  return fc.constantFrom(...opts);
}

interface CallGen {
  name: string;
  args: string[];
}
// Syscalls are drawn with weights so that rules and streams meet often enough to fire.
const WEIGHTED = [0, 0, 0, 1, 1, 1, 8, 8, 2, 3, 4, 5, 6, 7];
const scIndexArb = fc.constantFrom(...WEIGHTED.map((w) => [0, 1, 2, 3, 4, 5, 6, 7, 8][w] ?? 0));
const callArb: fc.Arbitrary<CallGen> = scIndexArb.chain((i) => {
  const sc = SC[i]!;
  return fc.tuple(...sc.params.map((p) => argArb(p.kind))).map((args) => ({ name: sc.name, args: args as string[] }));
});

function guardFor(args: string[]): fc.Arbitrary<string> {
  const g: string[] = [''];
  if (args.includes('fd')) g.push(' if (fd == 1)', ' if (fd != 0)');
  if (args.includes('s')) g.push(' if (s.startsWith("a"))');
  if (args.includes('n')) g.push(' if (n > 1)');
  return fc.constantFrom(...g);
}

const callText = (c: CallGen) => `${c.name}(${c.args.join(', ')})`;

const lhsItemArb = callArb.chain((c) => fc.tuple(fc.constant(c), guardFor(c.args), fc.boolean()));

type RhsGen = { kind: 'call'; call: CallGen; guard: string; cb: string; star: boolean } | { kind: 'label'; star: boolean; pick: number } | { kind: 'replay'; star: boolean; pick: number };
const rhsItemArb: fc.Arbitrary<RhsGen> = fc.oneof(
  { weight: 4, arbitrary: callArb.chain((call) => fc.record({ kind: fc.constant('call' as const), call: fc.constant(call), guard: guardFor(call.args), cb: fc.constantFrom('', '', ' -> do { ret = 7; }'), star: fc.boolean() })) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('label' as const), star: fc.constant(false), pick: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), star: fc.constant(false), pick: fc.nat(5) }) },
);

/** One rule as text: left items with optional guards and labels, right items using them. */
const ruleArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.array(lhsItemArb, { minLength: 1, maxLength: 3, depthIdentifier: 'lhs' }), fc.oneof({ weight: 6, arbitrary: fc.array(rhsItemArb, { minLength: 1, maxLength: 3 }) }, { weight: 2, arbitrary: fc.constantFrom('nothing', 'diverge "no mapping"') }))
      .map(([left, right]) => {
        const labels: { name: string; call: CallGen }[] = [];
        const lhs = left.map(([c, g, labelled], i) => {
          if (labelled) labels.push({ name: `l${i}`, call: c });
          return callText(c) + g + (labelled ? ` as l${i}` : '');
        });
        if (typeof right === 'string') return `${lhs.join(', ')} => ${right}`;
        const used = new Set<string>();
        const rhs: string[] = [];
        for (const it of right) {
          if (it.kind === 'call') rhs.push(callText(it.call) + it.guard + it.cb + (it.star ? ' *' : ''));
          else {
            const free = labels.filter((x) => !used.has(x.name) && (it.kind === 'label' || x.call.name === 'read'));
            const l = free[it.pick % Math.max(1, free.length)];
            if (!l) continue;
            used.add(l.name);
            rhs.push(it.kind === 'label' ? l.name : `${l.name}(_, "zz", 2)`);
          }
        }
        if (!rhs.length || rhs.every((r) => r.endsWith('*'))) rhs.push('getpid()');
        return `${lhs.join(', ')} => ${rhs.join(', ')}`;
      }),
  },
  {
    weight: 2,
    arbitrary: fc.array(callArb, { minLength: 1, maxLength: 2 }).map((cs) => `nothing => ${cs.map(callText).join(', ')}`),
  },
  {
    weight: 1,
    arbitrary: fc.array(callArb, { minLength: 1, maxLength: 2 }).map((cs) => `begin => ${cs.map(callText).join(', ')}`),
  },
);

// Rules that the random streams meet often: reordering with labels (STORE), leader-only events
// (SKIP), an expected divergence.
const SEED_RULES = [
  'getrlimit(_,_) as a, getrlimit(_,_) as b => b, a',
  'write(_,_,_), write(_,_,_) => write(_,_,_)',
  'read(_,_,_), getpid() => read(_,_,_)',
  'lseek(_,_,_) => diverge "seek"',
  'gettimeofday(_,_) => nothing',
];
const ruleSetArb = fc.tuple(fc.array(ruleArb, { minLength: 1, maxLength: 5 }), fc.subarray(SEED_RULES)).map(([random, seeds]) => {
  const rules = [...random, ...seeds];
  // at most one begin rule
  let begun = false;
  return rules.filter((r) => (r.startsWith('begin') ? !begun && (begun = true) : true)).join('\n') + '\n';
});

// ---- streams ----

const BYTES = ['a', 'ab', 'rr', 'PUT', ''];
interface Ev {
  i: number;
  args: number[];
  ret: number;
  bufs: Record<number, string>;
}
const evArb: fc.Arbitrary<Ev> = fc.record({
  i: scIndexArb,
  args: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 6, maxLength: 6 }),
  ret: fc.integer({ min: -1, max: 3 }),
  bufs: fc.dictionary(fc.constantFrom('0', '1', '2', '3'), fc.constantFrom(...BYTES)).map((d) => Object.fromEntries(Object.entries(d).map(([k, v]) => [Number(k), v]))),
});

function eventSpec(e: Ev): EventSpec {
  const sc = SC[e.i]!;
  const bufs: Record<number, string> = {};
  sc.params.forEach((p, j) => {
    if (p.kind === 'in_bytes' || p.kind === 'out_bytes' || p.kind === 'path' || p.kind === 'in_struct' || p.kind === 'out_struct') bufs[j] = e.bufs[j] ?? 'a';
  });
  return { nr: sc.nr, args: e.args.slice(0, sc.arity), ret: e.ret, bufs };
}
function callSpec(e: Ev, capSeed: number): CallSpec {
  const sc = SC[e.i]!;
  const bufs: Record<number, string> = {};
  const caps: Record<number, number> = {};
  sc.params.forEach((p, j) => {
    if (p.kind === 'in_bytes' || p.kind === 'path' || p.kind === 'in_struct') bufs[j] = e.bufs[j] ?? 'a';
    if (p.kind === 'out_bytes' || p.kind === 'out_struct') caps[j] = (capSeed + j) % 5;
  });
  return { nr: sc.nr, args: e.args.slice(0, sc.arity), bufs, caps };
}

type Edit = { op: 'same' } | { op: 'drop' } | { op: 'insert'; ev: Ev } | { op: 'change'; ev: Ev };
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ op: 'same' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'drop' as const }) },
  { weight: 2, arbitrary: evArb.map((ev) => ({ op: 'insert' as const, ev })) },
  { weight: 1, arbitrary: evArb.map((ev) => ({ op: 'change' as const, ev })) },
);

/** A leader stream and a follower that mostly repeats it with edits, interleaved at random. */
const streamArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(evArb, { minLength: 1, maxLength: 8 }),
    fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    fc.array(editArb, { minLength: 10, maxLength: 10 }),
    fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
    fc.nat(100),
    fc.boolean(),
  )
  .map(([events, twice, edits, order, capSeed, finish]) => {
    // repeated events make multi-item left sides (and labels) match often
    const leader = events.flatMap((e, i) => (twice[i] ? [e, e] : [e]));
    const follower: Ev[] = [];
    leader.forEach((e, i) => {
      const ed = edits[i % edits.length]!;
      if (ed.op === 'same') follower.push(e);
      else if (ed.op === 'insert') follower.push(ed.ev, e);
      else if (ed.op === 'change') follower.push(ed.ev);
    });
    const lines = ['R'];
    let li = 0;
    let fi = 0;
    let k = 0;
    while (li < leader.length || fi < follower.length) {
      const takeLeader = fi >= follower.length || (li < leader.length && order[k++ % order.length]);
      if (takeLeader) lines.push(leaderLine(eventSpec(leader[li++]!)));
      else lines.push(followerLine(callSpec(follower[fi++]!, capSeed + fi)));
    }
    lines.push('E');
    if (finish) lines.push('X');
    return lines.join('\n');
  });

describe('differential: generated C vs interpreter', function () {
  this.timeout(600_000);
  after(removeScratchDirs);

  it('agree on random rule sets and streams', () => {
    const root = scratchDir('diff-');
    let sets = 0;
    let skipped = 0;
    const seen = { rule: 0, def: 0, diverge: 0, expected: 0, need: 0, store: 0, skip: 0, emulate: 0, exec: 0 };
    fc.assert(
      fc.property(ruleSetArb, fc.array(streamArb, { minLength: 25, maxLength: 25 }), (rules, streams) => {
        let loaded;
        try {
          loaded = loadRules(rules, root);
        } catch (e) {
          if (process.env['MVR_DIFF_VERBOSE']) console.log(String(e).split('\n').slice(1, 3).join(' | '));
          skipped++;
          return; // a rule set the checker rejects (e.g. conflicting rules) has no meaning to compare
        }
        sets++;
        const input = streams.join('\n') + '\n';
        const ts = runInterpreterText(loaded.automaton, input);
        const exe = harnessFor(loaded.program, loaded.automaton, `${root}/set${sets}`);
        const c = runHarness(exe, input);
        if (c !== ts) {
          const a = c.split('\n');
          const b = ts.split('\n');
          const i = a.findIndex((l, j) => l !== b[j]);
          throw new Error(`C and interpreter differ at output line ${i + 1}:\n  C:  ${a[i]}\n  TS: ${b[i]}\nrules:\n${rules}\ninput:\n${input}`);
        }
        for (const l of ts.split('\n')) {
          if (/^ok r=\d/.test(l)) seen.rule++;
          if (l.startsWith('ok r=D')) seen.def++;
          if (l.startsWith('diverge')) seen.diverge++;
          if (l.startsWith('expected')) seen.expected++;
          if (l === 'need') seen.need++;
          if (/L=.*:s/.test(l)) seen.store++;
          if (/L=.*:k/.test(l)) seen.skip++;
          if (l.includes('f=emulate')) seen.emulate++;
          if (l.includes('f=exec')) seen.exec++;
        }
      }),
      { numRuns: Number(process.env['MVR_DIFF_RUNS'] ?? 60), seed: process.env['MVR_DIFF_SEED'] ? Number(process.env['MVR_DIFF_SEED']) : undefined },
    );
    if (process.env["MVR_DIFF_VERBOSE"]) console.log(sets, skipped, seen);
    // The generators must actually exercise the semantics, or agreement means little.
    expect(sets, `rule sets compared (${skipped} rejected by the checker)`).to.be.greaterThan(20);
    for (const [k, v] of Object.entries(seen)) expect(v, `steps of kind '${k}' seen`).to.be.greaterThan(0);
  });

  it('agree when rules are dispatched through the literal index', () => {
    // Enough rules on one syscall testing the same argument against literals that both
    // implementations go through the second dispatch level.
    const rules = [
      'write(0,_,_) => write(0,_,_), write(0,_,_)',
      'write(1,_,_) => write(1,_,_), getpid()',
      'write(_,"ab",_) => nothing',
      'write(1,"a",_), write(1,_,_) => write(1,_,_)',
      'write(3,_,_) => diverge "three"',
      'getrlimit(1,_) as a, getrlimit(0,_) as b => b, a',
      'getrlimit(0,_) => getrlimit(0,_) *, getpid()',
      'lseek(1,_,1) => nothing',
      'getrlimit(2,_) => nothing',
    ].join('\n') + '\n';
    const loaded = loadRules(rules, scratchDir('diff-lit-'));
    expect(loaded.automaton.literal.size, 'literal index built').to.be.greaterThan(0);
    const exe = harnessFor(loaded.program, loaded.automaton, scratchDir('diff-lit-build-'));
    fc.assert(
      fc.property(fc.array(streamArb, { minLength: 100, maxLength: 100 }), (streams) => {
        const input = streams.join('\n') + '\n';
        const c = runHarness(exe, input);
        const ts = runInterpreterText(loaded.automaton, input);
        expect(c).to.equal(ts);
      }),
      { numRuns: 5 },
    );
  });
});
