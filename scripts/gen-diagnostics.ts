// Writes docs/diagnostics.md from the diagnostic catalog (compiler/core/diagnostic-messages.ts)
// and its documentation (compiler/core/diagnostic-docs.ts), running the checker on every example.
//
//   npm run gen:diagnostics              rewrite docs/diagnostics.md
//   npm run gen:diagnostics -- --check   exit 1 when it is out of date
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { diagnosticsPage } from '../compiler/cli/explain.ts';

export const PAGE = fileURLToPath(new URL('../docs/diagnostics.md', import.meta.url));

const args = process.argv.slice(2);
if (args.some((a) => a !== '--check')) {
  process.stderr.write('usage: gen-diagnostics [--check]\n');
  process.exit(2);
}
const page = diagnosticsPage();
let current = '';
try {
  current = readFileSync(PAGE, 'utf8');
} catch {
  // a missing page is out of date
}
if (args.includes('--check')) {
  if (current !== page) {
    process.stderr.write('docs/diagnostics.md is out of date: run npm run gen:diagnostics\n');
    process.exit(1);
  }
} else if (current !== page) {
  writeFileSync(PAGE, page);
  process.stderr.write('wrote docs/diagnostics.md\n');
}
