// The reference semantics of typed blocks: evaluation of the checked IR in TypeScript.
// runtime-c/include/mvr_typed.h implements the same semantics in C (its header comment states
// them); test/typed-blocks.test.ts checks that both agree on random blocks.
//
// Numbers are 64-bit two's complement: + - * and unary - wrap; x / 0 = 0 and x % 0 = 0;
// INT64_MIN / -1 = INT64_MIN; division truncates toward zero. Byte strings follow the JavaScript
// string methods with bytes in place of UTF-16 units. Byte strings that C builds in the scratch
// arena (concatenations, templates, snapshots) are counted here the same way, so that both agree
// on when the arena overflows: a guard that overflows is false; after a callback that overflows
// the outputs are unspecified and `overflow` is reported.
import { MVR_T_ARENA_SIZE } from '../core/abi.generated.ts';
import type { Expr, Stmt, TypedBlock, TypedExpr } from './ir.ts';

export type Value = bigint | Uint8Array | boolean;

/** MVR_T_ARENA_SIZE in mvr_typed.h (both from runtime-c/common/mvr_abi.tsv). */
export const TYPED_ARENA_SIZE = MVR_T_ARENA_SIZE;

export interface EvalOptions {
  /** Capacity of each output buffer (NAME_cap in C); an assignment keeps at most that many bytes.
   *  Outputs without an entry are not truncated. */
  caps?: ReadonlyMap<string, number>;
  /** Arena size in bytes (default TYPED_ARENA_SIZE); must match the C build's MVR_T_ARENA_SIZE. */
  arenaSize?: number;
}

export interface ExecResult {
  /** The scratch arena overflowed: outputs and the return value are unspecified. */
  overflow: boolean;
}

const OVERFLOW = Symbol('arena overflow');
const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();
const TRUE_TEXT = utf8.encode('true');
const FALSE_TEXT = utf8.encode('false');

const wrap = (v: bigint): bigint => BigInt.asIntN(64, v);

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** First index of x in s at or after from, or -1 (String.prototype.indexOf on bytes). */
function find(s: Uint8Array, x: Uint8Array, from: number): number {
  if (x.length === 0) return from;
  outer: for (let i = from; i + x.length <= s.length; i++) {
    for (let j = 0; j < x.length; j++) if (s[i + j] !== x[j]) continue outer;
    return i;
  }
  return -1;
}

/** String.prototype.slice's index rule: negative counts from the end, then clamp to [0, len]. */
function sliceIndex(i: bigint, len: number): number {
  const n = BigInt(len);
  if (i < 0n) return Number(i + n < 0n ? 0n : i + n);
  return Number(i > n ? n : i);
}

/** String.prototype.split on bytes. */
export function splitBytes(s: Uint8Array, sep: Uint8Array): Uint8Array[] {
  if (sep.length === 0) return Array.from(s, (_b, i) => s.subarray(i, i + 1));
  const parts: Uint8Array[] = [];
  let pos = 0;
  for (;;) {
    const at = find(s, sep, pos);
    if (at < 0) break;
    parts.push(s.subarray(pos, at));
    pos = at + sep.length;
  }
  parts.push(s.subarray(pos));
  return parts;
}

class Machine {
  private used = 0;
  private readonly locals = new Map<string, Value>();
  private readonly arenaSize: number;

  constructor(
    private readonly vars: Map<string, Value>,
    private readonly opts: EvalOptions,
  ) {
    this.arenaSize = opts.arenaSize ?? TYPED_ARENA_SIZE;
  }

  private alloc(n: number): void {
    this.used += n;
    if (this.used > this.arenaSize) throw OVERFLOW;
  }

  private variable(name: string): Value {
    const v = this.vars.get(name);
    if (v === undefined) throw new Error(`typed block: no value for variable '${name}'`);
    return v;
  }

  num(e: Expr): bigint {
    const v = this.eval(e);
    if (typeof v !== 'bigint') throw new Error(`typed block: expected a number, got ${typeof v}`);
    return v;
  }
  bytes(e: Expr): Uint8Array {
    const v = this.eval(e);
    if (!(v instanceof Uint8Array)) throw new Error(`typed block: expected bytes, got ${typeof v}`);
    return v;
  }
  bool(e: Expr): boolean {
    const v = this.eval(e);
    if (typeof v !== 'boolean') throw new Error(`typed block: expected a boolean, got ${typeof v}`);
    return v;
  }

  eval(e: Expr): Value {
    switch (e.k) {
      case 'num':
      case 'bytes':
      case 'bool':
        return e.v;
      case 'var':
        return this.variable(e.name);
      case 'local': {
        const v = this.locals.get(e.local.cname);
        if (v === undefined) throw new Error(`typed block: '${e.local.name}' used before its declaration`);
        return v;
      }
      case 'not':
        return !this.bool(e.e);
      case 'neg':
        return wrap(-this.num(e.e));
      case 'arith': {
        const a = this.num(e.a);
        const b = this.num(e.b);
        switch (e.op) {
          case '+':
            return wrap(a + b);
          case '-':
            return wrap(a - b);
          case '*':
            return wrap(a * b);
          case '/':
            return b === 0n ? 0n : wrap(a / b);
          case '%':
            return b === 0n ? 0n : a % b;
        }
        break;
      }
      case 'concat': {
        const a = this.bytes(e.a);
        const b = this.bytes(e.b);
        this.alloc(a.length + b.length);
        const r = new Uint8Array(a.length + b.length);
        r.set(a, 0);
        r.set(b, a.length);
        return r;
      }
      case 'cmp': {
        if (e.operand === 'bytes') {
          const eq = bytesEqual(this.bytes(e.a), this.bytes(e.b));
          return e.op === '==' ? eq : !eq;
        }
        const a = this.eval(e.a);
        const b = this.eval(e.b);
        switch (e.op) {
          case '==':
            return a === b;
          case '!=':
            return a !== b;
          case '<':
            return a < b;
          case '<=':
            return a <= b;
          case '>':
            return a > b;
          case '>=':
            return a >= b;
        }
        break;
      }
      case 'logic':
        return e.op === '&&' ? this.bool(e.a) && this.bool(e.b) : this.bool(e.a) || this.bool(e.b);
      case 'cond':
        return this.bool(e.c) ? this.eval(e.a) : this.eval(e.b);
      case 'length':
        return BigInt(this.bytes(e.e).length);
      case 'search': {
        const s = this.bytes(e.recv);
        const x = this.bytes(e.arg);
        switch (e.m) {
          case 'startsWith':
            return x.length <= s.length && bytesEqual(s.subarray(0, x.length), x);
          case 'endsWith':
            return x.length <= s.length && bytesEqual(s.subarray(s.length - x.length), x);
          case 'includes':
            return find(s, x, 0) >= 0;
          case 'indexOf':
            return BigInt(find(s, x, 0));
        }
        break;
      }
      case 'slice': {
        const s = this.bytes(e.recv);
        const a = sliceIndex(this.num(e.start), s.length);
        const b = e.end ? sliceIndex(this.num(e.end), s.length) : s.length;
        return b > a ? s.subarray(a, b) : EMPTY;
      }
      case 'template': {
        const chunks = e.parts.map((p) => {
          if ('lit' in p) return p.lit;
          const v = this.eval(p.e);
          if (typeof v === 'bigint') return utf8.encode(v.toString());
          if (typeof v === 'boolean') return v ? TRUE_TEXT : FALSE_TEXT;
          return v;
        });
        const total = chunks.reduce((n, c) => n + c.length, 0);
        this.alloc(total);
        const r = new Uint8Array(total);
        let at = 0;
        for (const c of chunks) {
          r.set(c, at);
          at += c.length;
        }
        return r;
      }
      case 'copy': {
        const v = this.bytes(e.e);
        this.alloc(v.length);
        return v;
      }
    }
    throw new Error('typed block: unreachable');
  }

  exec(list: readonly Stmt[]): void {
    for (const s of list) {
      switch (s.k) {
        case 'const':
          this.locals.set(s.local.cname, this.eval(s.init));
          break;
        case 'assign':
          this.assign(s);
          break;
        case 'if':
          if (this.bool(s.c)) this.exec(s.then);
          else if (s.else) this.exec(s.else);
          break;
        case 'forSplit': {
          const src = this.bytes(s.src);
          const sep = this.bytes(s.sep);
          for (const part of splitBytes(src, sep)) {
            this.locals.set(s.local.cname, part);
            this.exec(s.body);
          }
          break;
        }
        case 'block':
          this.exec(s.body);
          break;
      }
    }
  }

  private assign(s: Extract<Stmt, { k: 'assign' }>): void {
    if (s.ty === 'number') {
      const v = this.num(s.value);
      const old = s.op === '=' ? 0n : (this.variable(s.name) as bigint);
      this.vars.set(s.name, s.op === '=' ? v : s.op === '+=' ? wrap(old + v) : wrap(old - v));
      return;
    }
    if (s.ty === 'bytes') {
      let v = this.bytes(s.value);
      if (s.op === '+=') {
        const old = this.variable(s.name) as Uint8Array;
        this.alloc(old.length + v.length);
        const r = new Uint8Array(old.length + v.length);
        r.set(old, 0);
        r.set(v, old.length);
        v = r;
      }
      const cap = this.opts.caps?.get(s.name);
      this.vars.set(s.name, v.slice(0, cap === undefined ? v.length : Math.max(0, cap)));
      return;
    }
    this.vars.set(s.name, this.bool(s.value));
  }
}

/** Evaluates a guard; false when the scratch arena overflows. */
export function evalTypedExpr(e: TypedExpr, vars: Map<string, Value>, opts: EvalOptions = {}): boolean {
  return evalTypedExprDetailed(e, vars, opts).value;
}

/** Evaluates a guard and says whether the scratch arena overflowed (the value is then false). */
export function evalTypedExprDetailed(e: TypedExpr, vars: Map<string, Value>, opts: EvalOptions = {}): { value: boolean; overflow: boolean } {
  try {
    return { value: new Machine(vars, opts).bool(e.expr), overflow: false };
  } catch (x) {
    if (x === OVERFLOW) return { value: false, overflow: true };
    throw x;
  }
}

/** Runs a callback: assignments update outputs and the return value in `vars`. */
export function execTypedBlock(b: TypedBlock, vars: Map<string, Value>, opts: EvalOptions = {}): ExecResult {
  try {
    new Machine(vars, opts).exec(b.body);
    return { overflow: false };
  } catch (x) {
    if (x === OVERFLOW) return { overflow: true };
    throw x;
  }
}
