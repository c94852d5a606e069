// What the generators (scripts/gen-syscalls.ts, scripts/gen-abi.ts) share: writing their outputs,
// or with --check only saying which are out of date, and knowing when they run as a command.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Writes each output (repository-relative path -> content) whose file differs, or with `check`
 * reports it on stderr instead. Returns the exit status: 0 all current (or written), 1 some out of
 * date (check), 2 a file could not be written.
 */
export function writeOrCheck(tool: string, root: string, outputs: Iterable<[string, string]>, check: boolean): number {
  let stale = 0;
  for (const [path, content] of outputs) {
    let current: string | undefined;
    try {
      current = readFileSync(root + path, 'utf8');
    } catch {
      current = undefined; // a missing file is out of date
    }
    if (current === content) continue;
    if (check) {
      process.stderr.write(`${tool}: ${path} is out of date; run npx tsx scripts/${tool}.ts\n`);
      stale++;
      continue;
    }
    try {
      writeFileSync(root + path, content);
    } catch (e) {
      process.stderr.write(`${tool}: cannot write ${path}: ${(e as Error).message}\n`);
      return 2;
    }
    process.stdout.write(`${tool}: wrote ${path}\n`);
  }
  return stale > 0 ? 1 : 0;
}

/** Whether the module at `moduleUrl` (its import.meta.url) is the script node was started with. */
export function isMainModule(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(fileURLToPath(moduleUrl)) === realpathSync(script);
  } catch {
    return false;
  }
}
