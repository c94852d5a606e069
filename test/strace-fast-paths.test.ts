// The strace reader's shortcuts for its most common input (plain decimals read without a pattern,
// strings decoded into a scratch buffer, results read without patterns, in-range 32-bit arguments
// kept as they are) must give what the general code gives: checked here against the readings the
// reader made before the shortcuts, written out as the specification.
import { expect } from 'chai';
import fc from 'fast-check';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { canonicalArgs } from '../compiler/syscalls/meaning.ts';
import { syscallByName } from '../compiler/syscalls/lookup.ts';
import { parseCString, parseNumber, parseStraceTrace } from '../compiler/traces/strace.ts';

/** strace's plain numbers: decimal, 0x hex, leading-0 octal, optional sign (the general reading). */
function numberSpec(text: string): bigint | undefined {
  const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[0-7]+|\d+)$/.exec(text.trim());
  if (!m) return undefined;
  const d = m[2]!;
  let v = /^0[xX]/.test(d) ? BigInt(d) : /^0[0-7]+$/.test(d) ? BigInt(`0o${d.slice(1)}`) : BigInt(d);
  if (m[1] === '-') v = -v;
  if (v < -(1n << 63n) || v > (1n << 64n) - 1n) return undefined;
  return BigInt.asIntN(64, v);
}

/** A call's result as the general reading makes it: decimal (a leading 0 is not octal) or hex. */
function resultSpec(text: string): bigint | undefined {
  const m = /^(-?(?:0[xX][0-9a-fA-F]+|\d+))$/.exec(text);
  if (!m) return undefined;
  const h = m[1]!;
  return /^-?0[xX]/.test(h) ? BigInt.asIntN(64, BigInt(h.replace(/^-/, '')) * (h.startsWith('-') ? -1n : 1n)) : BigInt.asIntN(64, BigInt(h));
}

const numberish = fc.oneof(
  fc.stringMatching(/^[-+ ]?[0-9]{0,20}$/),
  fc.stringMatching(/^-?0[0-9]{0,16}$/),
  fc.constantFrom('0', '-0', '00', '-', '', '007', '08', '0x1f', '123456789012345', '1234567890123456', '-999999999999999', '18446744073709551615', '18446744073709551616', ' 5', '5 ', '+5'),
);

describe('strace reader fast paths give the general readings', () => {
  it('numbers: plain decimals, leading zeros (octal), signs, spaces, 15 and 16 digits, out of range', () => {
    for (const t of ['0', '-0', '007', '08', '123456789012345', '1234567890123456', '-', '', '+5', ' 5']) expect(parseNumber(t), t).to.equal(numberSpec(t));
    expect(parseNumber('010')).to.equal(8n); // leading 0: octal, as strace prints it
    expect(parseNumber('08')).to.equal(8n); // not octal: decimal (this threw a SyntaxError)
    expect(parseNumber('-12')).to.equal(-12n);
    expect(parseNumber('1x')).to.equal(undefined);
    fc.assert(fc.property(numberish, (t) => parseNumber(t) === numberSpec(t)), { numRuns: 3000 });
  });

  it('results: a leading 0 stays decimal, -0, large and negative results, errors', () => {
    const rets = ['0', '-0', '0123', '12', '-5', '1234567890123456', '99999999999999999999', '0x7f0000000000', '-1 ENOENT (No such file or directory)', '?'];
    const text = rets.map((r) => `7 lseek(3, 0, SEEK_CUR) = ${r}`).join('\n');
    const diags = new DiagnosticBag();
    const trace = parseStraceTrace({ path: 't.strace', text }, diags);
    expect(diags.items.map((d) => d.message)).to.deep.equal([]);
    const got = trace.events.map((e) => (e.noRet ? '?' : e.ret));
    expect(got).to.deep.equal([0n, 0n, 123n, 12n, -5n, 1234567890123456n, resultSpec('99999999999999999999'), 0x7f0000000000n, -2n, '?']);
    fc.assert(
      fc.property(fc.stringMatching(/^-?[0-9]{1,19}$/), (r) => {
        const d = new DiagnosticBag();
        const t = parseStraceTrace({ path: 't.strace', text: `7 lseek(3, 0, SEEK_CUR) = ${r}` }, d);
        return d.items.length === 0 && t.events[0]!.ret === resultSpec(r);
      }),
      { numRuns: 1000 },
    );
  });

  it('strings: \\xNN, C escapes, octal escapes, UTF-8 text, a cut string; an unterminated one is refused', () => {
    const hx = (b: Uint8Array): string => [...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const s = parseCString(`"${hx(b)}"`, 0);
        return s !== undefined && Buffer.from(s.bytes).equals(Buffer.from(b)) && !s.truncated;
      }),
      { numRuns: 300 },
    );
    const s = parseCString('"a\\n\\t\\0\\177é€😀\\"x"...', 0)!;
    expect([...s.bytes]).to.deep.equal([97, 10, 9, 0, 127, ...Buffer.from('é€😀'), 34, 120]);
    expect(s.truncated).to.equal(true);
    expect(parseCString('"abc', 0)).to.equal(undefined);
    expect(parseCString('"\\q"', 0)).to.equal(undefined);
    // Two strings read one after the other do not share their bytes (the scratch buffer is copied).
    const a = parseCString('"\\x41"', 0)!.bytes;
    parseCString('"\\x42"', 0);
    expect([...a]).to.deep.equal([0x41]);
  });

  it('32-bit arguments: in range kept, out of range cut (fd and int by sign, flags unsigned)', () => {
    const sc = syscallByName('openat')!; // dirfd (fd, 32 bits), path, flags (32 bits), mode
    const spec = (v: bigint, flags: boolean): bigint => (flags ? BigInt.asUintN(32, v) : BigInt.asIntN(32, v));
    fc.assert(
      fc.property(fc.bigInt(-(1n << 63n), (1n << 63n) - 1n), fc.bigInt(-(1n << 63n), (1n << 63n) - 1n), (fd, flags) => {
        const out = canonicalArgs(sc, [fd, 0n, flags, 0n, 0n, 0n]);
        return out[0] === spec(fd, false) && out[2] === spec(flags, true);
      }),
      { numRuns: 2000 },
    );
    expect(canonicalArgs(sc, [0xffffff9cn, 0n, -1n, 0n, 0n, 0n]).slice(0, 3)).to.deep.equal([-100n, 0n, 0xffffffffn]);
  });
});
