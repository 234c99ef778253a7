// Shared CLI plumbing: read a .ptm file, parse and elaborate it with --set overrides, and remember
// the source texts so diagnostics can show the offending line.
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { PtmError } from '../diagnostics/diagnostic.js';
import { loadSource } from '../parser/index.js';
import { compileGraph } from '../api.js';
import type { CompiledGraph } from '../api.js';
import { parseOverrides } from '../ir/elaborate/index.js';

/** Source texts read so far, by file name, for rendering diagnostics. */
export const sources = new Map<string, string>();

export function loadModel(path: string, sets: readonly string[] = []): CompiledGraph {
  const { text, file } = loadSource(path);
  sources.set(file, text);
  const errors: Diagnostic[] = [];
  const overrides = parseOverrides(sets, errors);
  if (errors.length > 0) throw new PtmError(errors);
  return compileGraph(text, { file, set: overrides });
}

/** Collects repeated options (`--set a=1 --set b=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
