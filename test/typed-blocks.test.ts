// Typed blocks (LANGUAGE.md §6): diagnostics with exact .mvr spans, the reference evaluator against
// JavaScript's own string semantics, and a differential test of the evaluator against the lowered C
// (compiled with gcc -Werror and ASan/UBSan, one program per property run).
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { TsBlock, TsExpr } from '../compiler/syntax/ast.ts';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import type { ParamKind } from '../compiler/syscalls/types.ts';
import {
  type TypedBlock,
  type TypedEnv,
  type TypedExpr,
  type Value,
  TYPED_ARENA_SIZE,
  checkTypedBlock,
  checkTypedExpr,
  cStringLiteral,
  evalTypedExpr,
  evalTypedExprDetailed,
  execTypedBlock,
  lowerTypedBlockToC,
  lowerTypedExprToC,
} from '../compiler/typed/index.ts';

const INCLUDE_DIR = fileURLToPath(new URL('../runtime-c/include', import.meta.url));
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function envOf(vars: Record<string, ParamKind | [ParamKind, 'w']>, retName?: string): TypedEnv {
  const m = new Map<string, { kind: ParamKind; writable: boolean }>();
  for (const [name, k] of Object.entries(vars)) m.set(name, Array.isArray(k) ? { kind: k[0], writable: true } : { kind: k, writable: false });
  return retName === undefined ? { vars: m } : { vars: m, retName };
}

// Variables of a rule like the LANGUAGE.md example (read(fd, s, n) ... => r(fd, out, n)), as the binder hands them over.
const READ_ENV = envOf({ fd: 'fd', s: 'in_bytes', n: 'size', p: 'ptr', out: ['out_bytes', 'w'] });
const CALLBACK_ENV = envOf({ fd: 'fd', s: 'in_bytes', n: 'size', p: 'ptr', out: ['out_bytes', 'w'] }, 'ret');

/** A guard placed in a rule file, as the parser hands it over: text plus its offset in the file. */
function guardIn(text: string): { file: string; node: TsExpr } {
  const before = 'read(fd, s, n) if (';
  const file = `// typed guard\n${before}${text}) as r => r(fd, "x", 1)\n`;
  const textOffset = file.indexOf(before) + before.length;
  return { file, node: { kind: 'TsExpr', text, textOffset, span: { offset: textOffset - 4, length: text.length + 5 } } };
}
function blockIn(text: string): { file: string; node: TsBlock } {
  const before = 'read(fd, s, n) => read(fd, out, n) -> do {';
  const file = `// typed callback\n${before}${text}}\n`;
  const textOffset = file.indexOf(before) + before.length;
  return { file, node: { kind: 'TsBlock', text, textOffset, span: { offset: textOffset - 4, length: text.length + 5 } } };
}

interface Found {
  code: string;
  /** The .mvr text the diagnostic's span covers. */
  at: string;
  offset: number;
  length: number;
  message: string;
}
function diagsOf(bag: DiagnosticBag, file: string): Found[] {
  return bag.items.map((d) => ({ code: d.code, at: file.slice(d.span.offset, d.span.offset + d.span.length), offset: d.span.offset, length: d.span.length, message: d.message }));
}
function checkGuard(text: string, env: TypedEnv = READ_ENV): { e: TypedExpr | undefined; diags: Found[]; file: string } {
  const { file, node } = guardIn(text);
  const bag = new DiagnosticBag();
  const e = checkTypedExpr(node, 'rules.mvr', env, bag);
  return { e, diags: diagsOf(bag, file), file };
}
function checkBlock(text: string, env: TypedEnv = CALLBACK_ENV): { b: TypedBlock | undefined; diags: Found[]; file: string } {
  const { file, node } = blockIn(text);
  const bag = new DiagnosticBag();
  const b = checkTypedBlock(node, 'rules.mvr', env, bag);
  return { b, diags: diagsOf(bag, file), file };
}
function guardOk(text: string, env: TypedEnv = READ_ENV): TypedExpr {
  const r = checkGuard(text, env);
  expect(r.diags, text).to.deep.equal([]);
  return r.e!;
}
function blockOk(text: string, env: TypedEnv = CALLBACK_ENV): TypedBlock {
  const r = checkBlock(text, env);
  expect(r.diags, text).to.deep.equal([]);
  return r.b!;
}

describe('typed blocks: checking', () => {
  it('accepts the LANGUAGE.md guard and callback', () => {
    guardOk('s.startsWith("PUT-") && !s.startsWith("PUT-string ")');
    blockOk('ret += 7;');
    blockOk('out = "bad-cmd\\n";');
  });

  it('MVR3010: syntax outside the subset, at the offending node', () => {
    const r = checkGuard('s.length > 0 && foo(s)');
    expect(r.diags).to.have.length(1);
    expect(r.diags[0]).to.include({ code: 'MVR3010', at: 'foo(s)', offset: r.file.indexOf('foo(s)'), length: 6 });
    expect(r.diags[0]!.message).to.contain('function call');

    const b = checkBlock(' let x = 1;\n  while (ret < 3) { ret += 1; } ');
    expect(b.diags.map((d) => [d.code, d.at])).to.deep.equal([
      ['MVR3010', 'let x = 1;'],
      ['MVR3010', 'while (ret < 3) { ret += 1; }'],
    ]);
    expect(b.b).to.equal(undefined);

    for (const [text, at] of [
      ['s[0] == "a"', 's[0]'],
      ['n > 1.5', '1.5'],
      ['(s as string) == "a"', 's as string'],
      ['n == null', 'null'],
      ['(n & 1) == 1', '&'],
      ['s.split(",") == s', 's.split(",")'],
      ['s.startsWith == s', 's.startsWith'],
    ] as const) {
      const g = checkGuard(text);
      expect(g.diags.map((d) => [d.code, d.at]), text).to.deep.equal([['MVR3010', at]]);
    }
  });

  it('MVR3011: TypeScript syntax errors at the parser position', () => {
    const r = checkGuard('s.length >  ');
    expect(r.diags).to.have.length(1);
    expect(r.diags[0]!.code).to.equal('MVR3011');
    expect(r.diags[0]!.message).to.contain('Expression expected');
    // The position is where the missing operand should be: the end of the guard text.
    expect(r.diags[0]!.offset).to.equal(r.file.indexOf('s.length') + 's.length >  '.length);

    const b = checkBlock(' ret = = 3; ');
    expect(b.diags.map((d) => [d.code, d.at])).to.deep.equal([['MVR3011', '=']]);
    expect(b.diags[0]!.offset).to.equal(b.file.indexOf('= 3'));
  });

  it('MVR3012: unknown names, including ret in a guard', () => {
    const r = checkGuard('s.length > limit');
    expect(r.diags).to.deep.equal([{ code: 'MVR3012', at: 'limit', offset: r.file.indexOf('limit'), length: 5, message: "cannot find name 'limit' in this rule" }]);
    expect(checkGuard('ret > 0').diags.map((d) => [d.code, d.at])).to.deep.equal([['MVR3012', 'ret']]);
    expect(checkBlock('total = 1;').diags.map((d) => [d.code, d.at])).to.deep.equal([['MVR3012', 'total']]);
  });

  it('MVR3013: type mismatches, pointers and wrong argument types', () => {
    const r = checkGuard('n + s == 3');
    expect(r.diags.map((d) => [d.code, d.at])).to.deep.equal([['MVR3013', 'n + s']]);
    expect(r.diags[0]!.offset).to.equal(r.file.indexOf('n + s'));
    expect(checkGuard('p == 0').diags.map((d) => [d.code, d.at])).to.deep.equal([['MVR3013', 'p']]);
    expect(checkGuard('s.startsWith(4)').diags.map((d) => [d.code, d.at])).to.deep.equal([['MVR3013', '4']]);
    expect(checkGuard('!n').diags.map((d) => [d.code, d.at])).to.deep.equal([['MVR3013', 'n']]);
    expect(checkGuard('s.slice("a") == s').diags.map((d) => [d.code, d.at])).to.deep.equal([['MVR3013', '"a"']]);
    expect(checkBlock('out = 5;').diags.map((d) => [d.code, d.at])).to.deep.equal([['MVR3013', '5']]);
    expect(checkBlock('if (n) { ret = 1; }').diags.map((d) => [d.code, d.at])).to.deep.equal([['MVR3013', 'n']]);
    expect(checkBlock('const x: number = s;').diags.map((d) => [d.code, d.at])).to.deep.equal([['MVR3013', 's']]);
  });

  it('MVR3014: assignment to inputs and constants', () => {
    const r = checkBlock(' s = "x";\n const k = 1;\n k = 2;\n fd += 1;');
    expect(r.diags.map((d) => [d.code, d.at])).to.deep.equal([
      ['MVR3014', 's'],
      ['MVR3014', 'k'],
      ['MVR3014', 'fd'],
    ]);
    expect(r.diags[0]!.offset).to.equal(r.file.indexOf(' s = ') + 1);
  });

  it('MVR3015: unknown methods, at the method name', () => {
    const r = checkGuard('s.toUpperCase() == "A"');
    expect(r.diags).to.have.length(1);
    expect(r.diags[0]).to.include({ code: 'MVR3015', at: 'toUpperCase', offset: r.file.indexOf('toUpperCase'), length: 11 });
    expect(r.diags[0]!.message).to.equal("'bytes' has no method 'toUpperCase' in typed blocks");
    expect(checkGuard('n.startsWith("a")').diags.map((d) => [d.code, d.at, d.message])).to.deep.equal([['MVR3015', 'startsWith', "'number' has no method 'startsWith' in typed blocks"]]);
  });

  it('MVR3016: a guard that is not boolean, spanning the expression', () => {
    const r = checkGuard('  s.length + 1 ');
    expect(r.diags).to.deep.equal([
      { code: 'MVR3016', at: 's.length + 1', offset: r.file.indexOf('s.length'), length: 12, message: 'a guard must be a boolean expression, but this is a number' },
    ]);
  });

  it('integer literals must fit in 64 bits (MVR1008), -2^63 included', () => {
    guardOk('n != -9223372036854775808');
    const r = checkGuard('n < 9223372036854775808');
    expect(r.diags.map((d) => [d.code, d.at])).to.deep.equal([['MVR1008', '9223372036854775808']]);
  });

  it('reports several errors of one block in one run, and never throws on odd input', () => {
    const r = checkBlock('out = 1; ret = "x"; q = 2; s.foo();');
    expect(r.diags.map((d) => d.code)).to.deep.equal(['MVR3013', 'MVR3013', 'MVR3012', 'MVR3010']);
    // Token soup reaches the checker behind the parser far more often than random characters.
    const tokens = ['s', 'n', 'p', 'ret', 'out', 'x', '.', 'length', 'slice', 'split', 'indexOf', 'startsWith', '(', ')', '[', ']', '{', '}', '+', '-', '*', '/', '%',
      '=', '+=', '==', '===', '<', '&&', '||', '!', '?', ':', ',', ';', '"a"', "'b'", '`t${', '}`', '1', '-1', '0x10', '1.5', '1n', 'true', 'null', 'const', 'let', 'if', 'else', 'for', 'of', 'while', 'return', '=>', 'as', 'number'];
    const soup = fc.array(fc.constantFrom(...tokens), { maxLength: 14 }).map((t) => t.join(' '));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), soup), (text) => {
        const g = checkGuard(text);
        const b = checkBlock(text);
        // Rejected text always says why; accepted text says nothing.
        expect(g.e === undefined).to.equal(g.diags.length > 0);
        expect(b.b === undefined).to.equal(b.diags.length > 0);
      }),
      { numRuns: 500 },
    );
  });

  it('MVR1014: nesting deeper than the limit, reported once and without a crash', () => {
    expect(checkGuard('('.repeat(150) + 'n > 1' + ')'.repeat(150)).diags).to.deep.equal([]);
    const deep = '('.repeat(300) + 'n > 1' + ')'.repeat(300);
    const r = checkGuard(deep);
    expect(r.diags.map((d) => d.code)).to.deep.equal(['MVR1014']);
    expect(r.diags[0]!.offset).to.be.within(r.file.indexOf(deep), r.file.indexOf(deep) + deep.length);
    const huge = '('.repeat(20000) + 'n > 1' + ')'.repeat(20000);
    expect(checkGuard(huge).diags.map((d) => d.code)).to.deep.equal(['MVR1014']);
    expect(checkBlock('if (n > 1) {'.repeat(20000) + '}'.repeat(20000)).diags.map((d) => d.code)).to.deep.equal(['MVR1014']);
  });

  it('lists the rule variables a block reads and writes', () => {
    const b = blockOk('const k = s.slice(1); if (k.length > n) { out = k; ret += 1; }');
    expect(b.reads).to.deep.equal(['s', 'n', 'ret']);
    expect(b.writes).to.deep.equal(['out', 'ret']);
  });
});

describe('typed blocks: evaluation', () => {
  const run = (text: string, vars: Record<string, Value>, caps: Record<string, number> = {}): Map<string, Value> => {
    const m = new Map(Object.entries(vars));
    const r = execTypedBlock(blockOk(text), m, { caps: new Map(Object.entries(caps)) });
    expect(r.overflow).to.equal(false);
    return m;
  };

  it('the LANGUAGE.md guard tells PUT- commands from PUT-string', () => {
    const g = guardOk('s.startsWith("PUT-") && !s.startsWith("PUT-string ")');
    const ev = (s: string): boolean => evalTypedExpr(g, new Map<string, Value>([['s', enc(s)]]));
    expect(ev('PUT-key 1')).to.equal(true);
    expect(ev('PUT-string x')).to.equal(false);
    expect(ev('GET-key')).to.equal(false);
    expect(ev('PUT')).to.equal(false);
  });

  it('ret += 7 and assignment of "bad-cmd\\n" to an output', () => {
    expect(run('ret += 7;', { ret: 5n }).get('ret')).to.equal(12n);
    expect(dec(run('out = "bad-cmd\\n";', { out: enc('old') }, { out: 64 }).get('out') as Uint8Array)).to.equal('bad-cmd\n');
  });

  it('an assignment keeps at most the output capacity', () => {
    expect(dec(run('out = "bad-cmd\\n";', { out: enc('') }, { out: 3 }).get('out') as Uint8Array)).to.equal('bad');
  });

  it('templates format numbers in decimal and booleans as words, strings as UTF-8', () => {
    const m = run('out = `${fd}:${n - 100}:${s}:${s.length > 2}:é`;', { fd: 3n, n: 7n, s: enc('ab'), out: enc('') });
    expect(dec(m.get('out') as Uint8Array)).to.equal('3:-93:ab:false:é');
    expect((m.get('out') as Uint8Array).length).to.equal('3:-93:ab:false:'.length + 2);
  });

  it('slice follows String.prototype.slice, negative indices included', () => {
    const m = run('const a = s.slice(-3); const b = s.slice(1, -1); const c = s.slice(-100, 2); const d = s.slice(4, 2); out = `${a}|${b}|${c}|${d}|`;', { s: enc('abcdef'), out: enc('') });
    expect(dec(m.get('out') as Uint8Array)).to.equal('def|bcde|ab||');
  });

  it('for...of over split visits the pieces JavaScript would', () => {
    const m = run('for (const w of s.split(",")) { out += `[${w}]`; ret += 1; }', { s: enc('a,,b,'), out: enc(''), ret: 0n });
    expect(dec(m.get('out') as Uint8Array)).to.equal('[a][][b][]');
    expect(m.get('ret')).to.equal(4n);
    const e = run('for (const w of s.split("")) { ret += 1; }', { s: enc(''), ret: 0n });
    expect(e.get('ret')).to.equal(0n);
  });

  it('numbers wrap at 64 bits; division and remainder by zero are 0', () => {
    const m = run('ret = n * n + fd / 0 + fd % 0;', { n: 1n << 32n, fd: 9n, ret: 0n });
    expect(m.get('ret')).to.equal(0n);
    expect(run('ret = n + 1;', { n: INT64_MAX, ret: 0n }).get('ret')).to.equal(INT64_MIN);
    expect(run('ret = n / -1;', { n: INT64_MIN, ret: 0n }).get('ret')).to.equal(INT64_MIN);
    expect(run('ret = -7 / 2 + -7 % 2 * 10;', { ret: 0n }).get('ret')).to.equal(-3n - 10n);
  });

  it('a const bound to an output keeps its value when the output is reassigned', () => {
    const m = run('const before = out.slice(0, 2); out = "zzzz"; out += before;', { out: enc('ab') }, { out: 10 });
    expect(dec(m.get('out') as Uint8Array)).to.equal('zzzzab');
  });

  it('arena overflow: a guard is false, a callback reports it', () => {
    const g = guardOk('(s + s).length > 0');
    const vars = new Map<string, Value>([['s', new Uint8Array(TYPED_ARENA_SIZE / 2 + 1)]]);
    expect(evalTypedExprDetailed(g, vars)).to.deep.equal({ value: false, overflow: true });
    expect(evalTypedExprDetailed(g, vars, { arenaSize: TYPED_ARENA_SIZE + 2 })).to.deep.equal({ value: true, overflow: false });
    const b = blockOk('for (const w of s.split("")) { out = out + w; }');
    expect(execTypedBlock(b, new Map<string, Value>([['s', enc('abcdef')], ['out', enc('')]]), { arenaSize: 10 }).overflow).to.equal(true);
  });

  it('agrees with JavaScript string methods on ASCII text', () => {
    const env = envOf({ a: 'in_bytes', b: 'in_bytes', i: 'int', j: 'int', out: ['out_bytes', 'w'] }, 'ret');
    const block = blockOk(
      'out = `${a.slice(i)}|${a.slice(i, j)}|${a.indexOf(b)}|${a.includes(b)}|${a.startsWith(b)}|${a.endsWith(b)}|${a.length}|`;' +
        'for (const w of a.split(b)) { out += w + "/"; ret += 1; }',
      env,
    );
    const text = fc.string({ unit: fc.constantFrom('a', 'b', ',', ' '), maxLength: 8 });
    fc.assert(
      fc.property(text, text, fc.integer({ min: -10, max: 10 }), fc.integer({ min: -10, max: 10 }), (a, b, i, j) => {
        const m = new Map<string, Value>([['a', enc(a)], ['b', enc(b)], ['i', BigInt(i)], ['j', BigInt(j)], ['out', enc('')], ['ret', 0n]]);
        execTypedBlock(block, m);
        const pieces = a.split(b);
        const want = `${a.slice(i)}|${a.slice(i, j)}|${a.indexOf(b)}|${a.includes(b)}|${a.startsWith(b)}|${a.endsWith(b)}|${a.length}|` + pieces.map((w) => w + '/').join('');
        expect(dec(m.get('out') as Uint8Array)).to.equal(want);
        expect(m.get('ret')).to.equal(BigInt(pieces.length));
      }),
      { numRuns: 300 },
    );
  });
});

// ---- differential testing: reference evaluator vs. lowered C ---------------------------------

interface GenEnv {
  num: string[];
  bytes: string[];
  bool: string[];
}
interface ExprArbs {
  num: fc.Arbitrary<string>;
  bytes: fc.Arbitrary<string>;
  bool: fc.Arbitrary<string>;
}

const EDGE_NUMBERS = [0n, 1n, 2n, 3n, 5n, 10n, 255n, 1n << 31n, 1n << 32n, INT64_MAX, INT64_MIN, INT64_MIN + 1n];
const numberValue = fc.oneof(fc.integer({ min: -12, max: 12 }).map(BigInt), fc.constantFrom(...EDGE_NUMBERS, ...EDGE_NUMBERS.map((v) => -v)).map((v) => BigInt.asIntN(64, v)), fc.bigInt({ min: INT64_MIN, max: INT64_MAX }));
const numberLiteral = fc.tuple(numberValue, fc.boolean()).map(([v, useHex]) => (v < 0n ? `(-${-v})` : useHex ? `0x${v.toString(16)}` : `${v}`));
// Characters that stress escaping in TypeScript and C (quotes, backslash, trigraph '?', NUL,
// newline) and multi-byte UTF-8; ',' and ';' make split interesting.
const CHARS = ['a', 'b', 'P', '-', ',', ';', ' ', '?', '=', '"', '\\', '\n', '\0', 'é', '€'];
const jsText = fc.array(fc.constantFrom(...CHARS), { maxLength: 6 }).map((cs) => cs.join(''));
const templateText = (s: string): string => s.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$/g, '\\$').replace(/\0/g, '\\u0000');

const arbCache = new Map<string, ExprArbs>();
function exprArbs(env: GenEnv): ExprArbs {
  const key = JSON.stringify(env);
  const hit = arbCache.get(key);
  if (hit) return hit;
  const o = { depthIdentifier: fc.createDepthIdentifier(), maxDepth: 3 };
  const arbs = fc.letrec<{ num: string; bytes: string; bool: string }>((tie) => {
    const num = tie('num');
    const bytes = tie('bytes');
    const bool = tie('bool');
    const pick = (names: string[], lit: fc.Arbitrary<string>): fc.Arbitrary<string> => (names.length > 0 ? fc.oneof(lit, fc.constantFrom(...names)) : lit);
    const bin = (a: fc.Arbitrary<string>, ops: string[], b: fc.Arbitrary<string>): fc.Arbitrary<string> => fc.tuple(a, fc.constantFrom(...ops), b).map(([x, op, y]) => `(${x} ${op} ${y})`);
    const cond = (t: fc.Arbitrary<string>): fc.Arbitrary<string> => fc.tuple(bool, t, t).map(([c, x, y]) => `(${c} ? ${x} : ${y})`);
    const template = fc
      .array(fc.oneof(jsText.map((s) => templateText(s)), num.map((e) => '${' + e + '}'), bytes.map((e) => '${' + e + '}'), bool.map((e) => '${' + e + '}')), { minLength: 1, maxLength: 4 })
      .map((parts) => '`' + parts.join('') + '`');
    return {
      num: fc.oneof(
        o,
        pick(env.num, numberLiteral),
        bin(num, ['+', '-', '*', '/', '%'], num),
        num.map((e) => `(-${e})`),
        bytes.map((e) => `${e}.length`),
        fc.tuple(bytes, bytes).map(([a, b]) => `${a}.indexOf(${b})`),
        cond(num),
      ),
      bytes: fc.oneof(
        o,
        pick(env.bytes, jsText.map((s) => JSON.stringify(s))),
        bin(bytes, ['+'], bytes),
        fc.tuple(bytes, num).map(([s, a]) => `${s}.slice(${a})`),
        fc.tuple(bytes, num, num).map(([s, a, b]) => `${s}.slice(${a}, ${b})`),
        template,
        cond(bytes),
      ),
      bool: fc.oneof(
        o,
        pick(env.bool, fc.constantFrom('true', 'false')),
        // `a < b` is written `b > a`: TypeScript's parser takes `x < ((n > -10) ? …` for type
        // arguments, a quirk of the syntax typed blocks borrow, not of the lowering under test.
        bin(num, ['<=', '>', '>=', '==', '===', '!=', '!=='], num),
        fc.tuple(num, num).map(([x, y]) => `(${y} > ${x})`),
        bin(bytes, ['==', '===', '!=', '!=='], bytes),
        bin(bool, ['==', '!=', '&&', '||'], bool),
        bool.map((e) => `(!${e})`),
        fc.tuple(bytes, fc.constantFrom('startsWith', 'endsWith', 'includes'), bytes).map(([a, m, b]) => `${a}.${m}(${b})`),
        cond(bool),
      ),
    };
  });
  arbCache.set(key, arbs);
  return arbs;
}

function statements(env: GenEnv, depth: number): fc.Arbitrary<string[]> {
  const g = exprArbs(env);
  const assign = fc.oneof(
    fc.tuple(fc.constantFrom('=', '+=', '-='), g.num).map(([op, e]) => `ret ${op} ${e};`),
    fc.tuple(fc.constantFrom('=', '+='), g.bytes).map(([op, e]) => `o ${op} ${e};`),
  );
  if (depth === 0) return fc.array(assign, { minLength: 1, maxLength: 3 });
  const inner = statements(env, depth - 1);
  const loopVar = `x${depth}`;
  const ifStmt = fc.tuple(g.bool, inner, fc.option(inner)).map(([c, t, e]) => `if (${c}) { ${t.join(' ')} }` + (e ? ` else { ${e.join(' ')} }` : ''));
  const forStmt = fc
    .tuple(g.bytes, g.bytes, statements({ ...env, bytes: [...env.bytes, loopVar] }, depth - 1))
    .map(([src, sep, body]) => `for (const ${loopVar} of (${src}).split(${sep})) { ${body.join(' ')} }`);
  return fc.array(fc.oneof(assign, ifStmt, forStmt), { minLength: 1, maxLength: 3 });
}

const BASE: GenEnv = { num: ['n', 'm'], bytes: ['s', 't', 'o'], bool: [] };
const guardText = exprArbs(BASE).bool;
const blockText = fc
  .tuple(exprArbs({ ...BASE, num: [...BASE.num, 'ret'] }).num, exprArbs(BASE).bytes, exprArbs(BASE).bool, statements({ num: [...BASE.num, 'ret', 'a'], bytes: [...BASE.bytes, 'b'], bool: ['c'] }, 2))
  .map(([a, b, c, body]) => `const a = ${a}; const b = ${b}; const c = ${c}; ${body.join(' ')}`);

const bytesValue = fc.array(fc.constantFrom(0, 10, 32, 44, 59, 63, 97, 98, 0x80, 0xc3, 0xa9, 0xff), { maxLength: 10 }).map((a) => Uint8Array.from(a));
interface Inputs {
  n: bigint;
  m: bigint;
  ret: bigint;
  s: Uint8Array;
  t: Uint8Array;
  o: Uint8Array;
  oCap: number;
}
const inputs: fc.Arbitrary<Inputs> = fc
  .record({ n: numberValue, m: fc.bigInt({ min: 0n, max: 40n }), ret: numberValue, s: bytesValue, t: bytesValue, o: bytesValue, extra: fc.integer({ min: 0, max: 8 }) })
  .map(({ extra, ...r }) => ({ ...r, oCap: r.o.length + extra }));

interface DiffCase {
  kind: 'guard' | 'block';
  text: string;
  in: Inputs;
}

const GUARD_ENV = envOf({ n: 'int', m: 'size', s: 'in_bytes', t: 'path', o: 'out_bytes' });
const BLOCK_ENV = envOf({ n: 'int', m: 'size', s: 'in_bytes', t: 'path', o: ['out_bytes', 'w'] }, 'ret');

function cInt(v: bigint): string {
  return v === INT64_MIN ? 'INT64_MIN' : `INT64_C(${v})`;
}

/** The expected output line of a case, computed by the reference evaluator. */
function expected(i: number, c: DiffCase, ir: TypedExpr | TypedBlock, arenaSize: number): string {
  const vars = new Map<string, Value>([['n', c.in.n], ['m', c.in.m], ['s', c.in.s], ['t', c.in.t], ['o', c.in.o], ['ret', c.in.ret]]);
  if (ir.kind === 'TypedExpr') {
    const r = evalTypedExprDetailed(ir, vars, { arenaSize });
    return `${i} g ${r.value ? 1 : 0} ${r.overflow ? 1 : 0}`;
  }
  const r = execTypedBlock(ir, vars, { arenaSize, caps: new Map([['o', c.in.oCap]]) });
  // After an overflow the outputs are unspecified: only the flag is compared.
  return r.overflow ? `${i} b 1` : `${i} b 0 ${vars.get('ret')} ${hex(vars.get('o') as Uint8Array)}`;
}

/** One C function per case: the rule variables as the code generator declares them, in heap
 *  buffers of exactly their length so that ASan sees any out-of-bounds access. */
function cCase(i: number, c: DiffCase, ir: TypedExpr | TypedBlock): string {
  const bytesVar = (name: string, v: Uint8Array, constant: boolean): string =>
    `  ${constant ? 'const ' : ''}char *${name} = dup_exact(${cStringLiteral(v)}, ${v.length}); size_t ${name}_len = ${v.length};\n`;
  let body = `static void case_${i}(struct mvr_arena *mvr_arena) {\n`;
  body += `  long n = (long)${cInt(c.in.n)}; size_t m = (size_t)${cInt(c.in.m)}; long ret = (long)${cInt(c.in.ret)};\n`;
  body += bytesVar('s', c.in.s, true) + bytesVar('t', c.in.t, true);
  body += `  char *o = dup_cap(${cStringLiteral(c.in.o)}, ${c.in.o.length}, ${c.in.oCap}); size_t o_len = ${c.in.o.length}, o_cap = ${c.in.oCap};\n`;
  body += '  (void)n; (void)m; (void)ret; (void)s_len; (void)t_len; (void)o_len; (void)o_cap;\n';
  if (ir.kind === 'TypedExpr') {
    body += `  int g = ${lowerTypedExprToC(ir)};\n`;
    body += `  printf("${i} g %d %d\\n", g != 0, mvr_arena->overflow);\n`;
  } else {
    body += lowerTypedBlockToC(ir).replace(/^/gm, '  ') + '\n';
    body += `  if (mvr_arena->overflow) printf("${i} b 1\\n");\n`;
    body += `  else { printf("${i} b 0 %" PRId64 " ", (int64_t)ret); print_hex(o, o_len); }\n`;
  }
  body += '  free((void *)s); free((void *)t); free(o);\n}\n';
  return body;
}

const C_PRELUDE = `#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mvr_typed.h"

/* A heap buffer of exactly cap bytes holding the n bytes of p; NULL when cap is 0 (the runtime
 * may pass NULL for an empty buffer). The rest is filled with 'U' so stray reads show. */
static char *dup_cap(const char *p, size_t n, size_t cap) {
  if (cap == 0) return NULL;
  char *q = malloc(cap);
  if (!q) abort();
  memset(q, 'U', cap);
  if (n) memcpy(q, p, n);
  return q;
}
static char *dup_exact(const char *p, size_t n) { return dup_cap(p, n, n); }
static void print_hex(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) printf("%02x", (unsigned char)p[i]);
  printf("\\n");
}
`;

function cProgram(cases: DiffCase[], irs: (TypedExpr | TypedBlock)[]): string {
  let src = C_PRELUDE;
  cases.forEach((c, i) => {
    src += cCase(i, c, irs[i]!);
  });
  src += 'static struct mvr_arena arena;\nint main(void) {\n';
  cases.forEach((_c, i) => {
    src += `  case_${i}(&arena);\n`;
  });
  return src + '  return 0;\n}\n';
}

/** Compiles with ASan and UBSan at -O0 (fast to build) and runs the program; with `optimized`,
 *  also builds it at -O2, where gcc's flow-based warnings (-Wmaybe-uninitialized, ...) run. */
function compileAndRun(src: string, arenaSize: number, optimized = false): string {
  const dir = mkdtempSync(join(tmpdir(), 'mvr-typed-'));
  try {
    const file = join(dir, 'cases.c');
    writeFileSync(file, src);
    const flags = ['-std=c11', '-Wall', '-Wextra', '-Werror', `-DMVR_T_ARENA_SIZE=${arenaSize}`, '-I', INCLUDE_DIR];
    const gcc = (args: string[]): void => {
      const cc = spawnSync('gcc', [...flags, ...args], { encoding: 'utf8' });
      if (cc.status !== 0) throw new Error(`gcc ${args.join(' ')} failed:\n${cc.stderr}${cc.error ?? ''}`);
    };
    if (optimized) gcc(['-O2', '-c', '-o', join(dir, 'cases.o'), file]);
    gcc(['-O0', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-o', join(dir, 'cases'), file]);
    return execFileSync(join(dir, 'cases'), { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' }, maxBuffer: 64 << 20 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Two runs of numCases random guards and callbacks each; with `optimized`, the first run's
 *  program is also built at -O2 (slow for programs this large, so only once). */
function differential(arenaSize: number, numCases: number, optimized: boolean, expectOverflows: boolean): void {
  let run = 0;
  const oneCase: fc.Arbitrary<DiffCase> = fc.oneof(
    fc.record({ kind: fc.constant('guard' as const), text: guardText, in: inputs }),
    fc.record({ kind: fc.constant('block' as const), text: blockText, in: inputs }),
  );
  const result = fc.check(
    fc.property(fc.array(oneCase, { minLength: numCases, maxLength: numCases }), (cases) => {
      const irs = cases.map((c) => (c.kind === 'guard' ? guardOk(c.text, GUARD_ENV) : blockOk(c.text, BLOCK_ENV)));
      const want = cases.map((c, i) => expected(i, c, irs[i]!, arenaSize));
      const got = compileAndRun(cProgram(cases, irs), arenaSize, optimized && run++ === 0).split('\n');
      expect(got.pop(), 'output ends with a newline').to.equal('');
      for (let i = 0; i < cases.length; i++) {
        if (got[i] !== want[i]) {
          const c = cases[i]!;
          throw new Error(`case ${i} (${c.kind}) disagrees:\n  text: ${c.text}\n  inputs: ${JSON.stringify(c.in, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? hex(v) : v))}\n  evaluator: ${want[i]}\n  C:         ${got[i]}`);
        }
      }
      expect(got).to.have.length(cases.length);
      // The run must exercise both outcomes it is meant to compare.
      const overflowed = want.filter((w) => /^\d+ (g 0 1|b 1)$/.test(w)).length;
      if (expectOverflows) expect(overflowed, 'cases that overflow the arena').to.be.within(10, numCases - 10);
      else expect(want.filter((w) => / g 1 0$/.test(w)).length, 'guards that hold').to.be.greaterThan(10);
    }),
    // Each run compiles one C program; shrinking would recompile per step, and the failure
    // message already names the one disagreeing case.
    { numRuns: 2, endOnFailure: true },
  );
  // fast-check's own report would print all the cases; the error names the one that disagrees.
  if (result.failed) throw new Error(`seed ${result.seed}: ${String(result.errorInstance)}`);
}

describe('typed blocks: evaluator and lowered C agree', function () {
  this.timeout(240_000);

  it('on random guards and callbacks (default 64 KiB arena)', () => {
    differential(TYPED_ARENA_SIZE, 200, true, false);
  });

  it('on random guards and callbacks with a 48-byte arena (overflow agreement)', () => {
    differential(48, 200, false, true);
  });

  it('on edge cases of 64-bit arithmetic, slicing, split and templates', () => {
    const base: Inputs = { n: 0n, m: 0n, ret: 0n, s: enc('a,b'), t: enc(''), o: enc(''), oCap: 40 };
    const blocks = [
      'ret = n % -1;', 'ret = n / -1;', 'ret = n / 0;', 'ret = n % 0;', 'ret = n * n;', 'ret = -n;', 'ret = n - 1;', 'ret = n + n;',
      'ret = n % 7 + (n / 7) * 10;', 'o = `${n}|${-n}|${m}`;', 'o = s.slice(n, -n);', 'o = s.slice(-n);', 'o = s.slice(n);',
      'ret = s.indexOf(t); o = `${s.includes(t)}${s.startsWith(t)}${s.endsWith(t)}`;',
      'for (const x of s.split(t)) { o += `[${x}]`; ret += 1; }', 'for (const x of t.split(s)) { o += `[${x}]`; ret += 1; }',
      'o = s; o += o; o += o; o += o;', 'o = "a"; for (const x of o.split("")) { o += x + "b"; }',
    ];
    const ns = [INT64_MIN, INT64_MIN + 1n, -1n, 0n, 1n, 3n, INT64_MAX];
    const cases: DiffCase[] = [];
    for (const text of blocks) {
      for (const n of ns) {
        cases.push({ kind: 'block', text, in: { ...base, n, m: n < 0n ? 0n : n } });
        cases.push({ kind: 'block', text, in: { ...base, n, s: enc(''), t: enc(n === 0n ? ',' : ''), oCap: 3 } });
      }
    }
    const irs = cases.map((c) => blockOk(c.text, BLOCK_ENV));
    const got = compileAndRun(cProgram(cases, irs), TYPED_ARENA_SIZE).split('\n');
    cases.forEach((c, i) => expect(got[i], `${c.text} with n = ${c.in.n}`).to.equal(expected(i, c, irs[i]!, TYPED_ARENA_SIZE)));
  });

  it('generated C for the LANGUAGE.md examples compiles cleanly and runs', () => {
    const g = guardOk('s.startsWith("PUT-") && !s.startsWith("PUT-string ")', GUARD_ENV);
    const b = blockOk('ret += 7; o = "bad-cmd\\n";', BLOCK_ENV);
    const inp: Inputs = { n: 0n, m: 0n, ret: 1n, s: enc('PUT-key'), t: enc(''), o: enc(''), oCap: 4 };
    const cases: DiffCase[] = [
      { kind: 'guard', text: '', in: inp },
      { kind: 'guard', text: '', in: { ...inp, s: enc('PUT-string k') } },
      { kind: 'block', text: '', in: inp },
    ];
    const out = compileAndRun(cProgram(cases, [g, g, b]), TYPED_ARENA_SIZE, true);
    // The capacity is 4, so only "bad-" reaches the follower.
    expect(out).to.equal(`0 g 1 0\n1 g 0 0\n2 b 0 8 ${hex(enc('bad-'))}\n`);
  });
});
