// mvrc build FILE -o DIR: compile the rules (see compile.ts) and build DIR/rules.so with the C
// compiler ($CC, default cc). C errors inside rule blocks are reported at their .mvr location.
import path from 'node:path';
import { buildModule } from '../../codegen-c/cc.ts';
import { compileCommand } from './compile.ts';
import { displayPath } from './options.ts';
import { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, type CliIO } from './types.ts';

export async function run(args: string[], io: CliIO): Promise<number> {
  const r = compileCommand(args, io, 'build');
  if (r.status !== EXIT_OK) return r.reporter.finish(r.status);
  const program = r.program!;
  const entry = program.files[0]?.path ?? '';
  const cc = buildModule(r.dir!, { env: io.env, cwd: io.cwd, includeDirs: r.manifest!.includeDirs, sources: program.sources, entry });
  // The checker's and the C compiler's findings make one report (one JSON or SARIF document).
  r.reporter.report(cc.diagnostics, program.sources);
  if (cc.notFound) return r.reporter.finish(EXIT_USAGE);
  if (!cc.ok) return r.reporter.finish(EXIT_FINDINGS);
  r.reporter.finish(EXIT_OK);
  if (!r.reporter.structured) io.stderr(`built ${displayPath(io.cwd, path.join(r.dir!, 'rules.so'))}\n`);
  return EXIT_OK;
}
