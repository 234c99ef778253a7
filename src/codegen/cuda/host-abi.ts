// The C ABI of an emitted CUDA library: memory, copies, events and one `ptm_launch` that dispatches by
// kernel id. Every function returns 0 or an error code (a cudaError_t, or -1 for ptm's own checks);
// ptm_last_error() then says what failed. Hosts (Node through koffi, Python through ctypes) bind these.
import type { KType } from '../kernel-ir/types.js';
import type { ManifestKernel } from './manifest.js';

export const ABI_VERSION = 1;

/** C prototypes of the ABI, in the order they are defined; README.txt lists them too. */
export const ABI_PROTOTYPES = [
  'int ptm_abi_version(void)',
  'int ptm_kernel_count(void)',
  'const char* ptm_kernel_name(int kernel_id)',
  'const char* ptm_last_error(void)',
  'int ptm_device_name(char* out, size_t bytes)',
  'int ptm_malloc(void** p, size_t bytes)',
  'int ptm_free(void* p)',
  'int ptm_upload(void* dst, const void* src, size_t bytes)',
  'int ptm_download(void* dst, const void* src, size_t bytes)',
  'int ptm_memset_zero(void* dst, size_t bytes)',
  'int ptm_sync(void)',
  'int ptm_event_create(void** event)',
  'int ptm_event_record(void* event)',
  'int ptm_event_elapsed_ms(void* start, void* end, float* ms)',
  'int ptm_event_destroy(void* event)',
  'int ptm_launch(int kernel_id, void* const* buffers, const uint32_t* params, uint32_t gx, uint32_t gy, uint32_t gz)',
] as const;

const POINTER: Record<string, string> = { f32: 'float', i32: 'int32_t', u32: 'uint32_t', bool: 'bool' };
const pointerType = (t: KType): string => (t.lanes === 4 ? 'float4' : POINTER[t.scalar]!);

const cString = (s: string): string => JSON.stringify(s); // kernel names are C identifiers: no escapes needed

function launchCase(k: ManifestKernel, types: KType[]): string[] {
  const args = [...types.map((t, i) => `static_cast<${pointerType(t)}*>(buffers[${i}])`), ...k.params.map((_, i) => `params[${i}]`)];
  const [x, y, z] = k.workgroupSize;
  return [
    `    case ${k.id}:`,
    `      ${k.symbol}<<<dim3(gx, gy, gz), dim3(${x}, ${y}, ${z})>>>(${args.join(', ')});`,
    '      break;',
  ];
}

/** The host half of kernels.cu: everything after the kernels. `types` are each kernel's buffer element types. */
export function hostAbiSource(kernels: ManifestKernel[], types: KType[][]): string {
  const n = kernels.length;
  const names = n > 0 ? kernels.map((k) => `    ${cString(k.symbol)},`).join('\n') : '    nullptr,';
  return `// ---- host ABI (C): ${ABI_PROTOTYPES.length} functions; each returns 0 or an error code, explained by ptm_last_error() ----
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cuda_runtime.h>

namespace {

char last_error[1024] = "";
const int kernel_count = ${n};
const char* const kernel_names[] = {
${names}
};

int fail(cudaError_t code, const char* what) {
  std::snprintf(last_error, sizeof last_error, "%s: %s (%s)", what, cudaGetErrorString(code), cudaGetErrorName(code));
  return static_cast<int>(code);
}

int check(cudaError_t code, const char* what) {
  return code == cudaSuccess ? 0 : fail(code, what);
}

}  // namespace

extern "C" {

int ptm_abi_version(void) { return ${ABI_VERSION}; }

int ptm_kernel_count(void) { return kernel_count; }

const char* ptm_kernel_name(int kernel_id) {
  return kernel_id >= 0 && kernel_id < kernel_count ? kernel_names[kernel_id] : nullptr;
}

const char* ptm_last_error(void) { return last_error; }

int ptm_device_name(char* out, size_t bytes) {
  int device = 0;
  cudaDeviceProp prop;
  if (int e = check(cudaGetDevice(&device), "cudaGetDevice")) return e;
  if (int e = check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties")) return e;
  std::snprintf(out, bytes, "%s (sm_%d%d, %d SMs)", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
  return 0;
}

int ptm_malloc(void** p, size_t bytes) {
  *p = nullptr;
  return check(cudaMalloc(p, bytes), "cudaMalloc");
}

int ptm_free(void* p) { return check(cudaFree(p), "cudaFree"); }

int ptm_upload(void* dst, const void* src, size_t bytes) {
  return check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (host to device)");
}

int ptm_download(void* dst, const void* src, size_t bytes) {
  return check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy (device to host)");
}

int ptm_memset_zero(void* dst, size_t bytes) { return check(cudaMemset(dst, 0, bytes), "cudaMemset"); }

int ptm_sync(void) {
  if (int e = check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (a kernel launched earlier failed)")) return e;
  return check(cudaGetLastError(), "cudaGetLastError after synchronizing");
}

int ptm_event_create(void** event) {
  cudaEvent_t e = nullptr;
  *event = nullptr;
  if (int code = check(cudaEventCreate(&e), "cudaEventCreate")) return code;
  *event = static_cast<void*>(e);
  return 0;
}

int ptm_event_record(void* event) {
  return check(cudaEventRecord(static_cast<cudaEvent_t>(event), 0), "cudaEventRecord");
}

int ptm_event_elapsed_ms(void* start, void* end, float* ms) {
  if (int e = check(cudaEventSynchronize(static_cast<cudaEvent_t>(end)), "cudaEventSynchronize")) return e;
  return check(cudaEventElapsedTime(ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)), "cudaEventElapsedTime");
}

int ptm_event_destroy(void* event) {
  return check(cudaEventDestroy(static_cast<cudaEvent_t>(event)), "cudaEventDestroy");
}

int ptm_launch(int kernel_id, void* const* buffers, const uint32_t* params, uint32_t gx, uint32_t gy, uint32_t gz) {
  if (gx == 0 || gy == 0 || gz == 0) return 0;  // an empty grid launches nothing, as in WebGPU
  switch (kernel_id) {
${kernels.flatMap((k, i) => launchCase(k, types[i]!)).join('\n')}
    default:
      std::snprintf(last_error, sizeof last_error, "ptm_launch: no kernel %d (this library has %d)", kernel_id, kernel_count);
      return -1;
  }
  const cudaError_t code = cudaGetLastError();
  if (code == cudaSuccess) return 0;
  char what[256];
  std::snprintf(what, sizeof what, "launch of kernel %d (%s) on grid (%u, %u, %u)", kernel_id, kernel_names[kernel_id], gx, gy, gz);
  return fail(code, what);
}

}  // extern "C"
`;
}
