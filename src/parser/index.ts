// The parser's public API: `parse` (text → AST + diagnostics), `loadSource` (file → text), the AST.
export { parse, type ParseResult } from './parse.js';
export { loadSource, MAX_SOURCE_BYTES } from './source.js';
export { MAX_NESTING } from './check-nesting.js';
export type * from './ast.js';
