// The `ptm` command line: check, compile, run, generate, graph, weights. Each command returns an exit code;
// diagnostics go to stderr as `file:line:col` with the source line (or JSON with --json), and any
// other failure is reported as an internal error without a stack trace (PTM_DEBUG=1 shows it).
import { Command, CommanderError, Option } from 'commander';
import { isPtmError, renderDiagnostics, diagnosticsToJson } from '../diagnostics/diagnostic.js';
import { sources, collect } from './load.js';
import { checkCommand } from './commands/check.js';
import { compileCommand } from './commands/compile.js';
import { runCommand } from './commands/run.js';
import { graphCommand } from './commands/graph.js';
import { weightsCommand } from './commands/weights.js';
import { generateCommand } from './commands/generate.js';
import { acquireDevice, doctor, formatDoctor, probeWebGpu } from '../runtime/webgpu/index.js';
import { tune, tuneCachePath } from '../runtime/tune.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : text + '\n'),
};

export const EXIT = { ok: 0, diagnostics: 1, usage: 2, internal: 70 } as const;

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let json = argv.includes('--json');
  const program = new Command('ptm')
    .description('ptm: a compiler for pre-trained Transformer models (.ptm specs)')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError('(run with --help for usage)');

  const setOption = () => new Option('--set <key=value...>', 'override config values, e.g. --set layers=2 d=64 (repeatable)').argParser(collect);
  let code: number = EXIT.ok;
  const action = (fn: (...args: never[]) => Promise<number> | number) => async (...args: unknown[]) => {
    code = await (fn as (...a: unknown[]) => Promise<number> | number)(...args);
  };

  program
    .command('check')
    .description('check a spec: diagnostics, parameter count and weight memory')
    .argument('<file>', '.ptm file')
    .addOption(setOption())
    .option('--json', 'print the result and diagnostics as JSON')
    .action(action((file: string, opts: never) => checkCommand(file, opts, io)));

  program
    .command('compile')
    .description('compile a spec to kernels and print a summary (kernels per layer, peak memory, time per stage)')
    .argument('<file>', '.ptm file')
    .addOption(new Option('--target <t>', 'kernel language').choices(['webgpu', 'cuda']).default('webgpu'))
    .addOption(new Option('--emit <what>', 'print the graph IR instead: as elaborated (ir) or after fusion (fused-ir)').choices(['ir', 'fused-ir']))
    .option('-o, --output <path>', 'a directory for the kernels (or a file for --emit)')
    .option('--dim <name=value>', 'size of a symbolic dimension for the memory summary (repeatable), default batch=1, others 128', collect)
    .option('--force', 'overwrite the output file if it exists')
    .addOption(setOption())
    .option('--json', 'print diagnostics as JSON')
    .action(action((file: string, opts: never) => compileCommand(file, opts, io)));

  program
    .command('run')
    .description('run a spec on a backend and print or save its outputs')
    .argument('<file>', '.ptm file')
    .addOption(new Option('--backend <name>', 'backend to run on (auto: the best available, and it says which)').choices(['auto', 'cpu', 'webgpu', 'cuda']).default('auto'))
    .option('--inputs <file.json>', 'inputs as JSON: {"ids": [[1, 2, 3]]}')
    .option('--random', 'use seeded random inputs (see --seed, --dim)')
    .option('--seed <n>', 'seed for random inputs and for parameter init', '0')
    .option('--dim <name=value>', 'size of a symbolic dimension for --random (repeatable), default batch=1, others 16', collect)
    .option('--weights <file.safetensors>', 'load parameters from a safetensors file instead of a seeded init')
    .addOption(new Option('--precision <p>', 'arithmetic precision of the CPU backend').choices(['f32', 'f64']).default('f32'))
    .option('--save <path>', 'save outputs: a .safetensors file, or a .npy path/directory (one file per output)')
    .option('--force', 'overwrite files that --save would replace')
    .addOption(setOption())
    .option('--json', 'print the outputs summary and diagnostics as JSON')
    .option('--segments <n>', 'feed the input in n segments through a session that carries the model\'s memory (Transformer-XL, XLNet)')
    .action(action((file: string, opts: never) => runCommand(file, opts, io)));

  program
    .command('generate')
    .description('generate tokens after a prompt, streaming each new token id to stdout (key/value cache unless --no-cache)')
    .argument('<file>', '.ptm file')
    .requiredOption('--prompt <ids>', 'prompt token ids, comma-separated: --prompt 464,2068,7586')
    .option('--max-tokens <n>', 'new tokens to generate at most', '20')
    .option('--top-k <k>', 'sample among the k most likely tokens (default: greedy)')
    .option('--temperature <t>', 'divide the logits by t before sampling (default 1; alone: sample from every token)')
    .option('--seed <n>', 'seed for sampling, --random inputs and the parameter init', '0')
    .option('--eos <id>', 'stop after generating this token id')
    .addOption(new Option('--backend <name>', 'backend to run on').choices(['cpu', 'webgpu']).default('cpu'))
    .addOption(setOption())
    .option('--weights <file.safetensors>', 'load parameters from a safetensors file instead of a seeded init')
    .option('--inputs <file.json>', "the model's other inputs as JSON (an encoder's source ids and mask), batch 1")
    .option('--random', 'seeded random values for the other inputs (see --seed, --dim)')
    .option('--dim <name=value>', 'size of a symbolic dimension of the other inputs for --random (repeatable), default 16', collect)
    .option('--tokens-input <name>', 'the input holding the tokens (default: the integer [batch, seq] input feeding a causal self-attention)')
    .option('--logits <name>', 'the output holding the logits (default: the [batch, seq, vocab] output)')
    .option('--no-cache', 'recompute the whole sequence for every token instead of keeping a key/value cache')
    .option('--json', 'print the tokens and timings (and diagnostics) as JSON at the end instead of streaming')
    .action(action((file: string, opts: never) => generateCommand(file, opts, io)));

  program
    .command('graph')
    .description('print the graph: IR text, Graphviz DOT, or an ONNX model (for Netron, onnxruntime)')
    .argument('<file>', '.ptm file')
    .addOption(new Option('--format <f>', 'output format').choices(['text', 'dot', 'onnx']).default('text'))
    .option('-o, --output <path>', 'output file (required for onnx)')
    .option('--weights <file.safetensors>', 'weights to embed in the ONNX model (default: seeded init)')
    .option('--seed <n>', 'seed for the parameter init', '0')
    .option('--force', 'overwrite the output file if it exists')
    .addOption(setOption())
    .option('--json', 'print diagnostics as JSON')
    .action(action((file: string, opts: never) => graphCommand(file, opts, io)));

  program
    .command('weights')
    .description('write the seeded initial parameters of a spec to a safetensors file')
    .argument('<file>', '.ptm file')
    .requiredOption('-o, --output <file.safetensors>', 'output file')
    .option('--seed <n>', 'seed for the parameter init', '0')
    .option('--force', 'overwrite the output file if it exists')
    .addOption(setOption())
    .option('--json', 'print diagnostics as JSON')
    .action(action((file: string, opts: never) => weightsCommand(file, opts, io)));

  program
    .command('tune')
    .description('time the kernel variants on this WebGPU adapter and remember the fastest (used by compile and run)')
    .action(action(async () => {
      const probe = await probeWebGpu();
      if (!probe.ok) {
        io.err(`ptm tune: WebGPU is not available here: ${probe.reason}`);
        return EXIT.diagnostics;
      }
      const entry = await tune(await acquireDevice(), (line) => io.out(line));
      io.out(`fastest on ${entry.adapter}: matmul ${entry.matmul}, attention ${entry.attention}; saved to ${tuneCachePath()}`);
      return 0;
    }));

  program
    .command('doctor')
    .description('which backends work here and, for each that does not, why')
    .action(action(async () => {
      io.out(formatDoctor(await doctor()));
      return 0;
    }));

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (isPtmError(err)) {
      io.err(json ? JSON.stringify({ ok: false, diagnostics: diagnosticsToJson(err.diagnostics) }, null, 2) : renderDiagnostics(err.diagnostics, sources));
      const n = err.diagnostics.length;
      if (!json && n > 1) io.err(`${n} errors`);
      return EXIT.diagnostics;
    }
    json = false;
    const message = err instanceof Error ? err.message : String(err);
    io.err(`ptm: internal error: ${message}\nThis is a bug in ptm, not in your spec; please report it with the input.`);
    if (process.env.PTM_DEBUG && err instanceof Error) io.err(err.stack ?? '');
    return EXIT.internal;
  }
}
