// Every test kernel rendered to CUDA and compiled by nvcc with warnings as errors, in one file and one
// nvcc call (nvcc takes seconds). nvcc missing is a failure, not a skip: CI has it.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { renderCuda } from '../../src/codegen/render/cuda.js';
import { allKernels } from './all-kernels.js';

function nvccVersion(): string | null {
  try {
    return execFileSync('nvcc', ['--version'], { encoding: 'utf8' });
  } catch {
    return null;
  }
}

test('nvcc compiles every rendered kernel with warnings as errors', () => {
  const version = nvccVersion();
  if (!version) throw new Error('nvcc is not on PATH: install the CUDA toolkit (CI has nvcc 13), or put its bin/ folder on PATH');
  const dir = mkdtempSync(join(tmpdir(), 'ptm-nvcc-'));
  try {
    const source = allKernels().map(renderCuda).join('\n');
    writeFileSync(join(dir, 'kernels.cu'), source);
    const args = ['-arch=sm_90', '-c', '-Werror', 'all-warnings', '-Xcompiler', '-Wall,-Wextra,-Werror', 'kernels.cu', '-o', 'kernels.o'];
    const run = spawnSync('nvcc', args, { cwd: dir, encoding: 'utf8' });
    expect(run.status, `nvcc ${args.join(' ')} failed:\n${run.stdout}${run.stderr}\n--- kernels.cu ---\n${source}`).toBe(0);
    expect(run.stderr.trim(), 'nvcc printed warnings').toBe('');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
