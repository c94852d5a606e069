// What each diagnostic of the catalog (diagnostic-messages.ts) means, a minimal rule file that
// produces it, the same file fixed, and how to fix it. This is the data behind
// docs/diagnostics.md (`npm run gen:diagnostics`) and `mvrc explain MVRnnnn`;
// test/diagnostics-doc.test.ts checks that every code has an entry, that each example produces
// its code (and the fixed file does not), and that the page is up to date.
// A code that no rule file can produce (a file that cannot be read, a trace, the C compiler's
// environment) has no example: its meaning says when it occurs.
import type { DiagKey } from './diagnostic-messages.ts';

export interface DiagnosticDoc {
  /** What the diagnostic means and when it is reported. */
  meaning: string;
  /** A minimal rule file (named example.mvr) that produces this code. */
  example?: string;
  /** The example fixed: produces no diagnostic with this code and no error. */
  fixed?: string;
  /** How to fix it. */
  fix: string;
  /** The command whose run on the example reports the code, when it is not `mvrc check`:
   *  `fmt` (mvrc fmt --check) or `build` (mvrc build: needs a C compiler, and the compiler's own
   *  words differ between compilers, so the page shows no output for it). */
  via?: 'fmt' | 'build';
}

const sixtyFiveCalls = Array.from({ length: 65 }, () => 'getpid()').join(', ');
/** One rule and 101 repeats of it: 100 repeats are listed as MVR4001, the last is counted by MVR4013. */
const repeatedRule = 'getpid() => nothing\n'.repeat(102);

export const DIAGNOSTIC_DOCS: { readonly [K in DiagKey]?: DiagnosticDoc } = {
  // ---- MVR1xxx: syntax ----------------------------------------------------------------
  UnexpectedToken: {
    meaning: 'The parser met a token that cannot stand here. The message names what it found and what the grammar allows at that point; the parser then skips to the next rule and goes on, so one run reports many syntax errors.',
    example: 'read(_, _, _) => read(_, _, _))\n',
    fixed: 'read(_, _, _) => read(_, _, _)\n',
    fix: 'Remove the token or write what the message expects (often a missing or extra parenthesis or comma).',
  },
  UnterminatedCBlock: {
    meaning: "A C block (a predicate or callback in '{ ... }') has no closing brace. Braces inside C strings, character literals and comments do not count, so a '}' in a string does not close the block.",
    example: 'read(fd, _, _) { return $(fd) > 2;\n=> nothing\n',
    fixed: 'read(fd, _, _) { return $(fd) > 2; } => nothing\n',
    fix: "Close the block with '}'.",
  },
  UnterminatedDoubleCBlock: {
    meaning: "A '{{ ... }}' C block has no closing '}}'.",
    example: 'read(fd, _, _) {{ return $(fd) > 2; } => nothing\n',
    fixed: 'read(fd, _, _) {{ return $(fd) > 2; }} => nothing\n',
    fix: "Close the block with '}}'.",
  },
  UnterminatedString: {
    meaning: 'A string literal has no closing double quote on its line (strings cannot span lines; write \\n for a newline).',
    example: 'write(_, "no end, _) => nothing\n',
    fixed: 'write(_, "no end", _) => nothing\n',
    fix: 'Add the closing \'"\' on the same line.',
  },
  UnterminatedComment: {
    meaning: "A block comment '/* ...' is never closed; everything after it would be comment.",
    example: '/* never closed\nread(_, _, _) => nothing\n',
    fixed: '/* closed */\nread(_, _, _) => nothing\n',
    fix: "Close the comment with '*/'.",
  },
  InvalidCharacter: {
    meaning: 'A character that is not part of the language, outside strings, comments and C blocks (rule files are ASCII there).',
    example: 'read(_, _, _) => nothing §\n',
    fixed: 'read(_, _, _) => nothing\n',
    fix: 'Remove the character, or put it inside a string or a comment.',
  },
  InvalidEscape: {
    meaning: 'A backslash in a string literal is followed by something that is not an escape the language knows.',
    example: 'write(_, "bad \\q escape", _) => nothing\n',
    fixed: 'write(_, "tab\\tescape", _) => nothing\n',
    fix: 'Use one of \\r \\n \\t \\\\ \\" \\0 or \\xNN (two hexadecimal digits), or write \\\\ for a backslash.',
  },
  IntegerOutOfRange: {
    meaning: 'An integer literal does not fit in 64 bits (signed or unsigned).',
    example: 'lseek(_, 99999999999999999999999, _) => nothing\n',
    fixed: 'lseek(_, 4096, _) => nothing\n',
    fix: 'Write a value that fits in 64 bits.',
  },
  UnterminatedTypedBlock: {
    meaning: "A typed guard 'if (...)' or typed callback 'do { ... }' has no closing parenthesis or brace.",
    example: 'read(_, s, _) if (s.length > 1 => nothing\n',
    fixed: 'read(_, s, _) if (s.length > 1) => nothing\n',
    fix: "Close it with ')' or '}'.",
  },
  MissingArrow: {
    meaning: "A rule's left side is followed by something other than '=>'.",
    example: 'read(_, _, _) read(_, _, _)\n',
    fixed: 'read(_, _, _) => read(_, _, _)\n',
    fix: "Write '=>' between the left side (leader events) and the right side (follower calls).",
  },
  TooManyErrors: {
    meaning: 'More than 200 errors were found in one run; checking stops there so that the report stays readable (and a file that is not a rule file at all is not listed error by error).',
    fix: 'Fix the errors reported and run again.',
  },
  EmptyRuleSide: {
    meaning: "A side of a rule has nothing on it. An empty side is written 'nothing'.",
    example: 'read(_, _, _) =>\n',
    fixed: 'read(_, _, _) => nothing\n',
    fix: "Write 'nothing' for an empty side.",
  },
  InvalidIncludePath: {
    meaning: "An '#include' item names no header, or its '<' has no '>'.",
    example: '#include <>\nread(_, _, _) => nothing\n',
    fixed: '#include <string.h>\nread(_, _, _) => nothing\n',
    fix: 'Write #include <header.h> or #include "header.h".',
  },
  NestingTooDeep: {
    meaning: 'Braces in a C block nest deeper than 256 levels, or a typed block nests expressions deeper than 200 levels. The limit keeps the parser and the checker within bounded stack space on any input.',
    fix: 'Simplify the code, or move C code into a header brought in with #include.',
  },
  InvalidInteger: {
    meaning: 'An integer literal is malformed (for example 0x with no digits, or a digit 8 in an octal literal).',
    example: 'lseek(_, 0x, _) => nothing\n',
    fixed: 'lseek(_, 0x10, _) => nothing\n',
    fix: 'Write a decimal, 0x hexadecimal, 0o octal or leading-0 octal integer.',
  },
  ParserInternalError: {
    meaning: 'The parser failed in a way that is a bug in mvrc, not in the rule file. It is reported as a diagnostic (never a stack trace) so that the other files are still checked.',
    fix: 'Report the input that caused it as an mvrc bug.',
  },
  NotCanonical: {
    meaning: 'Reported by `mvrc fmt --check`: the file is not in the canonical form `mvrc fmt` prints (spacing, one rule per line, comments kept). The location is the first line that differs.',
    example: 'open(_,_,_)=>nothing\n',
    fixed: 'open(_, _, _) => nothing\n',
    fix: 'Run `mvrc fmt --write FILE`.',
    via: 'fmt',
  },

  // ---- MVR2xxx: names -----------------------------------------------------------------
  UnknownSyscall: {
    meaning: 'A call names neither a syscall of the x86-64 table (compiler/syscalls/x86_64.tsv, kernel names such as pread64 and newfstatat) nor a group of the program. The help suggests the closest known name.',
    example: 'raed(_, _, _) => nothing\n',
    fixed: 'read(_, _, _) => nothing\n',
    fix: 'Correct the name, or define the group.',
  },
  UnknownLabel: {
    meaning: "A bare name on the right side (no argument list) must be a label bound on the left side with 'as NAME', or a group or syscall; this one is none of them.",
    example: 'read(_, _, _) as first => frist\n',
    fixed: 'read(_, _, _) as first => first\n',
    fix: "Use a label of this rule, bind it on the left with 'as NAME', or call a syscall with 'NAME(...)'.",
  },
  DuplicateLabel: {
    meaning: 'Two left-side items of one rule have the same label, so the right side could not tell them apart.',
    example: 'read(_, _, _) as r, write(_, _, _) as r => r\n',
    fixed: 'read(_, _, _) as r, write(_, _, _) as w => r, w\n',
    fix: 'Give each left-side item its own label.',
  },
  DuplicateGroup: {
    meaning: 'Two groups have the same name (in one file or across imported files).',
    example: 'group io = { read(_, _, _) }\ngroup io = { write(_, _, _) }\nio => nothing\n',
    fixed: 'group input = { read(_, _, _) }\ngroup output = { write(_, _, _) }\ninput => nothing\n',
    fix: 'Rename one of the groups.',
  },
  GroupShadowsSyscall: {
    meaning: 'A group has the name of a syscall, so a call by that name would be ambiguous.',
    example: 'group read = { pread64(_, _, _, _) }\n',
    fixed: 'group reads = { pread64(_, _, _, _) }\n',
    fix: 'Choose a name that is not a syscall.',
  },
  ImportNotFound: {
    meaning: 'An imported file does not exist. "std/NAME" names a standard rule file (stdlib-rules/NAME.mvr); any other path is relative to the importing file. The help suggests the closest std module or file.',
    example: 'import "std/tme"\n',
    fixed: 'import "std/time"\n',
    fix: 'Correct the path.',
  },
  ImportCycle: {
    meaning: 'A file imports itself, directly or through other files. The message shows the chain.',
    example: 'import "example.mvr"\nread(_, _, _) => nothing\n',
    fixed: 'read(_, _, _) => nothing\n',
    fix: 'Remove one of the imports in the chain (a file shared by two others can be imported by both without a cycle).',
  },
  UnusedVariable: {
    meaning: 'A variable is bound once and never used again: not compared with a second occurrence, not used by a block. It matches anything, like _.',
    example: 'read(fd, _, n) => read(fd, _, _)\n',
    fixed: 'read(fd, _, _) => read(fd, _, _)\n',
    fix: "Write '_' for an argument you do not need, or use the variable.",
  },
  UnusedLabel: {
    meaning: "A left-side item has a label that the right side never refers to.",
    example: 'read(_, _, _) as r => read(_, _, _)\n',
    fixed: 'read(_, _, _) as r => r\n',
    fix: "Remove 'as NAME', or refer to the label on the right side.",
  },
  DuplicateRuleName: {
    meaning: "Two rules have the same '@name' (names identify rules in reports and in mvrc verify).",
    example: '@greeting write(_, "hello\\n", _) => write(_, "hi\\n", _)\n@greeting write(_, "bye\\n", _) => write(_, "ciao\\n", _)\n',
    fixed: '@greeting write(_, "hello\\n", _) => write(_, "hi\\n", _)\n@farewell write(_, "bye\\n", _) => write(_, "ciao\\n", _)\n',
    fix: 'Give each named rule its own name.',
  },
  LabelShadowsSyscall: {
    meaning: 'A label has the name of a syscall: on the right side a bare name refers to the label, which is easy to misread as the syscall.',
    example: 'read(_, _, _) as read => read\n',
    fixed: 'read(_, _, _) as r => r\n',
    fix: 'Rename the label.',
  },
  UnknownCVariable: {
    meaning: "'$(NAME)' in a C block names no variable of the rule (nor the callback's return value).",
    example: 'write(fd, buf, count) => write(fd, buf, count) -> { $(ret) = $(cuont); }\n',
    fixed: 'write(fd, buf, count) => write(fd, buf, count) -> { $(ret) = $(count); }\n',
    fix: 'Bind the variable as an argument of a call in this rule, or correct the name.',
  },
  DuplicateImport: {
    meaning: 'A file imports the same file twice; the second import adds nothing (rules stand where a file is first imported).',
    example: 'import "std/time"\nimport "std/time"\n',
    fixed: 'import "std/time"\n',
    fix: 'Remove the second import.',
  },

  // ---- MVR3xxx: types -----------------------------------------------------------------
  TooManyArguments: {
    meaning: 'A call has more arguments than the syscall takes. Fewer are fine: missing trailing arguments are _.',
    example: 'close(_, _) => close(_)\n',
    fixed: 'close(_) => close(_)\n',
    fix: 'Remove the extra arguments.',
  },
  VariableKindConflict: {
    meaning: 'One variable stands for values of different kinds (a file descriptor here, a size there); the comparison would mean nothing.',
    example: 'read(x, _, _) => write(_, _, x)\n',
    fixed: 'read(fd, _, _) => write(fd, _, _)\n',
    fix: 'Use a different variable name for each kind of value.',
  },
  StringForNonBytes: {
    meaning: 'A string literal stands for an argument that is not bytes (an fd, an integer, flags, a pointer).',
    example: 'lseek("3", _, _) => nothing\n',
    fixed: 'lseek(3, _, _) => nothing\n',
    fix: 'Use an integer, a variable or _.',
  },
  IntegerForBytes: {
    meaning: 'An integer literal stands for a bytes argument (a buffer or a path).',
    example: 'write(_, 42, _) => nothing\n',
    fixed: 'write(_, "42", _) => nothing\n',
    fix: 'Use a string literal, a variable or _.',
  },
  LabelSyscallMismatch: {
    meaning: "A label is replayed with arguments ('r(...)') but with more arguments than the labelled event's syscall takes.",
    example: 'read(fd, _, _) as r => r(fd, "x", 1, 2)\n',
    fixed: 'read(fd, _, _) as r => r(fd, "x", 1)\n',
    fix: "Give the replay at most the syscall's arguments.",
  },
  GroupArgs: {
    meaning: 'A group is called with arguments; its members carry the argument patterns.',
    example: 'group io = { read(_, _, _), write(_, _, _) }\nio(1) => nothing\n',
    fixed: 'group io = { read(1, _, _), write(1, _, _) }\nio => nothing\n',
    fix: 'Write the group name alone, and put the patterns on its members.',
  },
  TypedBlockSyntax: {
    meaning: 'A typed block (if (...) or do { ... }) uses a TypeScript construct outside the small subset mvrc can check and compile to C.',
    example: 'read(_, s, _) if (typeof s === "string") => nothing\n',
    fixed: 'read(_, s, _) if (s.length > 0) => nothing\n',
    fix: 'Use comparisons, arithmetic, && || !, the string methods (startsWith, endsWith, includes, indexOf, slice, split), const, and assignments to outputs and ret; or write a C block.',
  },
  TypedBlockParse: {
    meaning: 'A typed block is not a valid TypeScript expression or block; the message is the TypeScript parser\'s.',
    example: 'read(_, s, _) if (s.length >) => nothing\n',
    fixed: 'read(_, s, _) if (s.length > 0) => nothing\n',
    fix: 'Complete the expression.',
  },
  TypedBlockUnknownName: {
    meaning: 'A typed block uses a name that is not a variable of the rule, ret, or a const of the block. The help suggests the closest name.',
    example: 'read(fd, data, _) if (dta.length > 0) => read(fd, _, _)\n',
    fixed: 'read(fd, data, _) if (data.length > 0) => read(fd, _, _)\n',
    fix: 'Correct the name, or bind the variable in the rule.',
  },
  TypedBlockTypeMismatch: {
    meaning: 'An operation gets a value of the wrong type, such as bytes compared with a number.',
    example: 'read(fd, s, _) if (s > 3) => read(fd, _, _)\n',
    fixed: 'read(fd, s, _) if (s.length > 3) => read(fd, _, _)\n',
    fix: 'Compare numbers with numbers (s.length is a number) and bytes with strings.',
  },
  TypedBlockAssignInput: {
    meaning: "A callback assigns to something other than an output of its own follower call or 'ret': leader data and inputs are read-only.",
    example: 'write(fd, s, n) => write(fd, _, n) -> do { s = "x"; }\n',
    fixed: 'read(fd, _, _) => read(fd, buf, _) -> do { buf = "x"; ret = 1; }\n',
    fix: 'Assign to an output buffer variable of the follower call, or to ret.',
  },
  TypedBlockUnknownMethod: {
    meaning: 'A method that typed blocks do not have is called. The help suggests the closest method.',
    example: 'read(fd, data, _) if (data.startWith("GET")) => read(fd, _, _)\n',
    fixed: 'read(fd, data, _) if (data.startsWith("GET")) => read(fd, _, _)\n',
    fix: 'Use .length, startsWith, endsWith, includes, indexOf, slice or split.',
  },
  TypedBlockGuardNotBoolean: {
    meaning: 'A typed guard is not a boolean expression (there is no implicit conversion: 0 and "" are not false).',
    example: 'read(fd, s, _) if (s.length) => read(fd, _, _)\n',
    fixed: 'read(fd, s, _) if (s.length > 0) => read(fd, _, _)\n',
    fix: 'Write a comparison.',
  },
  IntegerOutOfParamRange: {
    meaning: "An integer literal cannot be a value of the argument's C type (an fd is an int; a size is never negative).",
    example: 'read(4294967296, _, _) => nothing\n',
    fixed: 'read(3, _, _) => nothing\n',
    fix: 'Write a value the argument can take.',
  },

  // ---- MVR4xxx: rule semantics --------------------------------------------------------
  ShadowedRule: {
    meaning: 'An earlier rule with the same left side (or one that covers it) and no predicate is always tried first, so this rule never fires. Rules are compared in the order they are tried (docs/semantics.md).',
    example: 'read(_, _, _) => nothing\nread(0, _, _) => nothing\n',
    fixed: 'read(0, _, _) => nothing\nread(_, _, _) => nothing\n',
    fix: 'Put the more specific rule first, remove the later one, or add a predicate to the earlier rule.',
  },
  ConflictingRules: {
    meaning: 'Two rules match the same leader events and start with the same follower call but do different things, and nothing tells them apart: which one applies would depend on the order alone.',
    example: 'open(_, _, _) => open(_, _, _), lseek(_, _, _)\nopen(_, _, _) => open(_, _, _), fstat(_, _)\n',
    fixed: 'open(p, _, _) if (p.startsWith("/tmp/")) => open(_, _, _), lseek(_, _, _)\nopen(_, _, _) => open(_, _, _), fstat(_, _)\n',
    fix: 'Add a predicate to one of them, or merge them.',
  },
  EmulationNote: {
    meaning: 'A note, not a problem: a follower call that no leader event pairs with may act on a shared resource (a file, a socket), so the follower does not execute it; the module emulates it (success, with the requested count unless a callback sets the result).',
    example: 'write(_, _, _) => write(_, _, _), unlink("/tmp/x")\n',
    fix: 'Nothing to do when emulation is what you want; give the call a callback to set its result otherwise.',
  },
  NothingToNothing: {
    meaning: "A rule with 'nothing' on both sides matches nothing and does nothing.",
    example: 'nothing => nothing\n',
    fixed: 'nothing => getpid()\n',
    fix: 'Remove the rule, or write the calls it is meant to allow.',
  },
  OnlyStarredItems: {
    meaning: 'Every item on the right side is starred (zero or more times), so the rule can match an empty sequence of follower calls.',
    example: 'nothing => getpid() *, gettid() *\n',
    fixed: 'nothing => getpid(), gettid() *\n',
    fix: 'Remove the * from at least one item.',
  },
  LabelUsedTwice: {
    meaning: 'A label appears twice on the right side, but one leader event can be given to the follower only once.',
    example: 'read(_, _, _) as r => r, r\n',
    fixed: 'read(_, _, _) as r => r, read(_, _, _)\n',
    fix: 'Use the label once; write a call pattern for the second call.',
  },
  LeftSideTooLong: {
    meaning: 'A left side has more than 64 items: one matching step decides at most 64 leader events (docs/semantics.md, "Bounds").',
    example: `${sixtyFiveCalls} => nothing\n`,
    fixed: 'getpid() => nothing\n',
    fix: 'Split the rule.',
  },
  DuplicateBegin: {
    meaning: "A program has more than one 'begin' rule (the follower's own calls at start-up).",
    example: 'begin => getrlimit(_)\nbegin => readlink(_)\n',
    fixed: 'begin => getrlimit(_), readlink(_)\n',
    fix: 'Merge the begin rules into one sequence.',
  },
  StarAfterStarAmbiguous: {
    meaning: 'A starred item is followed by an item for the same syscall; stars are greedy, so the starred item takes every such call and the next one can never match.',
    example: 'begin => getrlimit(_) *, getrlimit(3, _)\n',
    fixed: 'begin => getrlimit(_), getrlimit(3, _)\n',
    fix: 'Remove the * or the following item.',
  },
  DivergeWithoutReason: {
    meaning: "A note: a '=> diverge' rule has no reason string, so reports of this expected divergence will say only \"expected divergence\".",
    example: 'write(_, "QUIT\\r\\n", _) => diverge\n',
    fixed: 'write(_, "QUIT\\r\\n", _) => diverge "the new version closes the session differently"\n',
    fix: 'Add a reason: diverge "why".',
  },
  ExternalExecNote: {
    meaning: 'Reserved for a note that a follower-only call is local to the follower (memory, signal masks) and will be executed by it; this version of mvrc does not report it (such calls are executed without a note).',
    fix: 'Nothing to do.',
  },
  StarredLeft: {
    meaning: "'*' (zero or more) is allowed only on the right side: the left side matches leader events one by one.",
    example: 'read(_, _, _) * => nothing\n',
    fixed: 'read(_, _, _) => nothing\n',
    fix: 'Remove the *; a rule applies again to each later event it matches.',
  },
  RuleOnLocalCalls: {
    meaning: "Every call this rule names is one that each version executes on its own: memory (mmap, munmap, mprotect, madvise, brk), signal handling (rt_sigaction, rt_sigprocmask, sigaltstack), threads (futex, rseq, set_robust_list), its own ids and limits (getuid, prlimit64, prctl)... The leader does not record them and the follower's are not stepped through the rules, so nothing ever compares them — and a rule on them could never act. The versions may already differ in these calls freely. Local calls that create descriptors (dup, pipe, socket), wait4/waitid and exit/exit_group are recorded and may be used in rules (docs/language.md, \"Local calls\").",
    example: 'brk(_) => nothing\nnothing => rt_sigaction(15, _, _)\n',
    fixed: 'nothing => getrlimit(7, _)\n',
    fix: 'Remove the rule: differences in these calls need no rule. If the rule was meant for a recorded call that goes with them, write that call instead.',
  },
  LocalCallInRule: {
    meaning: 'This rule names recorded calls, but also a call each version executes on its own (see MVR4014), which never reaches the matcher. On the left side the rule could never apply (the leader has no such event); on the right an unstarred item would wait for a call that never comes, so the rule could never complete (a begin rule never end) and the follower would diverge; a starred item never takes a call. In a group, such a member never matches.',
    example: 'read(_, _, _) as r => rt_sigprocmask(_), r, rt_sigprocmask(_)\n',
    fixed: 'read(_, _, _) as r => r\n',
    fix: 'Remove the local call from the rule (or the group). To tie the rule to what follows it, name the recorded call that comes next instead.',
  },
  ShadowedNotListed: {
    meaning: 'A note: more than 100 rules can never fire (MVR4001). The first 100 are listed one by one; this note, at the first of the others, counts the rest, so a generated file that repeats a rule thousands of times does not print thousands of warnings.',
    example: repeatedRule,
    fixed: 'getpid() => nothing\n',
    fix: 'Remove the repeated rules (or fix the generator that wrote them) and run mvrc check again to see any that remain.',
  },
  VerifyDivergence: {
    meaning: 'Reported by `mvrc verify` (and `mvrc infer`): at this follower call of the follower trace, no rule and no default match reconciles it with the leader trace, so the runtime would retire the new version here. The related location is the leader event.',
    fix: 'Write a rule that maps these calls (mvrc infer suggests one), or fix the new version.',
  },
  VerifyLeftover: {
    meaning: 'Reported by `mvrc verify`: the follower trace ended, but leader events remain that it never made and that no => nothing rule consumes.',
    fix: "Map them to 'nothing' if the new version no longer makes them.",
  },
  VerifyCBlock: {
    meaning: 'Reported by `mvrc verify` when it runs the reference interpreter (with --interpreter, or when no C compiler can be started): a rule needed on the way has a C predicate or callback, which the interpreter cannot run. With a C compiler, verify runs the compiled rules, C blocks included.',
    fix: 'Let verify compile the rules (install a C compiler, $CC or cc, and drop --interpreter), write the predicate or callback as a typed block (if (...) / do { ... }), or test the rule with mvrc run.',
  },
  VerifyExpectedDivergence: {
    meaning: "Reported by `mvrc verify`: a '=> diverge' rule matched, so the runs part here as the rules expect; verify stops there.",
    fix: 'Nothing to do if the divergence is expected.',
  },
  VerifyStaleFollower: {
    meaning: 'Reported by `mvrc verify`: a rule gives the follower other data than the leader got (a string on an output, a callback), but the follower trace was recorded without the rules, so its later calls react to other data; comparing further would report false divergences.',
    fix: 'Record the follower under the rules (mvrc run) or compare the traces without this rule.',
  },
  VerifyUnpairedThread: {
    meaning: 'Reported by `mvrc verify` and `mvrc infer`: one version started a thread or child process that the other did not (threads and processes are paired in creation order).',
    fix: 'Record both versions under the same workload; the two runs must create the same threads and processes in the same order.',
  },

  // ---- MVR5xxx: C compilation ---------------------------------------------------------
  CCompileError: {
    meaning: 'Reported by `mvrc check` (which compiles C blocks with -fsyntax-only when a C compiler is present) and by `mvrc build`: the C compiler found an error in a C block of a rule. The location is in the .mvr file (the generated C carries #line directives); the message is the compiler\'s.',
    example: 'read(fd, _, _) {{ return undeclared_name > $(fd); }} => read(fd, _, _)\n',
    fixed: 'read(fd, _, _) {{ return $(fd) > 2; }} => read(fd, _, _)\n',
    fix: 'Correct the C code.',
    via: 'build',
  },
  CCompileWarning: {
    meaning: 'Reported by `mvrc build`: the C compiler warned about a C block; modules are built with -Wall -Wextra -Werror, so a warning fails the build.',
    example: 'read(fd, _, _) {{ int unused_here; return $(fd) > 2; }} => read(fd, _, _)\n',
    fixed: 'read(fd, _, _) {{ return $(fd) > 2; }} => read(fd, _, _)\n',
    fix: 'Correct the C code so that it compiles without warnings.',
    via: 'build',
  },
  CCompilerFailed: {
    meaning: 'Reported by `mvrc build`: the C compiler failed with a message that points at no .mvr file (for example in a header brought in with #include, or at link time). The message is the compiler\'s.',
    fix: 'Read the compiler\'s message; check #include items and the headers they name.',
  },
  CCompilerNotFound: {
    meaning: 'Reported by `mvrc build` (and mvrc run --rules F.mvr): the C compiler ($CC, else cc) cannot be run. An environment error: exit status 2.',
    fix: 'Install gcc, or set CC to a C compiler.',
  },
  CBlocksNotChecked: {
    meaning: 'A note from `mvrc check`: the file has C blocks, but the C compiler ($CC, else cc) cannot be run, so their C was not compiled; errors in it will only show at `mvrc build`. Not an error: the exit status is unchanged.',
    fix: 'Install gcc (or set CC to a C compiler) to have C blocks checked too, or pass --no-cc to skip the step deliberately.',
  },

  // ---- MVR9xxx: input files and environment -------------------------------------------
  CannotReadFile: {
    meaning: 'A file named on the command line (or imported) cannot be read: it does not exist, or permissions forbid it. An environment error: exit status 2.',
    fix: 'Check the path and the permissions.',
  },
  IsADirectory: {
    meaning: 'A path given as a rule file is a directory. Exit status 2.',
    fix: 'Name a .mvr file.',
  },
  BinaryFile: {
    meaning: 'A rule file contains NUL bytes or bytes that are not UTF-8: it is not a text file (a compiled module, an archive, a file in another encoding).',
    fix: 'Name a .mvr rule file, saved as UTF-8.',
  },
  FileTooLarge: {
    meaning: 'A rule file is larger than mvrc accepts (the limit keeps memory and time bounded on any input).',
    fix: 'Split the rules into several files that import each other.',
  },
  InternalError: {
    meaning: 'A bug in mvrc while loading, checking or compiling; it is reported as a diagnostic (never a stack trace) so that the rest of the run still reports what it can.',
    fix: 'Report it, together with the rule file.',
  },
  TraceLineInvalid: {
    meaning: 'Reported by `mvrc verify` and `mvrc infer`: a line of a trace is neither an mvrc JSON-lines record (docs/traces.md) nor a line of strace output that mvrc can read.',
    fix: 'Record traces with mvrc record, or with strace -f -s 4096 -xx -o FILE.',
  },
  TraceUnknownSyscall: {
    meaning: "Reported by `mvrc verify` and `mvrc infer`: a trace names a syscall that is not in mvrc's x86-64 table.",
    fix: 'Record the trace on x86-64; a syscall missing from compiler/syscalls/x86_64.tsv can be added there (npm run gen:syscalls).',
  },
  TraceEmpty: {
    meaning: 'Reported by `mvrc verify` and `mvrc infer`: a trace file holds no events.',
    fix: 'Record one with mvrc record -o FILE -- CMD...',
  },
  TraceIsADirectory: {
    meaning: 'A path given as a trace is a directory. Exit status 2.',
    fix: 'Name a trace file (mvrc record -o FILE).',
  },
  TraceNotText: {
    meaning: 'A trace file contains NUL bytes or invalid UTF-8: it is not a trace.',
    fix: 'Traces are text: mvrc JSON lines (mvrc record) or strace -f -s 4096 -xx output.',
  },
  TraceBuffersCut: {
    meaning:
      'A warning of `mvrc verify` and `mvrc infer`, at the first line concerned: the recorder cut a buffer, so the trace shows only its first bytes. With `strace -s 8` the line `write(1, "hello wo"..., 12) = 12` shows 8 of the 12 bytes written (mvrc record marks such events `"truncated":true`). Two runs that differ after the cut look the same: a verdict holds only for the bytes shown. The message counts the lines with a cut.',
    fix: 'Record again with a larger limit (`strace -f -s 65536 -xx`), or with mvrc record.',
  },
  TraceCut: {
    meaning:
      "A warning of `mvrc verify` and `mvrc infer`: the trace ends in the middle of a line (its last line has no newline), or without the program's exit — strace's `+++ exited with 0 +++` (or `+++ killed by SIG... +++`) for the first process, mvrc record's `{\"end\":...}` line. The recorder was stopped, or the file copied, before the run ended: what the program did after the cut is not compared.",
    fix: 'Record the run to its end: let the program exit before stopping the recorder.',
  },
  TraceCommandsDiffer: {
    meaning:
      "A warning of `mvrc verify` and `mvrc infer`: the two traces ran different command lines — the arguments after the program's name differ (the first `execve`'s argv in strace output, the header's `command` in mvrc JSON lines). The program's name may differ (`kv-v1` and `kv-v2`), and a multi-call binary's applet counts as the name (`busybox ls -l` and `ls -l` ran the same command line). Two runs of different commands or inputs differ for reasons no rule should encode.",
    fix: 'Record both versions with the same arguments and the same input.',
  },
  TraceTooLarge: {
    meaning: '`mvrc infer` holds both traces in memory and refuses a trace larger than 512 MiB. `mvrc verify` streams its traces and takes any size.',
    fix: 'Record a shorter run of the same workload for infer; verify the rules on the long one.',
  },
  TraceLittleInCommon: {
    meaning:
      'A warning of `mvrc infer`: fewer than a tenth of the calls of two traces (of 20 or more compared calls each) align — `ls` against `cat`, or a server against its client. Two versions of one program under one workload share most of their calls; rules inferred from two different programs describe their differences, not an update. (Two traces whose command lines differ are MVR9013.)',
    fix: 'Record both versions of the same program with the same arguments and input.',
  },
};
