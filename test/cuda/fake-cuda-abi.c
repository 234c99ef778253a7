/* A stand-in for an emitted CUDA library, on host memory, for testing hosts (koffi, ctypes) without a GPU.
 * Every kernel id computes out = a + b over n = params[0] f32 elements (buffers 0, 1 -> 2), and refuses a
 * grid other than (ceil(n / WG[id]), 1, 1). Built by the tests with gcc -DKERNEL_COUNT=... -DWORKGROUPS=...
 * (the workgroup width of each kernel id). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int workgroups[] = {WORKGROUPS};
static char last_error[256] = "";
static int launches = 0;

int ptm_abi_version(void) { return 1; }
int ptm_kernel_count(void) { return KERNEL_COUNT; }
const char* ptm_kernel_name(int id) { return id >= 0 && id < KERNEL_COUNT ? "fake" : NULL; }
const char* ptm_last_error(void) { return last_error; }
int ptm_device_name(char* out, size_t bytes) { snprintf(out, bytes, "fake CUDA device (host memory)"); return 0; }
int ptm_malloc(void** p, size_t bytes) { *p = malloc(bytes); return *p ? 0 : 2; }
int ptm_free(void* p) { free(p); return 0; }
int ptm_upload(void* dst, const void* src, size_t bytes) { memcpy(dst, src, bytes); return 0; }
int ptm_download(void* dst, const void* src, size_t bytes) { memcpy(dst, src, bytes); return 0; }
int ptm_memset_zero(void* dst, size_t bytes) { memset(dst, 0, bytes); return 0; }
int ptm_sync(void) { return 0; }
int ptm_event_create(void** e) { *e = malloc(1); return 0; }
int ptm_event_record(void* e) { (void)e; return 0; }
int ptm_event_elapsed_ms(void* a, void* b, float* ms) { (void)a; (void)b; *ms = 0.001f; return 0; }
int ptm_event_destroy(void* e) { free(e); return 0; }
int ptm_fake_launches(void) { return launches; }

int ptm_launch(int id, void* const* buffers, const uint32_t* params, uint32_t gx, uint32_t gy, uint32_t gz) {
  if (id < 0 || id >= KERNEL_COUNT) {
    snprintf(last_error, sizeof last_error, "ptm_launch: no kernel %d (this library has %d)", id, KERNEL_COUNT);
    return -1;
  }
  uint32_t n = params[0], want = (n + workgroups[id] - 1) / workgroups[id];
  if (gx != want || gy != 1 || gz != 1) {
    snprintf(last_error, sizeof last_error, "fake kernel %d: grid (%u, %u, %u) for n = %u, expected (%u, 1, 1)", id, gx, gy, gz, n, want);
    return 9;
  }
  const float* a = (const float*)buffers[0];
  const float* b = (const float*)buffers[1];
  float* out = (float*)buffers[2];
  for (uint32_t i = 0; i < n; i++) out[i] = a[i] + b[i];
  launches++;
  return 0;
}
