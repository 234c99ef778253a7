// Deterministic parameter initialization from a seed. Each tensor depends only on (seed, parameter
// name, its init spec and shape), never on the order or number of parameters in the graph.
import type { Graph, Param } from '../ir/types.js';
import { roundToHalf } from './half.js';
import type { ParamSource } from './param-source.js';
import { RandomStream } from './random.js';
import { favorProjection } from './random-features.js';
import { concreteShape } from './shapes.js';
import type { Tensor } from './tensor.js';
import { allocate, size } from './tensor.js';

/** One parameter's initial value: normal(0, std) from the stream named after it, zeros or ones. */
export function initParam(param: Param, seed: number, symbols: ReadonlyMap<string, number> = new Map()): Tensor {
  const shape = concreteShape(param.value.type.shape, symbols, param.loc, `cannot initialize '${param.name}'`);
  const dtype = param.value.type.dtype;
  const data = allocate(dtype, size(shape));
  const init = param.init;
  if (init.kind === 'ones') data.fill(1);
  else if (init.kind === 'normal') new RandomStream(seed, param.name).normals(data.length, data as Float32Array, init.std);
  else if (init.kind === 'random_features') data.set(favorProjection(shape[0]!, shape[1]!, init.seed, param.name));
  if (dtype === 'f16' || dtype === 'bf16') roundToHalf(data as Float32Array, dtype);
  return { dtype, shape, data };
}

/** Every parameter of the graph, materialized now (f32 storage for f32/f16/bf16). */
export function initParams(graph: Graph, seed: number, symbols?: ReadonlyMap<string, number>): Map<string, Tensor> {
  return new Map(graph.params.map((p) => [p.name, initParam(p, seed, symbols)]));
}

/** The same values as initParams, generated on each `get`, so a run holds only the tensors in use. */
export function lazyInitParams(graph: Graph, seed: number, symbols?: ReadonlyMap<string, number>): ParamSource {
  const byName = new Map(graph.params.map((p) => [p.name, p]));
  return {
    label: `seeded init (seed ${seed})`,
    get: (name) => {
      const p = byName.get(name);
      return p && initParam(p, seed, symbols);
    },
    keys: () => byName.keys(),
  };
}
