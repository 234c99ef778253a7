// `ptm compile FILE`: the spec compiled to kernels (WGSL or CUDA), with a summary: kernels per
// layer, peak memory at given sizes, time per stage. `--emit ir|fused-ir` prints the graph IR.
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile } from '../../api.js';
import type { Compiled } from '../../api.js';
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import { printGraph } from '../../ir/print.js';
import { assertValid } from '../../ir/verify.js';
import { planMemory } from '../../codegen/lower/memory-plan.js';
import { renderWgsl } from '../../codegen/render/wgsl.js';
import { emitCuda } from '../../codegen/cuda/emit.js';
import { loadSource } from '../../parser/index.js';
import { parseOverrides } from '../../ir/elaborate/index.js';
import type { Diagnostic } from '../../diagnostics/diagnostic.js';
import { sources } from '../load.js';
import { bytes } from '../format.js';
import type { Io } from '../main.js';
import { writeOutput } from './output-file.js';
import { symbolSizes } from './run.js';
import type { MatmulVariant } from '../../codegen/templates/matmul.js';
import type { AttentionVariant } from '../../codegen/templates/attention.js';
import { adapterKey, tuneCachePath, variantsFor } from '../../runtime/tune.js';
import { probeWebGpu } from '../../runtime/webgpu/index.js';

const cli = { file: '<command line>', line: 0, col: 0, offset: 0, end: 0 };

export interface CompileCliOptions {
  emit?: 'ir' | 'fused-ir';
  target: 'webgpu' | 'cuda';
  output?: string;
  force?: boolean;
  set?: string[];
  dim?: string[];
}

/** WebGPU's binding limit on the adapters we know of; CUDA has none worth splitting for. */
export const WEBGPU_MAX_BINDING_BYTES = 128 * 2 ** 20;

export function compileFile(file: string, opts: { set?: string[]; target: 'webgpu' | 'cuda'; variants?: { matmul: MatmulVariant; attention: AttentionVariant } }): Compiled {
  const { text, file: name } = loadSource(file);
  sources.set(name, text);
  const errors: Diagnostic[] = [];
  const overrides = parseOverrides(opts.set ?? [], errors);
  if (errors.length) throw new PtmError(errors);
  return compile(text, {
    file: name, set: overrides,
    ...(opts.target === 'webgpu' ? { maxBindingBytes: WEBGPU_MAX_BINDING_BYTES } : {}),
    ...(opts.variants ? { matmulVariant: opts.variants.matmul, attentionVariant: opts.variants.attention } : {}),
  });
}

export async function compileCommand(file: string, opts: CompileCliOptions, io: Io): Promise<number> {
  // WebGPU kernels use the variants tuned for this machine's adapter, if `ptm tune` measured it.
  const variants = opts.target === 'webgpu' && existsSync(tuneCachePath()) ? await localVariants() : undefined;
  const compiled = compileFile(file, { ...opts, ...(variants ? { variants } : {}) });
  if (opts.emit) {
    const g = opts.emit === 'ir' ? compiled.graph : compiled.fused;
    assertValid(g);
    const text = printGraph(g);
    if (opts.output) writeOutput(opts.output, text, opts.force);
    else io.out(text);
    return 0;
  }
  const files = opts.target === 'cuda' ? emitCuda(compiled.program).files : wgslFiles(compiled);
  if (opts.output) {
    if (existsSync(opts.output) && !opts.force) {
      for (const name of Object.keys(files)) if (existsSync(join(opts.output, name))) throw new PtmError(diag.output_exists(cli, join(opts.output, name)));
    }
    mkdirSync(opts.output, { recursive: true });
    for (const [name, data] of Object.entries(files)) writeFileSync(join(opts.output, name), data);
  }
  io.out(summary(compiled, opts, Object.keys(files), symbolSizes(compiled.graph, opts.dim ?? [], 128), variants?.source));
  return 0;
}

/** One .wgsl per distinct kernel plus the launch list. */
function wgslFiles(c: Compiled): Record<string, string> {
  const files: Record<string, string> = {};
  const names = new Map<string, string>();
  for (const launch of c.program.launches) {
    const text = renderWgsl(launch.instance.kernel);
    if (!names.has(text)) {
      let name = launch.instance.kernel.name;
      for (let n = 2; Object.values(Object.fromEntries(names)).includes(name); n++) name = `${launch.instance.kernel.name}_v${n}`;
      names.set(text, name);
      files[`${name}.wgsl`] = text;
    }
  }
  files['launches.txt'] = c.program.launches.map((l) => `${names.get(renderWgsl(l.instance.kernel))} ${l.buffers.join(' ')}  // ${l.loc.file}:${l.loc.line}:${l.loc.col}`).join('\n') + '\n';
  return files;
}

/** The tuned variants of the local WebGPU adapter, if any. */
export async function localVariants(): Promise<(ReturnType<typeof variantsFor>) | undefined> {
  const probe = await probeWebGpu();
  return probe.ok ? variantsFor(adapterKey(probe.info)) : undefined;
}

function summary(c: Compiled, opts: CompileCliOptions, files: string[], sizes: Map<string, number>, variants?: string): string {
  const { program } = c;
  // Kernels per repeated layer: a launch belongs to layer N when it binds a parameter named
  // `<repeat>.N.`, or else reads a buffer written by a launch of layer N (attention reads q, k, v).
  const perLayer = new Map<string, number>();
  let outside = 0;
  const paramNames = new Map(program.buffers.filter((b) => b.kind === 'param' || b.kind === 'folded').map((b) => [b.id, b.name ?? '']));
  const foldedSources = new Map(program.folded.ops.map((op) => [op.result.id, op.operands.map((o) => program.folded.params.find((p) => p.value.id === o.id)?.name ?? '')]));
  const layerOfBuffer = new Map<string, string>();
  for (const launch of program.launches) {
    const names = launch.buffers.flatMap((id) => foldedSources.get(id) ?? [paramNames.get(id) ?? '']);
    const bindsParams = names.some(Boolean);
    const layer = names.map((n) => /^(.*?\.\d+)\./.exec(n)?.[1]).find(Boolean) ?? (bindsParams ? undefined : launch.buffers.map((id) => layerOfBuffer.get(id)).find(Boolean));
    if (layer) {
      perLayer.set(layer, (perLayer.get(layer) ?? 0) + 1);
      launch.buffers.forEach((id) => layerOfBuffer.has(id) || paramNames.has(id) || layerOfBuffer.set(id, layer));
    } else outside++;
  }
  const counts = [...new Set(perLayer.values())];
  const layers = perLayer.size
    ? `${counts.length === 1 ? counts[0] : `${Math.min(...counts)}-${Math.max(...counts)}`} kernels per layer x ${perLayer.size} layers, ${outside} outside the layers`
    : `${outside} kernels`;
  const plan = planMemory(program, sizes);
  const weights = program.buffers.filter((b) => b.kind === 'param' && !b.chunk).reduce((a, b) => a + (plan.sizes.get(b.id) ?? 0), 0);
  const at = [...sizes].map(([k, v]) => `${k}=${v}`).join(', ');
  const kernels = new Set(program.launches.map((l) => renderWgsl(l.instance.kernel))).size;
  return [
    `${program.name}: ${program.launches.length} launches of ${kernels} kernels (${opts.target}); ${layers}`,
    `  memory at ${at}: ${bytes(plan.arenaBytes)} peak for intermediates in ${plan.slotBytes.length} slots (${bytes(plan.unplannedBytes)} without reuse), ${bytes(weights)} of weights`,
    `  variants: ${variants ?? 'defaults'}`,
    `  stages: ${c.stages.map((s) => `${s.name} ${s.ms.toFixed(1)} ms`).join(', ')}`,
    opts.output ? `  wrote ${files.length} files to ${opts.output}` : `  (pass -o DIR to write the ${opts.target === 'cuda' ? 'CUDA sources, launcher and Makefile' : 'WGSL kernels'})`,
  ].join('\n');
}
