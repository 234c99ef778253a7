// loadParams: a graph's parameters from a safetensors file. Every parameter must be present with the
// exact shape and a compatible dtype (same, or float for float, converted); extra tensors are ignored.
import { PtmError, diag, nearestName } from '../diagnostics/index.js';
import type { Dim } from '../ir/dim.js';
import { evalDim, shapeToString } from '../ir/dim.js';
import type { Graph } from '../ir/types.js';
import { readBytes } from './files.js';
import { initParam } from './init.js';
import type { ParamSource } from './param-source.js';
import { dtypeCompatible, toStorage } from './param-source.js';
import { decodeEntry, fileDtypeToDType, parseSafetensorsHeader } from './safetensors.js';
import type { Tensor } from './tensor.js';
import { shapeText } from './tensor.js';

/** Parameters by name, plus what the file held beyond them. Usable wherever a Map or ParamSource is. */
export class LoadedParams extends Map<string, Tensor> implements ParamSource {
  constructor(
    /** The file path, named in later error messages. */
    readonly label: string,
    /** Tensors in the file that no parameter uses (ignored; worth a warning when non-empty). */
    readonly unused: string[],
    readonly metadata: Record<string, string>,
  ) {
    super();
  }
}

/** Matches a file shape against a declared one; a symbolic dim with no value in `symbols` matches any size. */
function shapeMatches(declared: readonly Dim[], got: readonly number[], symbols: ReadonlyMap<string, number>): boolean {
  if (declared.length !== got.length) return false;
  return declared.every((d, i) => {
    try {
      return evalDim(d, symbols) === got[i];
    } catch {
      return true;
    }
  });
}

export function loadParams(graph: Graph, path: string, symbols: ReadonlyMap<string, number> = new Map()): LoadedParams {
  const bytes = readBytes(path);
  const { entries, metadata } = parseSafetensorsHeader(bytes, path);
  const wanted = new Set(graph.params.map((p) => p.name));
  const result = new LoadedParams(path, [...entries.keys()].filter((n) => !wanted.has(n)).sort(), metadata);
  for (const param of graph.params) {
    const entry = entries.get(param.name);
    // FAVOR+'s projection is a constant of the model (its seed is in the source): a file may leave it out.
    if (!entry && param.init.kind === 'random_features') {
      result.set(param.name, initParam(param, 0, symbols));
      continue;
    }
    if (!entry) throw new PtmError(diag.weights_missing_tensor(param.loc, path, param.name, nearestName(param.name, entries.keys())));
    const declared = param.value.type;
    if (!shapeMatches(declared.shape, entry.shape, symbols)) {
      throw new PtmError(diag.weights_shape_mismatch(param.loc, path, param.name, shapeToString(declared.shape), shapeText(entry.shape)));
    }
    const fileType = fileDtypeToDType(entry.fileDtype);
    if (!fileType || !dtypeCompatible(declared.dtype, fileType)) {
      throw new PtmError(diag.weights_dtype_mismatch(param.loc, path, param.name, declared.dtype, fileType ?? entry.fileDtype));
    }
    result.set(param.name, toStorage(decodeEntry(bytes, entry, path), declared.dtype, 'f32'));
  }
  return result;
}
