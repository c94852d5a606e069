// Literals of the mvr language: string literals (bytes, with C-style escapes) and integer literals,
// decoded for the AST builder and encoded for the printer. Below the parser so that the printer and
// mvrc infer can spell literals without depending on the grammar.
export interface EscapeError {
  /** Offset of the backslash relative to the start of the literal (the opening quote). */
  offset: number;
  length: number;
  text: string;
}

const utf8 = new TextEncoder();

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Decodes a string literal as written (quotes included; a missing closing quote is tolerated).
 * Escapes: \r \n \t \\ \" \0 \xNN (one or two hex digits). Other characters are UTF-8 encoded.
 */
export function decodeString(raw: string): { value: Uint8Array; errors: EscapeError[] } {
  // UTF-8 needs at most 3 bytes per UTF-16 code unit.
  const buf = new Uint8Array(raw.length * 3);
  let pos = 0;
  const bytes = { push: (b: number): void => void (buf[pos++] = b) };
  const errors: EscapeError[] = [];
  let end = raw.length;
  if (end >= 2 && raw.charCodeAt(end - 1) === 34 && isClosingQuote(raw)) end--;
  let i = 1;
  let runStart = i;
  const flush = (to: number): void => {
    if (to > runStart) pos += utf8.encodeInto(raw.slice(runStart, to), buf.subarray(pos)).written;
  };
  while (i < end) {
    if (raw.charCodeAt(i) !== 92) {
      i++;
      continue;
    }
    flush(i);
    const e = raw[i + 1];
    let len = 2;
    switch (e) {
      case 'r':
        bytes.push(13);
        break;
      case 'n':
        bytes.push(10);
        break;
      case 't':
        bytes.push(9);
        break;
      case '\\':
        bytes.push(92);
        break;
      case '"':
        bytes.push(34);
        break;
      case '0':
        bytes.push(0);
        break;
      case 'x': {
        const h1 = i + 2 < end ? hexVal(raw.charCodeAt(i + 2)) : -1;
        if (h1 < 0) {
          errors.push({ offset: i, length: 2, text: '\\x' });
          break;
        }
        const h2 = i + 3 < end ? hexVal(raw.charCodeAt(i + 3)) : -1;
        if (h2 < 0) {
          bytes.push(h1);
          len = 3;
        } else {
          bytes.push(h1 * 16 + h2);
          len = 4;
        }
        break;
      }
      default: {
        // Report the escape with its whole character (a surrogate pair is one character).
        const cp = e === undefined ? undefined : raw.codePointAt(i + 1);
        len = cp === undefined ? 1 : cp > 0xffff ? 3 : 2;
        errors.push({ offset: i, length: len, text: raw.slice(i, i + len) });
      }
    }
    i += len;
    runStart = i;
  }
  flush(end);
  return { value: buf.slice(0, pos), errors };
}

/** Whether the last '"' of `raw` closes the literal (it is not escaped by an odd run of '\'). */
function isClosingQuote(raw: string): boolean {
  let k = raw.length - 2;
  let backslashes = 0;
  while (k >= 1 && raw.charCodeAt(k) === 92) {
    backslashes++;
    k--;
  }
  return backslashes % 2 === 0;
}

/** The canonical spelling of bytes as a string literal (used by the printer). */
export function encodeString(value: Uint8Array): string {
  let out = '"';
  let i = 0;
  while (i < value.length) {
    const b = value[i]!;
    if (b === 34) out += '\\"';
    else if (b === 92) out += '\\\\';
    else if (b === 10) out += '\\n';
    else if (b === 13) out += '\\r';
    else if (b === 9) out += '\\t';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else {
      // Always two hex digits, so a following hex-digit character is never absorbed.
      out += `\\x${b.toString(16).padStart(2, '0')}`;
    }
    i++;
  }
  return `${out}"`;
}

export const INT_MIN = -(1n << 63n);
/** Unsigned 64-bit values (flags, masks) are accepted too. */
export const INT_MAX = (1n << 64n) - 1n;

/** Parses an integer literal: decimal, 0x hex, 0o octal, leading-0 octal, optional '-'. */
export function parseIntLiteral(raw: string): { value: bigint; error?: 'invalid' | 'range' } {
  const neg = raw.startsWith('-');
  const body = neg ? raw.slice(1) : raw;
  let digits: string;
  let radix: bigint;
  if (/^0[xX][0-9a-fA-F]+$/.test(body)) {
    digits = body.slice(2);
    radix = 16n;
  } else if (/^0[oO][0-7]+$/.test(body)) {
    digits = body.slice(2);
    radix = 8n;
  } else if (/^0[0-7]*$/.test(body)) {
    digits = body;
    radix = 8n;
  } else if (/^[1-9][0-9]*$/.test(body)) {
    digits = body;
    radix = 10n;
  } else {
    return { value: 0n, error: 'invalid' };
  }
  // Iterative conversion with an early stop, so a 10 MB digit string costs no more than needed.
  let v = 0n;
  for (let k = 0; k < digits.length; k++) {
    v = v * radix + BigInt(hexVal(digits.charCodeAt(k)));
    if (v > INT_MAX + 1n) return { value: 0n, error: 'range' };
  }
  if (neg) v = -v;
  if (v < INT_MIN || v > INT_MAX) return { value: 0n, error: 'range' };
  return { value: v };
}
