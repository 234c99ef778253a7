// `ptm doctor`: a line for every backend, with what runs it or why it cannot run.
import { describe, expect, it } from 'vitest';
import { doctor, formatDoctor } from '../../src/runtime/webgpu/index.js';

describe('doctor', () => {
  it('reports cpu, webgpu and cuda, each with a reason', async () => {
    const reports = await doctor();
    expect(reports.map((r) => r.backend)).toEqual(['cpu', 'webgpu', 'cuda']);
    for (const r of reports) expect(r.detail.length).toBeGreaterThan(5);
    expect(reports[0]!.available).toBe(true);
    // CI installs lavapipe, so WebGPU must be available there; the line names the adapter.
    const webgpu = reports[1]!;
    if (!webgpu.available) throw new Error(`webgpu unavailable: ${webgpu.detail}`);
    const cuda = reports[2]!;
    if (!cuda.available) {
      expect(cuda.detail).toMatch(/^no NVIDIA driver on this machine|^not in Node/);
      expect(cuda.notes.join('\n')).toMatch(/can compile CUDA \(nvcc \d+\.\d+\) but cannot run it|nvcc not found/);
    } else {
      expect(cuda.detail).toContain('NVIDIA driver');
    }
    const text = formatDoctor(reports);
    console.log(text);
    expect(text.split('\n')[0]).toMatch(/^cpu\s+ok\s+reference interpreter/);
    expect(text).toMatch(/^webgpu\s+ok\s+\S/m);
    expect(text).toMatch(/^cuda\s+(ok|no)\s+\S/m);
  });

  it('formats unavailable backends with their notes indented', () => {
    const text = formatDoctor([
      { backend: 'cpu', available: true, detail: 'reference interpreter', notes: [] },
      { backend: 'cuda', available: false, detail: 'no NVIDIA driver on this machine', notes: ['can compile CUDA (nvcc 13.0) but cannot run it'] },
    ]);
    expect(text).toBe(
      'cpu   ok  reference interpreter\n' +
        'cuda  no  no NVIDIA driver on this machine\n' +
        '          can compile CUDA (nvcc 13.0) but cannot run it',
    );
  });
});
