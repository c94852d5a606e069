// Properties of the parser and the printer (fast-check):
//  - parseSource never throws, whatever the input (arbitrary strings, full Unicode, lone
//    surrogates, mutations of valid files), and every diagnostic span lies inside the text;
//  - print -> parse is the identity on random valid ASTs (ignoring spans, offsets and `raw`);
//  - fmt is idempotent on random valid files with comments and blank lines.
import { expect } from 'chai';
import fc from 'fast-check';
import type { Arg, Call, Callback, CBlock, Comment, Group, Guard, Import, Include, Item, LhsItem, MvrFile, RhsItem, Rule, StringArg, TsBlock, TsExpr } from '../compiler/syntax/ast.ts';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { printFile } from '../compiler/syntax/printer.ts';
import { parseSource } from '../grammar/index.ts';
import { mvrLexer } from '../grammar/lexer.ts';

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
const EXAMPLES = `// the LANGUAGE.md examples\n${SECTION7.join('\n')}\n/* end */\n`;

function parse(text: string): { file: MvrFile; bag: DiagnosticBag } {
  const bag = new DiagnosticBag();
  return { file: parseSource({ path: 'p.mvr', text }, bag), bag };
}

/** Parses without throwing and with every diagnostic inside the text. */
function parsesSafely(text: string): void {
  const { file, bag } = parse(text);
  expect(file.kind).to.equal('File');
  for (const d of bag.items) {
    expect(d.code).to.match(/^MVR\d{4}$/);
    expect(d.span.offset).to.be.within(0, text.length);
    expect(d.span.offset + d.span.length).to.be.at.most(text.length);
  }
  // Whatever was recovered can be printed.
  printFile(file);
}

// ---- never throws ------------------------------------------------------------------------------

/** Characters that matter to the lexer, so mutations hit interesting states. */
const SPECIAL = [...'{}()[]"\'`/*\\,=>-@#_<>$\n\r\t 0x9aZ'];
const specialChar = fc.constantFrom(...SPECIAL);
const anyChar = fc.oneof(specialChar, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));

type Mutation = { kind: 'insert' | 'delete' | 'replace'; at: number; ch: string; len: number };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('insert', 'delete', 'replace'),
  at: fc.nat(),
  ch: anyChar,
  len: fc.integer({ min: 1, max: 8 }),
});

function mutate(text: string, ms: Mutation[]): string {
  let t = text;
  for (const m of ms) {
    const at = t.length === 0 ? 0 : m.at % (t.length + 1);
    if (m.kind === 'insert') t = t.slice(0, at) + m.ch + t.slice(at);
    else if (m.kind === 'delete') t = t.slice(0, at) + t.slice(at + m.len);
    else t = t.slice(0, at) + m.ch + t.slice(at + 1);
  }
  return t;
}

describe('parser properties: parseSource never throws', () => {
  it('on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), parsesSafely), { numRuns: 500 });
  });

  it('on full-Unicode strings (fast-check 3 fullUnicodeString)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), parsesSafely), { numRuns: 500 });
  });

  it('on strings with lone surrogates and control characters', () => {
    const unit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    fc.assert(fc.property(fc.string({ unit, maxLength: 200 }), parsesSafely), { numRuns: 300 });
  });

  it('on strings made of the characters the lexer cares about', () => {
    fc.assert(fc.property(fc.string({ unit: specialChar, maxLength: 200 }), parsesSafely), { numRuns: 500 });
  });

  it('on the §7 examples with random insertions, deletions and substitutions', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 12 }), (ms) => parsesSafely(mutate(EXAMPLES, ms))),
      { numRuns: 1000 },
    );
  });
});

// ---- random valid ASTs ---------------------------------------------------------------------------

const S = { offset: 0, length: 0 };
const KEYWORDS = new Set(['nothing', 'diverge', 'begin', 'group', 'import', 'as', 'if', 'do', '_']);
const ident = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,7}$/).filter((s) => !KEYWORDS.has(s));
const identNode = ident.map((name) => ({ name, span: S }));

const arg: fc.Arbitrary<Arg> = fc.oneof(
  fc.constant<Arg>({ kind: 'Wildcard', span: S }),
  ident.map((name): Arg => ({ kind: 'Var', name, span: S })),
  fc.uint8Array({ maxLength: 12 }).map((value): Arg => ({ kind: 'String', value, raw: '', span: S })),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }).map((value): Arg => ({ kind: 'Int', value, raw: '', span: S })),
);

const call: fc.Arbitrary<Call> = fc.record({
  name: identNode,
  args: fc.option(fc.array(arg, { maxLength: 6 }), { nil: null }),
}).map(({ name, args }) => ({ kind: 'Call', name, args, span: S }));

/** C text that is balanced and cannot end a block early: fragments with strings, comments, braces. */
const cFragment = fc.constantFrom(' x = 1;', ' if (a) { b(); }', ' s = "}}{";', " c = '}';", ' /* } }} */', ' // }\n', '\n  y--;', ' { { } }', ' $(ret) = $(count);', ' return strncmp(s, "put(", 4) == 0;');
const cCode = fc.array(cFragment, { maxLength: 4 }).map((fs) => `${fs.join('')} `);
const cblock: fc.Arbitrary<CBlock> = fc.record({ style: fc.constantFrom<'single' | 'double'>('single', 'double'), code: cCode }).map(({ style, code }) => ({ kind: 'CBlock', style, code, codeOffset: 0, span: S }));

const tsFragment = fc.constantFrom('s.startsWith("PUT-")', 'n > 3', '!(a && b)', '`${x})`.length == 2', "t != ')'", 's.slice(0, 4) == "{}"');
const tsExpr: fc.Arbitrary<TsExpr> = fc.array(tsFragment, { minLength: 1, maxLength: 3 }).map((fs) => ({ kind: 'TsExpr', text: fs.join(' && '), textOffset: 0, span: S }));
const tsStmt = fc.constantFrom(' ret = 1;', ' const x = `}${y}`;', ' out = "}";', ' if (a) { b = 2; }', '\n  ret += 6;');
const tsBlock: fc.Arbitrary<TsBlock> = fc.array(tsStmt, { maxLength: 3 }).map((fs) => ({ kind: 'TsBlock', text: `${fs.join('')} `, textOffset: 0, span: S }));

const guard: fc.Arbitrary<Guard> = fc.oneof(cblock, tsExpr);
const callback: fc.Arbitrary<Callback> = fc
  .record({ retName: fc.option(identNode, { nil: undefined }), body: fc.oneof(cblock, tsBlock) })
  .map(({ retName, body }) => (retName ? { kind: 'Callback', retName, body, span: S } : { kind: 'Callback', body, span: S }));

function withOptional<T extends object>(base: T, extra: Record<string, unknown>): T {
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) (base as Record<string, unknown>)[k] = v;
  return base;
}

const lhsItem: fc.Arbitrary<LhsItem> = fc
  .record({ call, guard: fc.option(guard, { nil: undefined }), label: fc.option(identNode, { nil: undefined }) })
  .map(({ call, guard, label }) => withOptional<LhsItem>({ kind: 'LhsItem', call, span: S }, { guard, label }));
const rhsItem: fc.Arbitrary<RhsItem> = fc
  .record({ call, guard: fc.option(guard, { nil: undefined }), callback: fc.option(callback, { nil: undefined }), star: fc.boolean() })
  .map(({ call, guard, callback, star }) => withOptional<RhsItem>({ kind: 'RhsItem', call, star, span: S }, { guard, callback }));

const stringArg: fc.Arbitrary<StringArg> = fc.uint8Array({ maxLength: 20 }).map((value) => ({ kind: 'String', value, raw: '', span: S }));

const rule: fc.Arbitrary<Rule> = fc
  .record({
    name: fc.option(identNode, { nil: undefined }),
    lhs: fc.oneof(
      { weight: 1, arbitrary: fc.constant<Rule['lhs']>({ kind: 'Nothing', span: S }) },
      { weight: 1, arbitrary: fc.constant<Rule['lhs']>({ kind: 'Begin', span: S }) },
      { weight: 5, arbitrary: fc.array(lhsItem, { minLength: 1, maxLength: 4 }).map((items): Rule['lhs'] => ({ kind: 'LhsSeq', items, span: S })) },
    ),
    rhs: fc.oneof(
      fc.constant<Rule['rhs']>({ kind: 'Nothing', span: S }),
      fc.option(stringArg, { nil: undefined }).map((reason): Rule['rhs'] => withOptional({ kind: 'Diverge', span: S }, { reason })),
      fc.array(rhsItem, { minLength: 1, maxLength: 5 }).map((items): Rule['rhs'] => ({ kind: 'RhsSeq', items, span: S })),
    ),
  })
  // `begin` takes a sequence on the right.
  .filter((r) => r.lhs.kind !== 'Begin' || r.rhs.kind === 'RhsSeq')
  .map(({ name, lhs, rhs }) => withOptional<Rule>({ kind: 'Rule', lhs, rhs, arrow: S, span: S }, { name }));

const group: fc.Arbitrary<Group> = fc
  .record({ name: identNode, members: fc.array(call, { minLength: 1, maxLength: 5 }) })
  .map(({ name, members }) => ({ kind: 'Group', name, members, span: S }));
const headerName = fc.stringMatching(/^[a-z][a-z0-9_/.-]{0,12}\.h$/);
const include: fc.Arbitrary<Include> = fc.record({ target: headerName, angled: fc.boolean() }).map(({ target, angled }) => ({ kind: 'Include', target, angled, span: S }));
const importItem: fc.Arbitrary<Import> = fc
  .oneof(fc.stringMatching(/^std\/[a-z]{1,8}$/), fc.string({ unit: 'binary', maxLength: 10 }))
  .map((path) => ({ kind: 'Import', path, pathSpan: S, span: S }));

const item: fc.Arbitrary<Item> = fc.oneof({ weight: 6, arbitrary: rule }, { weight: 1, arbitrary: group }, { weight: 1, arbitrary: include }, { weight: 1, arbitrary: importItem });

function fileOf(items: Item[], comments: Comment[] = [], text = ''): MvrFile {
  return { kind: 'File', path: 'gen.mvr', text, items, comments, span: { offset: 0, length: text.length } };
}

/** The AST without positions and spellings: what print -> parse must preserve. */
function strip(x: unknown): unknown {
  if (x instanceof Uint8Array) return [...x];
  if (Array.isArray(x)) return x.map(strip);
  if (x !== null && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) {
      if (k === 'span' || k === 'pathSpan' || k === 'arrow' || k === 'codeOffset' || k === 'textOffset' || k === 'raw') continue;
      out[k] = strip(v);
    }
    return out;
  }
  return x;
}

describe('parser properties: print -> parse is the identity', () => {
  it('on random valid ASTs (modulo spans, offsets and raw spellings)', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 8 }), (items) => {
        const text = printFile(fileOf(items));
        const { file, bag } = parse(text);
        expect(bag.items.map((d) => `${d.code} ${d.message}`), text).to.deep.equal([]);
        expect(strip(file.items), text).to.deep.equal(strip(items));
      }),
      { numRuns: 400 },
    );
  });
});

// ---- fmt idempotency on random files with comments ----------------------------------------------

const commentText = fc.oneof(
  fc.stringMatching(/^[ a-z0-9{}()"'=>,*]{0,20}$/).map((s) => `// ${s}`),
  fc.stringMatching(/^[ a-z0-9{}()"'=>,\n]{0,20}$/).map((s) => `/* ${s} */`),
);
const gap = fc.array(fc.oneof(fc.constantFrom(' ', '\n', '\n\n', '\n\n\n', '\t'), commentText.map((c) => (c.startsWith('//') ? ` ${c}\n` : ` ${c} `))), { maxLength: 4 });

/** A valid file: printed random items glued with random whitespace and comments. */
const randomFile = fc.array(fc.tuple(gap, item), { maxLength: 6 }).chain((parts) =>
  gap.map((tail) => {
    let text = '';
    for (const [g, it] of parts) text += `${g.join('')}\n${printFile(fileOf([it])).trimEnd()}\n`;
    return text + tail.join('');
  }),
);

/** Printed items with comments inserted after random tokens (inside rules, calls, groups...). */
const withInternalComments = fc
  .tuple(fc.array(item, { minLength: 1, maxLength: 4 }), fc.array(fc.tuple(fc.nat(), commentText), { minLength: 1, maxLength: 6 }))
  .map(([items, cs]) => {
    const text = printFile(fileOf(items));
    const ends = mvrLexer()
      .tokenize(text)
      .tokens.map((t) => t.startOffset + t.image.length);
    const inserts = cs.map(([n, c]) => [ends[n % ends.length]!, c] as const).sort((a, b) => b[0] - a[0]);
    let t = text;
    for (const [at, c] of inserts) t = `${t.slice(0, at)} ${c}${c.startsWith('//') ? '\n' : ' '}${t.slice(at)}`;
    return t;
  });

describe('printer properties: fmt is idempotent and keeps every comment', () => {
  it('comments inside items: kept, in order, and printing is idempotent', () => {
    fc.assert(
      fc.property(withInternalComments, (text) => {
        const first = parse(text);
        expect(first.bag.items.map((d) => `${d.code} ${d.message}`), text).to.deep.equal([]);
        const once = printFile(first.file);
        const second = parse(once);
        expect(second.bag.items.map((d) => d.code), once).to.deep.equal([]);
        expect(second.file.comments.map((c) => c.text), once).to.deep.equal(first.file.comments.map((c) => c.text));
        expect(strip(second.file.items)).to.deep.equal(strip(first.file.items));
        expect(printFile(second.file), once).to.equal(once);
      }),
      { numRuns: 400 },
    );
  });

  it('print(parse(print(parse(x)))) === print(parse(x)) on random files', () => {
    fc.assert(
      fc.property(randomFile, (text) => {
        const first = parse(text);
        expect(first.bag.items.map((d) => `${d.code} ${d.message}`), text).to.deep.equal([]);
        const once = printFile(first.file);
        const second = parse(once);
        expect(second.bag.items.map((d) => d.code), once).to.deep.equal([]);
        expect(printFile(second.file), once).to.equal(once);
        expect(second.file.comments.map((c) => c.text)).to.deep.equal(first.file.comments.map((c) => c.text));
        expect(strip(second.file.items)).to.deep.equal(strip(first.file.items));
      }),
      { numRuns: 400 },
    );
  });

  it('fmt is idempotent on mutated §7 examples that still parse', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
        const text = mutate(EXAMPLES, ms);
        const first = parse(text);
        fc.pre(!first.bag.hasErrors);
        const once = printFile(first.file);
        expect(printFile(parse(once).file), once).to.equal(once);
      }),
      { numRuns: 300 },
    );
  });
});
