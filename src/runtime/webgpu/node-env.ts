// Node-only facts about this machine for explaining why WebGPU or CUDA is not available: Vulkan
// loader and drivers (ICDs), shared libraries on the linker path, tool versions. Never throws.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Runs a command, returning its stdout, or null if it is missing or fails. */
export function tryRun(command: string, args: string[]): string | null {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  } catch {
    return null;
  }
}

/** Where the dynamic linker would find `soname` (from `ldconfig -p`, then common library folders). */
export function findSharedLibrary(soname: string, extraDirs: string[] = []): string | null {
  const cache = tryRun('ldconfig', ['-p']) ?? tryRun('/sbin/ldconfig', ['-p']) ?? '';
  for (const line of cache.split('\n')) {
    const m = /^\s*(\S+)\s.*=>\s*(\S+)\s*$/.exec(line);
    if (m && m[1] === soname) return m[2]!;
  }
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib', ...extraDirs];
  for (const dir of [...(process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter(Boolean), ...dirs]) {
    if (existsSync(join(dir, soname))) return join(dir, soname);
  }
  return null;
}

export interface VulkanSetup {
  /** Path of libvulkan.so.1, or null when the Vulkan loader is missing. */
  loader: string | null;
  /** ICD manifest files the Vulkan loader would read. */
  icds: string[];
  /** Where we looked for them. */
  searched: string[];
}

/** The Vulkan loader and the ICD manifests it would see (the same search order as the Linux loader). */
export function vulkanSetup(): VulkanSetup {
  const env = process.env;
  const explicit = [env['VK_DRIVER_FILES'], env['VK_ICD_FILENAMES']].find((v) => v);
  const xdgData = (env['XDG_DATA_DIRS'] || '/usr/local/share:/usr/share').split(':');
  const xdgConfig = (env['XDG_CONFIG_DIRS'] || '/etc/xdg').split(':');
  const searched = explicit
    ? explicit.split(':').filter(Boolean)
    : [...xdgConfig.map((d) => join(d, 'vulkan/icd.d')), '/etc/vulkan/icd.d', ...xdgData.map((d) => join(d, 'vulkan/icd.d'))];
  const icds: string[] = [];
  for (const entry of searched) {
    try {
      if (entry.endsWith('.json')) {
        if (existsSync(entry)) icds.push(entry);
      } else if (existsSync(entry)) {
        for (const name of readdirSync(entry)) if (name.endsWith('.json')) icds.push(join(entry, name));
      }
    } catch {
      // an unreadable folder contributes nothing, as for the loader itself
    }
  }
  return { loader: findSharedLibrary('libvulkan.so.1'), icds, searched };
}

/** Why a null adapter came back on this machine, as concretely as the setup allows. */
export function explainNoAdapter(): string {
  if (process.platform !== 'linux') {
    return `requestAdapter() returned null: Dawn found no usable GPU driver on ${process.platform}`;
  }
  const vk = vulkanSetup();
  const fix = 'install Mesa lavapipe: scripts/install-lavapipe.sh';
  if (!vk.loader) return `requestAdapter() returned null: the Vulkan loader (libvulkan.so.1) is not installed; ${fix}`;
  if (vk.icds.length === 0) {
    return `requestAdapter() returned null: no Vulkan ICD found (searched ${vk.searched.join(', ')}); ${fix}`;
  }
  const lavapipe = vk.icds.find((p) => /lvp_icd/.test(p));
  if (!lavapipe) {
    return `requestAdapter() returned null: Vulkan drivers ${vk.icds.join(', ')} gave no adapter and lavapipe is missing; ${fix}`;
  }
  return (
    `requestAdapter() returned null although lavapipe is installed (${lavapipe}); Dawn needs Mesa 25.x ` +
    `(Debian bookworm's 22.x is too old): ${fix}`
  );
}
