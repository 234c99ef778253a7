// A graph of positions numbered from `past`, as decoding with a key/value cache computes them: shared
// by the position program tests (test/templates) and the nvcc build (test/cuda).
import type { Graph } from '../../src/ir/index.js';
import { GraphBuilder } from '../../src/ir/index.js';

/** Width of x and of the position table, and the table's rows. */
export const POSITION_GRAPH = { D: 8, ROWS: 64 } as const;
const { D, ROWS } = POSITION_GRAPH;

/**
 * h = x + wpe[past + i] + sin((past + i) f), c = cos((past + i) f) (one reshaped iota read by both),
 * positions = past + i (an iota output), m = (past + i) w (an f32 iota a matmul reads).
 */
export function positionsGraph(): Graph {
  const g = new GraphBuilder('positions');
  g.symbol('seq');
  g.symbol('past');
  const f32 = (...shape: (number | string)[]) => ({ dtype: 'f32' as const, shape });
  const normal = { kind: 'normal' as const, std: 1 };
  const x = g.input('x', f32('seq', D));
  g.input('cache', f32('past', D)); // binds past, as a key/value cache does
  const wpe = g.param('wpe', f32(ROWS, D), normal), freq = g.param('freq', f32(1, D), normal), w = g.param('w', f32(1, 4), normal);
  const iota = (dtype: 'i32' | 'f32') => g.op('iota', [], { length: 'seq', dtype, start: 'past' });
  const column = g.op('reshape', [iota('i32')], { shape: ['seq', 1] });
  const angle = () => g.op('mul', [g.op('cast', [column], { to: 'f32' }), freq]);
  const embedded = g.op('add', [x, g.op('gather', [wpe, iota('i32')], { axis: 0 })]);
  g.output('h', g.op('add', [embedded, g.op('sin', [angle()])]));
  g.output('c', g.op('cos', [angle()]));
  g.output('positions', iota('i32'));
  g.output('m', g.op('matmul', [g.op('reshape', [iota('f32')], { shape: ['seq', 1] }), w]));
  return g.finish();
}

