// Reading rule files: every way a file can be unusable becomes a coded diagnostic (MVR9xxx),
// never an exception.
import { readFileSync, statSync } from 'node:fs';
import { Diag } from './diagnostic-messages.ts';
import type { DiagnosticBag } from './diagnostics.ts';
import type { SourceFile } from './span.ts';

export const MAX_SOURCE_BYTES = 64 * 1024 * 1024;

/** Decodes bytes as a rule file's text, or returns undefined when they are not text. */
export function decodeSourceText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    return undefined;
  }
}

/**
 * Reads `path` (shown to the user as `display`). On failure reports MVR9001–MVR9004 at the start of
 * the file and returns undefined.
 */
export function readSourceFile(path: string, display: string, diags: DiagnosticBag, readFile: (p: string) => Uint8Array = readFileSync): SourceFile | undefined {
  const at = { offset: 0, length: 0 };
  let bytes: Uint8Array;
  try {
    if (readFile === readFileSync) {
      const st = statSync(path);
      if (st.isDirectory()) {
        diags.add(Diag.IsADirectory, display, at, [display]);
        return undefined;
      }
      if (st.size > MAX_SOURCE_BYTES) {
        diags.add(Diag.FileTooLarge, display, at, [display, st.size, MAX_SOURCE_BYTES]);
        return undefined;
      }
    }
    bytes = readFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EISDIR') diags.add(Diag.IsADirectory, display, at, [display]);
    else diags.add(Diag.CannotReadFile, display, at, [display, describeError(err)]);
    return undefined;
  }
  if (bytes.length > MAX_SOURCE_BYTES) {
    diags.add(Diag.FileTooLarge, display, at, [display, bytes.length, MAX_SOURCE_BYTES]);
    return undefined;
  }
  const text = decodeSourceText(bytes);
  if (text === undefined) {
    diags.add(Diag.BinaryFile, display, at, [display]);
    return undefined;
  }
  return { path: display, text };
}

export function describeError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a parent of it is not a directory';
    case 'ELOOP':
      return 'too many symbolic links';
    default:
      return err.code ? `${err.code.toLowerCase()}` : String(err.message);
  }
}
