// Parser unit tests: every LANGUAGE.md §7 example, each syntax error kind (code + exact span),
// error recovery, both C block spellings, the group exception, callbacks, literals, robustness.
import { expect } from 'chai';
import type { CBlock, Call, Group, Include, Import, Item, LhsItem, MvrFile, RhsItem, Rule, TsBlock, TsExpr } from '../compiler/syntax/ast.ts';
import { DiagnosticBag, MAX_ERRORS, type Diagnostic } from '../compiler/core/diagnostics.ts';
import { parseSource, MAX_BLOCK_NESTING } from '../grammar/index.ts';

function parse(text: string): { file: MvrFile; diags: Diagnostic[] } {
  const bag = new DiagnosticBag();
  const file = parseSource({ path: 'test.mvr', text }, bag);
  return { file, diags: bag.sorted() };
}

/** Parses text that must be free of diagnostics. */
function ok(text: string): MvrFile {
  const { file, diags } = parse(text);
  expect(diags.map((d) => `${d.code} ${d.message} @${d.span.offset}`)).to.deep.equal([]);
  return file;
}

function only<T extends Item['kind']>(file: MvrFile, kind: T): Extract<Item, { kind: T }> {
  expect(file.items).to.have.length(1);
  expect(file.items[0]!.kind).to.equal(kind);
  return file.items[0] as Extract<Item, { kind: T }>;
}

function rule(text: string): Rule {
  return only(ok(text), 'Rule');
}

function lhsItems(r: Rule): LhsItem[] {
  if (r.lhs.kind !== 'LhsSeq') throw new Error(`lhs is ${r.lhs.kind}`);
  return r.lhs.items;
}
function rhsItems(r: Rule): RhsItem[] {
  if (r.rhs.kind !== 'RhsSeq') throw new Error(`rhs is ${r.rhs.kind}`);
  return r.rhs.items;
}
function callText(c: Call): string {
  if (c.args === null) return c.name.name;
  const args = c.args.map((a) => (a.kind === 'Wildcard' ? '_' : a.kind === 'Var' ? a.name : a.kind === 'Int' ? a.value.toString() : JSON.stringify(Buffer.from(a.value).toString('latin1'))));
  return `${c.name.name}(${args.join(',')})`;
}
function slice(text: string, s: { offset: number; length: number }): string {
  return text.slice(s.offset, s.offset + s.length);
}
function cb(x: unknown): CBlock {
  expect((x as CBlock).kind).to.equal('CBlock');
  return x as CBlock;
}

/** The §7 examples, one per entry, exactly as LANGUAGE.md writes them. */
const SECTION7 = [
  'open(_,_,_) => dup(_), lseek(_,_,_)',
  'rt_sigaction(_,_) as segv, rt_sigaction(_,_) as ill, rt_sigaction(_,_) as bus,\n  rt_sigaction(_,_) as fpe => ill, rt_sigaction(_,_), bus, fpe, segv',
  'group calls = { read(_,_,_), write(_,_,_) }',
  'calls as self => gettid(), write(_,_,_), rt_sigprocmask(_), self, rt_sigprocmask(_), gettid(), read(_,_,_)',
  'nothing => rt_sigaction(15,_,_)',
  'write(_,_,_) => write(_,_,count) -> (ret) { $(ret) = $(count); }',
  'begin => mprotect(_), mprotect(_) *, munmap(_)',
  'read(_,_,_), write(_,"500 Unknown command",_) => read(_,"FOOBAR\\r\\n",8), write(_,"500 Unknown command",_)',
  'read(fd,s,n) {{ return strncmp(s, "put(", 4) == 0; }}\n  => read(fd,ss,n) {{ /* build ss from s */ }} {{ ret += 7; }}',
  'read(fd, s, _) if (s.startsWith("PUT-") && !s.startsWith("PUT-string ")) as r => r(fd, "bad-cmd\\n", 8)',
];

describe('parser: LANGUAGE.md §7 examples', () => {
  it('parse together as one file with zero diagnostics, one item each', () => {
    const file = ok(SECTION7.join('\n'));
    expect(file.items.map((i) => i.kind)).to.deep.equal(['Rule', 'Rule', 'Group', 'Rule', 'Rule', 'Rule', 'Rule', 'Rule', 'Rule', 'Rule']);
  });

  it('open => dup, lseek', () => {
    const r = rule(SECTION7[0]!);
    expect(lhsItems(r).map((i) => callText(i.call))).to.deep.equal(['open(_,_,_)']);
    expect(rhsItems(r).map((i) => callText(i.call))).to.deep.equal(['dup(_)', 'lseek(_,_,_)']);
    expect(slice(SECTION7[0]!, r.arrow)).to.equal('=>');
    expect(r.span).to.deep.equal({ offset: 0, length: SECTION7[0]!.length });
  });

  it('four labelled rt_sigaction events over two lines, labels replayed on the right', () => {
    const r = rule(SECTION7[1]!);
    expect(lhsItems(r).map((i) => i.label?.name)).to.deep.equal(['segv', 'ill', 'bus', 'fpe']);
    expect(lhsItems(r).every((i) => callText(i.call) === 'rt_sigaction(_,_)')).to.equal(true);
    expect(rhsItems(r).map((i) => callText(i.call))).to.deep.equal(['ill', 'rt_sigaction(_,_)', 'bus', 'fpe', 'segv']);
    expect(slice(SECTION7[1]!, lhsItems(r)[3]!.span)).to.equal('rt_sigaction(_,_) as fpe');
  });

  it('group with a list of syscall patterns (the `{` after `group NAME =` is not C)', () => {
    const g = only(ok(SECTION7[2]!), 'Group');
    expect(g.name.name).to.equal('calls');
    expect(g.members.map(callText)).to.deep.equal(['read(_,_,_)', 'write(_,_,_)']);
    expect(g.span).to.deep.equal({ offset: 0, length: SECTION7[2]!.length });
  });

  it('group name with a label on the left, seven calls on the right', () => {
    const r = rule(SECTION7[3]!);
    expect(lhsItems(r)[0]!.call.args).to.equal(null);
    expect(lhsItems(r)[0]!.label?.name).to.equal('self');
    expect(rhsItems(r).map((i) => callText(i.call))).to.deep.equal(['gettid()', 'write(_,_,_)', 'rt_sigprocmask(_)', 'self', 'rt_sigprocmask(_)', 'gettid()', 'read(_,_,_)']);
    expect(rhsItems(r)[0]!.call.args).to.deep.equal([]);
  });

  it('nothing on the left, an integer argument', () => {
    const r = rule(SECTION7[4]!);
    expect(r.lhs.kind).to.equal('Nothing');
    const a = rhsItems(r)[0]!.call.args![0]!;
    expect(a).to.include({ kind: 'Int', value: 15n, raw: '15' });
  });

  it('ATC callback `-> (ret) { C }` with its code offset', () => {
    const text = SECTION7[5]!;
    const r = rule(text);
    const c = rhsItems(r)[0]!.callback!;
    expect(c.retName?.name).to.equal('ret');
    const body = cb(c.body);
    expect(body.style).to.equal('single');
    expect(body.code).to.equal(' $(ret) = $(count); ');
    expect(text.slice(body.codeOffset, body.codeOffset + body.code.length)).to.equal(body.code);
    expect(slice(text, c.span)).to.equal('-> (ret) { $(ret) = $(count); }');
    expect(rhsItems(r)[0]!.guard).to.equal(undefined);
  });

  it('begin => with a starred item', () => {
    const r = rule(SECTION7[6]!);
    expect(r.lhs.kind).to.equal('Begin');
    expect(rhsItems(r).map((i) => i.star)).to.deep.equal([false, true, false]);
    expect(slice(SECTION7[6]!, rhsItems(r)[1]!.span)).to.equal('mprotect(_) *');
  });

  it('string arguments are decoded to bytes', () => {
    const r = rule(SECTION7[7]!);
    const arg = rhsItems(r)[0]!.call.args![1]!;
    if (arg.kind !== 'String') throw new Error('not a string');
    expect([...arg.value]).to.deep.equal([...Buffer.from('FOOBAR\r\n')]);
    expect(arg.raw).to.equal('"FOOBAR\\r\\n"');
  });

  it('slides style: guard {{ }} on the left, guard + callback {{ }} {{ }} on the right', () => {
    const text = SECTION7[8]!;
    const r = rule(text);
    const g = cb(lhsItems(r)[0]!.guard);
    expect(g.style).to.equal('double');
    expect(g.code).to.equal(' return strncmp(s, "put(", 4) == 0; ');
    const it = rhsItems(r)[0]!;
    expect(cb(it.guard).code).to.equal(' /* build ss from s */ ');
    expect(it.callback?.retName).to.equal(undefined);
    const body = cb(it.callback!.body);
    expect(body.code).to.equal(' ret += 7; ');
    expect(text.slice(body.codeOffset - 2, body.codeOffset + body.code.length + 2)).to.equal('{{ ret += 7; }}');
  });

  it('typed guard `if (...)` before a label; the label replayed with other arguments', () => {
    const text = SECTION7[9]!;
    const r = rule(text);
    const li = lhsItems(r)[0]!;
    const g = li.guard as TsExpr;
    expect(g.kind).to.equal('TsExpr');
    expect(g.text).to.equal('s.startsWith("PUT-") && !s.startsWith("PUT-string ")');
    expect(text.slice(g.textOffset, g.textOffset + g.text.length)).to.equal(g.text);
    expect(slice(text, g.span)).to.equal(`if (${g.text})`);
    expect(li.label?.name).to.equal('r');
    expect(callText(rhsItems(r)[0]!.call)).to.equal('r(fd,"bad-cmd\\n",8)');
  });
});

describe('parser: C blocks and typed blocks', () => {
  it('{ ... } skips braces in strings, character literals and both comment kinds', () => {
    const code = ' char *s = "}{"; char c = \'}\'; char d = \'\\\'\'; /* } */ // }\n if (x) { y(); } ';
    const r = rule(`a => b {${code}}`);
    expect(cb(rhsItems(r)[0]!.guard).code).to.equal(code);
  });

  it('{{ ... }} ends at the first }} at brace depth 0, skipping strings and comments', () => {
    const code = ' if (x) { y("}}"); } /* }} */ ';
    const text = `a {{${code}}} => b`;
    const r = rule(text);
    const g = cb(lhsItems(r)[0]!.guard);
    expect(g.style).to.equal('double');
    expect(g.code).to.equal(code);
    expect(g.codeOffset).to.equal(4);
  });

  it('{{ {x} }} and {{ {x}}} both end at the right place', () => {
    expect(cb(lhsItems(rule('a {{ {x} }} => b'))[0]!.guard).code).to.equal(' {x} ');
    expect(cb(lhsItems(rule('a {{ {x}}} => b'))[0]!.guard).code).to.equal(' {x}');
  });

  it('a C block may span lines; comments inside it are not file comments', () => {
    const file = ok('a => b {\n  x = 1; // not a file comment\n  /* neither */\n} // but this is');
    expect(file.comments.map((c) => c.text)).to.deep.equal(['// but this is']);
  });

  it('callback forms: -> { C }, -> (r) { C }, -> do { TS }, -> (r) do { TS }, second C block', () => {
    const r = rule('a => b -> { x; }, c -> (r) {{ y; }}, d -> do { ret = 1; }, e -> (n) do { n = "}"; }, f { g } { h } *');
    const [b, c, d, e, f] = rhsItems(r);
    expect(cb(b!.callback!.body).code).to.equal(' x; ');
    expect(b!.callback!.retName).to.equal(undefined);
    expect(c!.callback!.retName?.name).to.equal('r');
    expect(cb(c!.callback!.body).style).to.equal('double');
    const db = d!.callback!.body as TsBlock;
    expect(db.kind).to.equal('TsBlock');
    expect(db.text).to.equal(' ret = 1; ');
    expect(e!.callback!.retName?.name).to.equal('n');
    expect((e!.callback!.body as TsBlock).text).to.equal(' n = "}"; ');
    expect(cb(f!.guard).code).to.equal(' g ');
    expect(cb(f!.callback!.body).code).to.equal(' h ');
    expect(f!.star).to.equal(true);
  });

  it('right-hand order: call, guard, callback, *', () => {
    const r = rule('a => b(x) if (x > 1) -> (r) do { r = 2; } *');
    const it = rhsItems(r)[0]!;
    expect(it.guard?.kind).to.equal('TsExpr');
    expect(it.callback?.body.kind).to.equal('TsBlock');
    expect(it.star).to.equal(true);
  });

  it('typed expressions skip TS strings and template literals with nested holes', () => {
    const expr = 's == `)${`(${x})`}` && t != ")" && u != \')\'';
    const lhs = lhsItems(rule(`a(s) if (${expr}) => b`))[0]!;
    expect((lhs.guard as TsExpr).text).to.equal(expr);
  });

  it('the group list may span lines and have comments before its `{`', () => {
    const file = ok('group io = /* reads and writes */\n{\n  read(fd, _, _), // in\n  write(fd, "}", _)\n}\nio => nothing');
    const g = file.items[0] as Group;
    expect(g.members.map(callText)).to.deep.equal(['read(fd,_,_)', 'write(fd,"}",_)']);
    expect(file.items[1]!.kind).to.equal('Rule');
    expect(file.comments).to.have.length(2);
  });

  it('`{` after `do` is a typed block, `{` after `group NAME =` is a list, otherwise C', () => {
    const file = ok('group g = { a, b(_) }\nx => y { c }, z -> do { d }');
    const g = file.items[0] as Group;
    expect(g.members.map(callText)).to.deep.equal(['a', 'b(_)']);
    const r = file.items[1] as Rule;
    expect(rhsItems(r)[0]!.guard?.kind).to.equal('CBlock');
    expect(rhsItems(r)[1]!.callback?.body.kind).to.equal('TsBlock');
  });
});

describe('parser: other items and literals', () => {
  it('@name, nothing, diverge with and without a reason', () => {
    const file = ok('@quit read(_, "QUIT", _) => diverge "old version has no QUIT"\n@drop write(_,_,_) => nothing\nx => diverge');
    const [a, b, c] = file.items as Rule[];
    expect(a!.name?.name).to.equal('quit');
    expect(a!.span.offset).to.equal(0);
    expect(a!.rhs.kind).to.equal('Diverge');
    if (a!.rhs.kind === 'Diverge') expect(Buffer.from(a!.rhs.reason!.value).toString()).to.equal('old version has no QUIT');
    expect(b!.rhs.kind).to.equal('Nothing');
    expect(c!.rhs).to.deep.include({ kind: 'Diverge' });
    if (c!.rhs.kind === 'Diverge') expect(c!.rhs.reason).to.equal(undefined);
  });

  it('#include "x.h", #include <x.h> and import', () => {
    const text = '#include "my rules.h"\n#include <sys/types.h>\nimport "std/redis"';
    const file = ok(text);
    const [a, b, c] = file.items as [Include, Include, Import];
    expect(a).to.deep.include({ target: 'my rules.h', angled: false });
    expect(b).to.deep.include({ target: 'sys/types.h', angled: true });
    expect(slice(text, b.span)).to.equal('#include <sys/types.h>');
    expect(c.path).to.equal('std/redis');
    expect(slice(text, c.pathSpan)).to.equal('"std/redis"');
  });

  it('integers: decimal, hex, 0o and leading-0 octal, negative, the 64-bit limits', () => {
    const r = rule('a(10, 0x1F, 0o17, 017, 0, -5, -0x10, 0xffffffffffffffff, -9223372036854775808) => b');
    const vals = lhsItems(r)[0]!.call.args!.map((a) => (a.kind === 'Int' ? a.value : undefined));
    expect(vals).to.deep.equal([10n, 31n, 15n, 15n, 0n, -5n, -16n, (1n << 64n) - 1n, -(1n << 63n)]);
  });

  it('string escapes denote bytes; other characters are UTF-8', () => {
    const r = rule('a("\\r\\n\\t\\\\\\"\\x41\\x7f\\0é") => b');
    const a = lhsItems(r)[0]!.call.args![0]!;
    if (a.kind !== 'String') throw new Error('not a string');
    expect([...a.value]).to.deep.equal([13, 10, 9, 92, 34, 0x41, 0x7f, 0, 0xc3, 0xa9]);
  });

  it('comments are collected in order with their kind and span', () => {
    const text = '// one\na => b /* two */\n/* three\n */';
    const file = ok(text);
    expect(file.comments.map((c) => [c.kind, c.text, slice(text, c.span)])).to.deep.equal([
      ['line', '// one', '// one'],
      ['block', '/* two */', '/* two */'],
      ['block', '/* three\n */', '/* three\n */'],
    ]);
  });

  it('keywords are reserved', () => {
    const { diags } = parse('open(as) => x');
    expect(diags.map((d) => [d.code, d.message, d.span.offset])).to.deep.equal([['MVR1001', "unexpected keyword 'as'; expected an argument (_, a name, a string or an integer) or ')'", 5]]);
  });

  it('an identifier that starts with a keyword or _ is a name', () => {
    const r = rule('doit(_x, asx, if_) => nothingness');
    expect(callText(lhsItems(r)[0]!.call)).to.equal('doit(_x,asx,if_)');
    expect(callText(rhsItems(r)[0]!.call)).to.equal('nothingness');
  });
});

/** The diagnostics of a text as [code, offset, length]. */
function codes(text: string): [string, number, number][] {
  return parse(text).diags.map((d) => [d.code, d.span.offset, d.span.length]);
}

describe('parser: syntax errors (code and exact span)', () => {
  it('MVR1001 unexpected token, with readable names', () => {
    const { diags } = parse('open(_,) => x');
    expect(diags.map((d) => [d.code, d.message, d.span.offset, d.span.length])).to.deep.equal([
      ['MVR1001', "unexpected ')'; expected an argument (_, a name, a string or an integer)", 7, 1],
    ]);
    const eof = parse('open(_, _');
    expect(eof.diags.map((d) => [d.code, d.message, d.span.offset, d.span.length])).to.deep.equal([['MVR1001', "unexpected end of file; expected ',' or ')'", 9, 0]]);
  });

  it('a block that runs to the end of the file causes no second error there', () => {
    expect(codes('read(_,_,_) { return 1;\n')).to.deep.equal([['MVR1002', 12, 1]]);
    expect(codes('read(_,s,_) if (s.length > 1 => nothing\n')).to.deep.equal([['MVR1009', 15, 1]]);
    expect(codes('a => b\n/* open')).to.deep.equal([['MVR1005', 7, 2]]);
    const { file, diags } = parse('a => b("abc\nc => d');
    expect(diags.map((d) => [d.code, d.span.offset])).to.deep.equal([['MVR1004', 7]]);
    expect(file.items).to.have.length(1);
  });

  it('MVR1002 / MVR1003 unterminated C blocks point at the opening delimiter', () => {
    expect(codes('a => b { x; "}" ')).to.deep.equal([['MVR1002', 7, 1]]);
    expect(codes('a => b {{ x; } }')).to.deep.equal([['MVR1003', 7, 2]]);
  });

  it('MVR1004 unterminated string, MVR1005 unterminated comment', () => {
    expect(codes('a("abc) => b\n')).to.deep.include(['MVR1004', 2, 1]);
    expect(codes('a => b /* x')).to.deep.equal([['MVR1005', 7, 2]]);
  });

  it('MVR1006 invalid character (a whole code point)', () => {
    const { diags } = parse('a => b $\nc => d 😀');
    expect(diags.map((d) => [d.code, d.message, d.span.offset, d.span.length])).to.deep.equal([
      ['MVR1006', "invalid character '$'", 7, 1],
      ['MVR1006', 'invalid character U+1F600', 16, 2],
    ]);
    const run = parse('a => b $%^\u0001\nc => d').diags;
    expect(run.map((d) => [d.code, d.message, d.span.offset, d.span.length])).to.deep.equal([['MVR1006', "invalid character '$' (and 3 more)", 7, 4]]);
  });

  it('MVR1007 invalid escape, at the backslash', () => {
    const { diags } = parse('a("ab\\qc", "\\x") => b');
    expect(diags.map((d) => [d.code, d.message, d.span.offset, d.span.length])).to.deep.equal([
      ['MVR1007', 'invalid escape sequence \\q in string', 5, 2],
      ['MVR1007', 'invalid escape sequence \\x in string', 12, 2],
    ]);
  });

  it('escapes are not checked in #include "header names" (copied to C as written)', () => {
    const inc = only(ok('#include "dir\\my\\x.h"'), 'Include');
    expect(inc.target).to.equal('dir\\my\\x.h');
  });

  it('MVR1008 integers outside 64 bits, MVR1015 malformed integers', () => {
    expect(codes('a(18446744073709551616) => b')).to.deep.equal([['MVR1008', 2, 20]]);
    expect(codes('a(-9223372036854775809) => b')).to.deep.equal([['MVR1008', 2, 20]]);
    expect(codes('a(08, 0x, 12ab) => b')).to.deep.equal([
      ['MVR1015', 2, 2],
      ['MVR1015', 6, 2],
      ['MVR1015', 10, 4],
    ]);
  });

  it('MVR1009 unterminated typed blocks', () => {
    const d1 = parse('a if (x && (y) => b').diags;
    expect(d1[0]).to.deep.include({ code: 'MVR1009', message: "unterminated typed block: this '(' has no matching ')'", span: { offset: 5, length: 1 } });
    const d2 = parse('a => b -> do { x = `}` ').diags;
    expect(d2.map((d) => [d.code, d.message, d.span.offset])).to.deep.equal([['MVR1009', "unterminated typed block: this '{' has no matching '}'", 13]]);
  });

  it("MVR1010 missing '=>' at the token where it was expected", () => {
    expect(codes('open(_,_,_) dup(_)')).to.deep.equal([['MVR1010', 12, 3]]);
    expect(codes('nothing dup(_)')).to.deep.equal([['MVR1010', 8, 3]]);
    expect(codes('open(_)')).to.deep.equal([['MVR1010', 7, 0]]);
  });

  it('MVR1011 after too many errors', () => {
    const { diags } = parse('a => $\n'.repeat(MAX_ERRORS + 50));
    expect(diags.filter((d) => d.code === 'MVR1006')).to.have.length(MAX_ERRORS);
    expect(diags.filter((d) => d.code === 'MVR1011')).to.have.length(1);
  });

  it('MVR1012 empty left or right side', () => {
    expect(codes('=> dup(_)')).to.deep.equal([['MVR1012', 0, 2]]);
    expect(parse('a(_) =>\n@next b => c').diags.map((d) => [d.code, d.message, d.span.offset])).to.deep.equal([['MVR1012', 'the right side of a rule is empty', 5]]);
    expect(codes('a =>')).to.deep.equal([['MVR1012', 2, 2]]);
  });

  it('MVR1013 invalid #include path', () => {
    expect(codes('#include <stdio.h\na => b')).to.deep.equal([['MVR1013', 9, 8]]);
    expect(codes('#include <>')).to.deep.equal([['MVR1013', 9, 2]]);
  });

  it('MVR1014 nesting deeper than the limit, at the first too-deep delimiter', () => {
    const depth = MAX_BLOCK_NESTING + 5;
    // '{ {' (not '{{', which would open a double block)
    const text = `a => b ${'{ '.repeat(depth)}${' }'.repeat(depth)}`;
    const { file, diags } = parse(text);
    expect(diags.map((d) => [d.code, d.span.offset, d.span.length])).to.deep.equal([['MVR1014', 7 + 2 * MAX_BLOCK_NESTING, 1]]);
    expect(file.items).to.have.length(1);
    expect(codes(`a => b ${'{ '.repeat(MAX_BLOCK_NESTING)}${' }'.repeat(MAX_BLOCK_NESTING)}`)).to.deep.equal([]);
    expect(codes(`a if ${'('.repeat(MAX_BLOCK_NESTING + 1)}${')'.repeat(MAX_BLOCK_NESTING + 1)} => b`)).to.deep.equal([['MVR1014', 5 + MAX_BLOCK_NESTING, 1]]);
  });

  it("MVR4012 '*' on the left side", () => {
    expect(codes('a(_) * => b')).to.deep.equal([['MVR4012', 5, 1]]);
  });
});

describe('parser: error recovery', () => {
  it('three broken rules: three diagnostics, and the good rules between them are kept', () => {
    const text = [
      '@g1 open(_,_,_) => dup(_)',
      'read(_,) => write(_)', // bad argument
      '@g2 close(_) => nothing',
      'write(_,_,_) dup(_)', // missing =>
      '@g3 a => b',
      '=> lseek(_)', // empty left side
      '@g4 group_member => c(_), d',
      'group g = { read, write }',
    ].join('\n');
    const { file, diags } = parse(text);
    expect(diags.map((d) => d.code)).to.deep.equal(['MVR1001', 'MVR1010', 'MVR1012']);
    const names = file.items.map((i) => (i.kind === 'Rule' ? i.name?.name : i.kind));
    expect(names).to.deep.equal(['g1', 'g2', 'g3', 'g4', 'Group']);
  });

  it('a rule continued on the next line after a comma is not a new item', () => {
    const { file, diags } = parse('a(_ _) => b,\n  c\nd => e');
    expect(diags.map((d) => d.code)).to.deep.equal(['MVR1001']);
    expect(file.items.map((i) => (i as Rule).lhs.kind === 'LhsSeq' && callText(lhsItems(i as Rule)[0]!.call))).to.deep.equal(['d']);
  });

  it('errors in several places of one file are all reported', () => {
    const { diags } = parse('a => b { x\n'.replace('{', '(') + 'c(1,,2) => d\ne => f\n"str" => g\nh => $');
    // b( x / c(1,,2) / "str" at an item start / an empty right side (the '$' is not a token)
    expect(diags.map((d) => d.code)).to.deep.equal(['MVR1001', 'MVR1001', 'MVR1001', 'MVR1012', 'MVR1006']);
  });
});

describe('parser: robustness (no throw, no hang, a diagnostic)', () => {
  function robust(text: string): Diagnostic[] {
    const { file, diags } = parse(text);
    expect(file.kind).to.equal('File');
    for (const d of diags) {
      expect(d.span.offset).to.be.within(0, text.length);
      expect(d.span.offset + d.span.length).to.be.at.most(text.length);
    }
    return diags;
  }

  it('binary garbage (1 MB of random bytes as latin1)', () => {
    let seed = 12345;
    const chars: string[] = [];
    for (let i = 0; i < 1 << 20; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      chars.push(String.fromCharCode(seed >>> 24));
    }
    expect(robust(chars.join('')).length).to.be.greaterThan(0);
  });

  it('a 10 MB file', () => {
    // Rules with sizeable C blocks (as generated rule files have), 10 MB in all.
    const body = '\n    if (n > 0 && s[0] == \'{\') { memcpy(ss, s, n); } /* } */ else { ss[0] = \'}\'; }'.repeat(12);
    const block = `read(fd, s, n) {{ return n > 0 && s[0] == '{'; }} => read(fd, ss, n) {${body}\n}, write(_, "x\\n", 2)\n`;
    const count = Math.ceil((10 << 20) / block.length);
    const text = block.repeat(count) + 'broken => (';
    const diags = robust(text);
    expect(diags.map((d) => [d.code, d.span.offset])).to.deep.equal([['MVR1001', text.length - 1]]); // the '('
    expect(parse(text).file.items).to.have.length(count);
  });

  it('10,000 nested braces in a C block, terminated or not', () => {
    expect(robust(`a => b ${'{ '.repeat(10000)}${'}'.repeat(10000)}`).map((d) => d.code)).to.deep.equal(['MVR1014']);
    expect(robust(`a => b ${'{ '.repeat(10000)}`).map((d) => d.code)).to.deep.equal(['MVR1002', 'MVR1014']);
    expect(robust(`a => b ${'{'.repeat(10000)}`).map((d) => d.code)).to.deep.equal(['MVR1003', 'MVR1014']);
  });

  it('10,000 nested parentheses in if (...), terminated or not', () => {
    expect(robust(`a if ${'('.repeat(10000)}${')'.repeat(10000)} => b`).map((d) => d.code)).to.deep.equal(['MVR1014']);
    expect(robust(`a if ${'('.repeat(10000)}`).map((d) => d.code)).to.include('MVR1009');
  });

  it('unterminated everything', () => {
    for (const text of ['a => b {', 'a => b {{', 'a("', 'a => b /*', 'a if (', 'a => b -> do {', '#include <', 'a => b -> (', '@', 'group g = {', '"', "a => b { 'x", 'a => b { "x', 'a => b { /* x', 'a if (`${']) {
      expect(robust(text), text).to.not.be.empty;
    }
  });

  it('a 10,000-rule file parses with no diagnostics (its speed: bench/check-bench.mjs)', () => {
    const lines: string[] = [];
    for (let i = 0; i < 10000; i++) {
      if (i % 4 === 0) lines.push(`@r${i} read(fd, buf, 4096), write(_, "500 Unknown command", _) => read(_, "FOOBAR\\r\\n", 8)`);
      else if (i % 4 === 1) lines.push(`open("/etc/f${i}", _, _) as o => o, lseek(_, 0, 0) *, fstat(_, _)`);
      else if (i % 4 === 2) lines.push(`write(_,_,_) => write(_,_,count) -> (ret) { $(ret) = $(count); } // ${i}`);
      else lines.push(`read(fd, s, _) if (s.startsWith("PUT-")) as r => r(fd, "bad\\n", 4)`);
    }
    const text = lines.join('\n');
    const { file, diags } = parse(text);
    expect(diags).to.deep.equal([]);
    expect(file.items).to.have.length(10000);
  });
});

describe('parser: spans', () => {
  it('every call, item and block span covers exactly its text', () => {
    const text = SECTION7.join('\n');
    const file = ok(text);
    for (const item of file.items) {
      if (item.kind !== 'Rule') continue;
      const calls: Call[] = [];
      if (item.lhs.kind === 'LhsSeq') for (const i of item.lhs.items) calls.push(i.call);
      if (item.rhs.kind === 'RhsSeq') for (const i of item.rhs.items) calls.push(i.call);
      for (const c of calls) {
        const s = slice(text, c.span);
        expect(s.startsWith(c.name.name)).to.equal(true);
        expect(c.args === null ? s === c.name.name : s.endsWith(')')).to.equal(true);
        for (const a of c.args ?? []) expect(slice(text, a.span)).to.match(/^(_|\w+|"[^"]*"|-?\d+)$/);
      }
      expect(slice(text, item.span).endsWith(slice(text, item.rhs.span))).to.equal(true);
    }
  });
});
