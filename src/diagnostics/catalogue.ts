// Every diagnostic ptm emits, in one place, each with a stable snake_case code and a typed
// constructor that requires a span. Codes never change meaning once shipped; add new ones instead.
import type { Diagnostic, DiagnosticNote } from './diagnostic.js';
import type { Span } from './span.js';

function error(code: string, span: Span, message: string, notes: DiagnosticNote[] = []): Diagnostic {
  return { code, severity: 'error', message, span, notes };
}

const hint = (message: string): DiagnosticNote => ({ message });
/**
 * `file: ` when the span points elsewhere (a parameter's line in the .ptm source), nothing when the
 * span already names `file`: a diagnostic prints its span first, so the file would appear twice.
 */
const inFile = (span: Span, file: string): string => (span.file === file ? '' : `${file}: `);
const didYouMean = (suggestion: string | undefined): DiagnosticNote[] =>
  suggestion ? [hint(`did you mean '${suggestion}'?`)] : [];

export const diag = {
  // ---- files and text (src/parser) -------------------------------------------------------------
  file_not_found: (span: Span, path: string) =>
    error('file_not_found', span, `cannot read '${path}': no such file`, [hint('check the path, relative to the current directory')]),
  file_unreadable: (span: Span, path: string, reason: string) =>
    error('file_unreadable', span, `cannot read '${path}': ${reason}`),
  file_too_large: (span: Span, bytes: number, limit: number) =>
    error('file_too_large', span, `source is ${bytes} bytes; the limit is ${limit}`, [hint('a .ptm spec is a short text file; is this the right file?')]),
  binary_input: (span: Span) =>
    error('binary_input', span, 'this file is not text (it contains NUL bytes or invalid UTF-8)', [hint('pass a .ptm source file')]),
  empty_source: (span: Span) =>
    error('empty_source', span, 'the file is empty: expected a `model Name { ... }` declaration', [hint('see dsl/REFERENCE.md §2 for the shape of a model')]),
  unexpected_character: (span: Span, char: string) =>
    error('unexpected_character', span, `unexpected character ${JSON.stringify(char)}`),
  unterminated_comment: (span: Span) =>
    error('unterminated_comment', span, 'unterminated block comment: `/*` has no matching `*/`'),
  unterminated_string: (span: Span) =>
    error('unterminated_string', span, 'unterminated string: a string must close with `"` on the same line'),
  syntax_error: (span: Span, message: string, notes: DiagnosticNote[] = []) => error('syntax_error', span, message, notes),
  nesting_too_deep: (span: Span, limit: number) =>
    error('nesting_too_deep', span, `expressions nest more than ${limit} levels deep`, [hint('split the expression with intermediate names')]),
  invalid_number: (span: Span, text: string, why: string) => error('invalid_number', span, `invalid number '${text}': ${why}`),

  // ---- declarations and names (src/ir/elaborate) -----------------------------------------------
  no_model: (span: Span) => error('no_model', span, 'no `model` declaration in this file'),
  multiple_models: (span: Span, name: string) =>
    error('multiple_models', span, `a file holds one model; '${name}' is a second one`, [hint('put each model in its own file')]),
  unknown_name: (span: Span, name: string, suggestion?: string) =>
    error('unknown_name', span, `unknown name '${name}'`, didYouMean(suggestion)),
  unknown_argument: (span: Span, callee: string, arg: string, suggestion?: string) =>
    error('unknown_argument', span, `'${callee}' has no argument named '${arg}'`, didYouMean(suggestion)),
  missing_argument: (span: Span, callee: string, arg: string) =>
    error('missing_argument', span, `'${callee}' needs the argument '${arg}'`),
  duplicate_argument: (span: Span, arg: string) => error('duplicate_argument', span, `argument '${arg}' is given twice`),
  wrong_argument_count: (span: Span, callee: string, expected: string, got: number) =>
    error('wrong_argument_count', span, `'${callee}' takes ${expected} positional argument(s), got ${got}`),
  duplicate_definition: (span: Span, name: string, previous: Span) =>
    error('duplicate_definition', span, `'${name}' is already defined`, [{ message: 'first defined here', span: previous }]),
  kind_mismatch: (span: Span, expected: string, got: string) =>
    error('kind_mismatch', span, `expected ${expected}, found ${got}`),
  not_callable: (span: Span, what: string) => error('not_callable', span, `${what} cannot be called`),
  no_return: (span: Span, block: string) =>
    error('no_return', span, `block '${block}' does not return a value`, [hint('end the block with `return <expr>`')]),
  recursive_block: (span: Span, block: string) =>
    error('recursive_block', span, `block '${block}' calls itself; blocks cannot be recursive`, [hint('use `repeat(n)` to stack layers')]),
  no_moe_layers: (span: Span) =>
    error('no_moe_layers', span, 'moe_aux_loss() sums the auxiliary losses of the MoE layers before it, and there are none', [hint('call it after the MoE layers, e.g. `output aux = moe_aux_loss()` at the end of the model')]),
  no_outputs: (span: Span) =>
    error('no_outputs', span, 'the model declares no outputs', [hint('add `output name = <expr>`')]),
  unsupported: (span: Span, what: string) =>
    error('unsupported', span, `${what} is not supported yet`),
  conflicting_arguments: (span: Span, message: string, notes: DiagnosticNote[] = []) =>
    error('conflicting_arguments', span, message, notes),
  memory_unused: (span: Span, name: string, use: string) =>
    error('memory_unused', span, `the memory '${name}' is never given to an attention (${use}), so its next value is unknown`),

  // ---- config (src/ir/elaborate, evaluate-config) ---------------------------------------------
  config_cycle: (span: Span, cycle: string[]) =>
    error('config_cycle', span, `config values depend on each other in a cycle: ${cycle.join(' -> ')}`),
  config_not_integer: (span: Span, name: string, value: number) =>
    error('config_not_integer', span, `'${name}' is ${value}, but an integer is needed here`),
  division_by_zero: (span: Span) => error('division_by_zero', span, 'division by zero in a config expression'),
  number_out_of_range: (span: Span, value: string) =>
    error('number_out_of_range', span, `the value ${value} is out of range`, [hint('config values must be finite; integers must be below 2^53')]),
  unknown_override: (span: Span, key: string, suggestion?: string) =>
    error('unknown_override', span, `--set ${key}: the model has no config value '${key}'`, didYouMean(suggestion)),
  invalid_override: (span: Span, text: string) =>
    error('invalid_override', span, `--set ${text}: expected key=number`),

  // ---- shapes, types and limits ---------------------------------------------------------------
  shape_mismatch: (span: Span, message: string, notes: DiagnosticNote[]) => error('shape_mismatch', span, message, notes),
  rank_mismatch: (span: Span, message: string, notes: DiagnosticNote[] = []) => error('rank_mismatch', span, message, notes),
  dtype_mismatch: (span: Span, message: string, notes: DiagnosticNote[] = []) => error('dtype_mismatch', span, message, notes),
  invalid_dimension: (span: Span, message: string) => error('invalid_dimension', span, message),
  size_limit: (span: Span, what: string, value: string, limit: string) =>
    error('size_limit', span, `${what} is ${value}, above the limit of ${limit}`, [hint('this usually means a config value is wrong; --set can override it')]),
  invalid_mask: (span: Span, message: string) => error('invalid_mask', span, message),

  // ---- running (src/runtime) ------------------------------------------------------------------
  missing_input: (span: Span, name: string) => error('missing_input', span, `no value given for input '${name}'`),
  unknown_input: (span: Span, name: string, suggestion?: string) =>
    error('unknown_input', span, `the model has no input '${name}'`, didYouMean(suggestion)),
  input_mismatch: (span: Span, message: string) => error('input_mismatch', span, message),
  invalid_input_file: (span: Span, message: string) => error('invalid_input_file', span, message),
  weights_invalid: (span: Span, file: string, message: string) =>
    error('weights_invalid', span, `${inFile(span, file)}${message}`),
  weights_missing_tensor: (span: Span, file: string, name: string, suggestion?: string) =>
    error('weights_missing_tensor', span, `${inFile(span, file)}no tensor '${name}'`, didYouMean(suggestion)),
  weights_shape_mismatch: (span: Span, file: string, name: string, expected: string, got: string) =>
    error('weights_shape_mismatch', span, `${inFile(span, file)}tensor '${name}' has shape ${got}, the model needs ${expected}`),
  weights_dtype_mismatch: (span: Span, file: string, name: string, expected: string, got: string) =>
    error('weights_dtype_mismatch', span, `${inFile(span, file)}tensor '${name}' has dtype ${got}, the model needs ${expected}`),
  weights_truncated: (span: Span, file: string, name: string) =>
    error('weights_truncated', span, `${inFile(span, file)}tensor '${name}' runs past the end of the file (truncated?)`),
  output_exists: (span: Span, path: string) =>
    error('output_exists', span, `'${path}' already exists`, [hint('pass --force to overwrite it, or choose another path')]),
  output_unwritable: (span: Span, path: string, reason: string) =>
    error('output_unwritable', span, `cannot write '${path}': ${reason}`, [hint('check that the folder exists and is writable, and that the disk is not full')]),
  backend_unavailable: (span: Span, backend: string, why: string) =>
    error('backend_unavailable', span, `backend '${backend}' is not available here: ${why}`),

  // ---- generation with a key/value cache (src/passes/derive-decode-step.ts, src/runtime/generate) --
  not_incremental: (span: Span, message: string) =>
    error('not_incremental', span, message, [hint('a key/value cache needs every op to work position by position, except causal self-attention; generate with --no-cache to recompute the whole sequence per token')]),
  invalid_generation: (span: Span, message: string, notes: string[] = []) => error('invalid_generation', span, message, notes.map(hint)),

  // ---- graph IR text and verifier (src/ir) ----------------------------------------------------
  ir_syntax_error: (span: Span, message: string) => error('ir_syntax_error', span, message),
  ir_invalid: (span: Span, message: string) => error('ir_invalid', span, message),
  export_unsupported: (span: Span, message: string) => error('export_unsupported', span, message),

  // ---- bugs in ptm ----------------------------------------------------------------------------
  internal_error: (span: Span, message: string) =>
    error('internal_error', span, `internal error: ${message}`, [hint('this is a bug in ptm, not in your spec; please report it with the input')]),
} as const;

export type DiagnosticCode = keyof typeof diag;
