// Source spans: every AST node, IR op and diagnostic points back at the text it came from.

/** A range of source text. Lines and columns are 1-based; `offset`/`end` are 0-based character offsets. */
export interface Span {
  file: string;
  line: number;
  col: number;
  offset: number;
  end: number;
}

/** A span for things that have no source text (internal nodes, generated code). */
export function noSpan(file = '<internal>'): Span {
  return { file, line: 0, col: 0, offset: 0, end: 0 };
}

/** The smallest span covering both `a` and `b` (they must be in the same file). */
export function joinSpans(a: Span, b: Span): Span {
  const first = a.offset <= b.offset ? a : b;
  return { file: a.file, line: first.line, col: first.col, offset: first.offset, end: Math.max(a.end, b.end) };
}

export function formatLoc(span: Span): string {
  return span.line > 0 ? `${span.file}:${span.line}:${span.col}` : span.file;
}
