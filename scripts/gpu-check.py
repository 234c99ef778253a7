#!/usr/bin/env python3
# GPU check of ptm's CUDA target without Node: builds each emitted library, runs the models prepared by
# scripts/prepare-gpu-check.mjs exactly as ProgramSession does (same memory plan), compares with the CPU
# reference, and times ptm's matmul/attention kernels against PyTorch. `eval` and `check-artifacts` need no GPU.
import ctypes
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

TOLERANCE = 1e-4
STORAGE_BYTES = 4


class CheckError(Exception):
    """A failure with a message meant for the person running the check."""


# ---- manifest evaluation (mirrors src/codegen/cuda/manifest.ts and src/codegen/lower/memory-plan.ts) ----

def eval_dim(text, symbols):
    """A Dim string: a sum of terms, each a product of integers and symbol names (`batch*seq+2`)."""
    total = 0
    for term in str(text).replace(' ', '').replace('-', '+-').split('+'):
        if term == '':
            continue
        value = -1 if term.startswith('-') else 1
        for factor in (term[1:] if term.startswith('-') else term).split('*'):
            if factor.isdigit():
                value *= int(factor)
            elif factor in symbols:
                value *= symbols[factor]
            else:
                raise CheckError(f"dimension '{text}': unbound symbol '{factor}'")
        total += value
    return total


U32_OPS = {
    '+': lambda a, b: (a + b) & 0xFFFFFFFF,
    '-': lambda a, b: (a - b) & 0xFFFFFFFF,
    '*': lambda a, b: (a * b) & 0xFFFFFFFF,
    '/': lambda a, b: a if b == 0 else a // b,
    '%': lambda a, b: 0 if b == 0 else a % b,
    'min': min,
    'max': max,
}


def eval_grid(expr, params):
    """A grid tree: a param name, a u32 constant, or [op, a, b] under u32 semantics."""
    if isinstance(expr, bool):
        raise CheckError(f'grid: bad node {expr!r}')
    if isinstance(expr, int):
        return expr & 0xFFFFFFFF
    if isinstance(expr, str):
        if expr not in params:
            raise CheckError(f"grid: unknown param '{expr}'")
        return params[expr] & 0xFFFFFFFF
    op, a, b = expr
    if op not in U32_OPS:
        raise CheckError(f"grid: unknown op '{op}'")
    return U32_OPS[op](eval_grid(a, params), eval_grid(b, params))


def bind_symbols(manifest, shapes):
    """Symbols from input shapes, as ProgramSession.bindSymbols: a plain symbol axis binds it."""
    symbols = {}
    for inp in manifest['inputs']:
        shape = shapes[inp['name']]
        if len(shape) != len(inp['shape']):
            raise CheckError(f"input '{inp['name']}' has rank {len(shape)}, the model needs {len(inp['shape'])}")
        for d, n in zip(inp['shape'], shape):
            if d.isidentifier() and d not in symbols:
                symbols[d] = n
        for axis, (d, n) in enumerate(zip(inp['shape'], shape)):
            if eval_dim(d, symbols) != n:
                raise CheckError(f"input '{inp['name']}' has size {n} in axis {axis}, the model needs {d}")
    return symbols


def launch_values(manifest, launch, symbols):
    """(params, grid) of one launch: its Dim strings evaluated, then the kernel's grid over them."""
    kernel = manifest['kernels'][launch['kernel']]
    params = [eval_dim(d, symbols) for d in launch['params']]
    for name, v in zip(kernel['params'], params):
        if not 0 <= v <= 0xFFFFFFFF:
            raise CheckError(f"launch of {kernel['symbol']} ({launch['loc']}): param {name} = {v} is not a u32")
    by_name = dict(zip(kernel['params'], params))
    return params, [eval_grid(g, by_name) for g in kernel['grid']]


def plan_memory(manifest, symbols, alignment):
    """Arena offsets of temps (src/codegen/lower/memory-plan.ts): in launch order each temp takes the
    smallest free slot that fits (else grows the largest free one, else a new slot); a slot is freed
    after its temp's last launch. Slots are laid out one after another."""
    sizes = {b['id']: max(STORAGE_BYTES, eval_dim(b['elements'], symbols) * STORAGE_BYTES) for b in manifest['buffers']}
    temps = {b['id'] for b in manifest['buffers'] if b['kind'] == 'temp'}
    life = {}
    for i, launch in enumerate(manifest['launches']):
        for bid in launch['buffers']:
            if bid in temps:
                life.setdefault(bid, [i, i])[1] = i
    align = lambda n: -(-n // alignment) * alignment
    by_first, by_last = {}, {}
    for bid, (first, last) in life.items():
        by_first.setdefault(first, []).append(bid)
        by_last.setdefault(last, []).append(bid)
    slot_bytes, free, slot_of = [], set(), {}
    for i in range(len(manifest['launches'])):
        for bid in by_first.get(i, []):
            need = align(sizes[bid])
            candidates = sorted(free, key=lambda s: (slot_bytes[s], s))
            slot = next((s for s in candidates if slot_bytes[s] >= need), candidates[-1] if candidates else None)
            if slot is None:
                slot_bytes.append(0)
                slot = len(slot_bytes) - 1
            free.discard(slot)
            slot_bytes[slot] = max(slot_bytes[slot], need)
            slot_of[bid] = slot
        for bid in by_last.get(i, []):
            free.add(slot_of[bid])
    base, top = [], 0
    for n in slot_bytes:
        base.append(top)
        top += n
    return {'offsets': {bid: base[slot] for bid, slot in slot_of.items()}, 'sizes': sizes, 'arenaBytes': top}


# ---- the library ----------------------------------------------------------------------------------

class Library:
    """The emitted C ABI through ctypes; every call's error code becomes a CheckError with ptm_last_error()."""

    def __init__(self, path):
        self.path = path
        lib = ctypes.CDLL(path)
        vp, sz, u32 = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32
        sig = {
            'ptm_abi_version': ([], ctypes.c_int), 'ptm_kernel_count': ([], ctypes.c_int),
            'ptm_kernel_name': ([ctypes.c_int], ctypes.c_char_p), 'ptm_last_error': ([], ctypes.c_char_p),
            'ptm_device_name': ([ctypes.c_char_p, sz], ctypes.c_int), 'ptm_malloc': ([ctypes.POINTER(vp), sz], ctypes.c_int),
            'ptm_free': ([vp], ctypes.c_int), 'ptm_upload': ([vp, vp, sz], ctypes.c_int), 'ptm_download': ([vp, vp, sz], ctypes.c_int),
            'ptm_memset_zero': ([vp, sz], ctypes.c_int), 'ptm_sync': ([], ctypes.c_int),
            'ptm_event_create': ([ctypes.POINTER(vp)], ctypes.c_int), 'ptm_event_record': ([vp], ctypes.c_int),
            'ptm_event_elapsed_ms': ([vp, vp, ctypes.POINTER(ctypes.c_float)], ctypes.c_int), 'ptm_event_destroy': ([vp], ctypes.c_int),
            'ptm_launch': ([ctypes.c_int, ctypes.POINTER(vp), ctypes.POINTER(u32), u32, u32, u32], ctypes.c_int),
        }
        for name, (args, res) in sig.items():
            f = getattr(lib, name)
            f.argtypes, f.restype = args, res
        self.lib = lib

    def check(self, code, what):
        if code != 0:
            raise CheckError(f'{what} failed with code {code}: {self.lib.ptm_last_error().decode()}')

    def device_name(self):
        out = ctypes.create_string_buffer(256)
        self.check(self.lib.ptm_device_name(out, 256), 'ptm_device_name')
        return out.value.decode()

    def malloc(self, nbytes):
        p = ctypes.c_void_p()
        self.check(self.lib.ptm_malloc(ctypes.byref(p), nbytes), f'ptm_malloc({nbytes})')
        return p.value

    def upload(self, ptr, array):
        self.check(self.lib.ptm_upload(ptr, array.ctypes.data, array.nbytes), 'ptm_upload')

    def download(self, ptr, array):
        self.check(self.lib.ptm_download(array.ctypes.data, ptr, array.nbytes), 'ptm_download')

    def launch(self, kernel, pointers, params, grid):
        ptrs = (ctypes.c_void_p * max(1, len(pointers)))(*pointers)
        vals = (ctypes.c_uint32 * max(1, len(params)))(*params)
        self.check(self.lib.ptm_launch(kernel, ptrs, vals, *grid), f'ptm_launch(kernel {kernel})')

    def sync(self):
        self.check(self.lib.ptm_sync(), 'ptm_sync')

    def time_ms(self, fn, warmup, reps):
        """Median-ready list of per-call times from CUDA events around fn() (recorded on the default stream)."""
        start, end = ctypes.c_void_p(), ctypes.c_void_p()
        self.check(self.lib.ptm_event_create(ctypes.byref(start)), 'ptm_event_create')
        self.check(self.lib.ptm_event_create(ctypes.byref(end)), 'ptm_event_create')
        for _ in range(warmup):
            fn()
        self.sync()
        times = []
        for _ in range(reps):
            self.check(self.lib.ptm_event_record(start), 'ptm_event_record')
            fn()
            self.check(self.lib.ptm_event_record(end), 'ptm_event_record')
            ms = ctypes.c_float()
            self.check(self.lib.ptm_event_elapsed_ms(start, end, ctypes.byref(ms)), 'ptm_event_elapsed_ms')
            times.append(ms.value)
        self.lib.ptm_event_destroy(start)
        self.lib.ptm_event_destroy(end)
        return times


# ---- running a program (mirrors src/runtime/program/session.ts) ----------------------------------

NP_STORAGE = {'f32': 'float32', 'i32': 'int32', 'u32': 'uint32'}


def read_entries(np, folder, section):
    """{name: array} from a raw little-endian file and its index in data.json."""
    blob = np.fromfile(os.path.join(folder, section['file']), dtype=np.uint8)
    out = {}
    for e in section['entries']:
        raw = blob[e['offset']:e['offset'] + e['bytes']]
        out[e['key']] = raw.view(np.dtype(NP_STORAGE[e['storage']]).newbyteorder('<')).reshape(e.get('shape', [-1]))
    return out


class Session:
    """Params uploaded once; run() binds symbols, plans the arena, uploads inputs, launches, reads outputs."""

    def __init__(self, np, lib, manifest, params):
        self.np, self.lib, self.manifest = np, lib, manifest
        self.resident = {}
        for b in manifest['buffers']:
            if b['kind'] in ('param', 'folded') and b['bound']:
                if b['id'] not in params:
                    raise CheckError(f"no value for parameter buffer {b['id']}")
                data = np.ascontiguousarray(params[b['id']])
                ptr = lib.malloc(max(data.nbytes, STORAGE_BYTES))
                lib.upload(ptr, data)
                self.resident[b['id']] = ptr
        self.plans = {}

    def prepare(self, inputs, poison):
        np, lib, m = self.np, self.lib, self.manifest
        symbols = bind_symbols(m, {k: list(v.shape) for k, v in inputs.items()})
        key = tuple(symbols.get(s) for s in m['symbols'])
        if key not in self.plans:
            plan = plan_memory(m, symbols, m['alignment'])
            self.plans[key] = (plan, lib.malloc(max(plan['arenaBytes'], STORAGE_BYTES)))
        plan, arena = self.plans[key]
        bound = {}
        for b in m['buffers']:
            if b['kind'] == 'input':
                data = np.ascontiguousarray(inputs[b['name']].astype(NP_STORAGE[b['storage']]))
                bound[b['id']] = lib.malloc(max(data.nbytes, STORAGE_BYTES))
                lib.upload(bound[b['id']], data)
            elif b['kind'] == 'output':
                bound[b['id']] = lib.malloc(plan['sizes'][b['id']])
            elif b['kind'] == 'temp' and b['id'] in plan['offsets']:
                bound[b['id']] = arena + plan['offsets'][b['id']]
        if poison:  # NaN everywhere a kernel writes: an element it skips shows up in the comparison
            for bid in [b['id'] for b in m['buffers'] if b['kind'] == 'output']:
                lib.upload(bound[bid], np.full(plan['sizes'][bid] // 4, np.nan, dtype=np.float32))
            lib.upload(arena, np.full(max(plan['arenaBytes'], 4) // 4, np.nan, dtype=np.float32))
        steps = []
        for launch in m['launches']:
            params, grid = launch_values(m, launch, symbols)
            pointers = []
            for bid in launch['buffers']:
                ptr = bound.get(bid, self.resident.get(bid))
                if ptr is None:
                    raise CheckError(f'buffer {bid} is not bound')
                pointers.append(ptr)
            steps.append((launch['kernel'], pointers, params, grid))
        return symbols, bound, steps

    def launch_all(self, steps):
        for kernel, pointers, params, grid in steps:
            self.lib.launch(kernel, pointers, params, grid)

    def outputs(self, symbols, bound):
        out = {}
        for o in self.manifest['outputs']:
            b = next(x for x in self.manifest['buffers'] if x['id'] == o['buffer'])
            shape = [eval_dim(d, symbols) for d in o['shape']]
            host = self.np.empty(shape, dtype=NP_STORAGE[b['storage']])
            self.lib.download(bound[o['buffer']], host)
            out[o['name']] = host
        return out


# ---- artifacts -------------------------------------------------------------------------------------

def load_json(path):
    with open(path) as f:
        return json.load(f)


def load_artifacts(root):
    index_path = os.path.join(root, 'gpu-check.json')
    if not os.path.exists(index_path):
        raise CheckError(f'{index_path} is missing: prepare the artifacts with `node scripts/prepare-gpu-check.mjs {root}`')
    index = load_json(index_path)
    if index.get('format') != 'ptm-gpu-check/1':
        raise CheckError(f"{index_path}: unknown format {index.get('format')!r}")
    programs = {}
    for p in index['programs']:
        folder = os.path.join(root, p['dir'])
        programs[p['dir']] = {**p, 'folder': folder, 'manifest': load_json(os.path.join(folder, 'cuda', 'manifest.json')),
                              'data': load_json(os.path.join(folder, 'data.json'))}
    return index, programs


def check_program(p):
    """Offline consistency of one prepared program; returns a list of problems (empty: fine)."""
    m, data, problems = p['manifest'], p['data'], []
    symbols = data['symbols']
    for section in ('weights', 'inputs', 'reference'):
        if section not in data:
            continue
        path = os.path.join(p['folder'], data[section]['file'])
        size = os.path.getsize(path) if os.path.exists(path) else -1
        end = max([e['offset'] + e['bytes'] for e in data[section]['entries']] or [0])
        if size != end:
            problems.append(f'{path}: {size} bytes, the index says {end}')
    if 'weights' in data:
        want = {b['id']: b for b in m['buffers'] if b['kind'] in ('param', 'folded') and b['bound']}
        have = {e['key']: e for e in data['weights']['entries']}
        if set(want) != set(have):
            problems.append(f'weights cover {sorted(set(have) ^ set(want))[:5]} wrongly')
        for key in set(want) & set(have):
            if have[key]['bytes'] != eval_dim(want[key]['elements'], symbols) * STORAGE_BYTES:
                problems.append(f'weight {key}: {have[key]["bytes"]} bytes for {want[key]["elements"]} elements')
    shapes = {e['key']: e['shape'] for e in data['inputs']['entries']}
    if bind_symbols(m, shapes) != symbols:
        problems.append(f'inputs bind {bind_symbols(m, shapes)}, data.json says {symbols}')
    if 'reference' in data:
        refs = {e['key']: e['shape'] for e in data['reference']['entries']}
        for o in m['outputs']:
            if refs.get(o['name']) != [eval_dim(d, symbols) for d in o['shape']]:
                problems.append(f"reference for output {o['name']} is missing or has the wrong shape")
    for launch in m['launches']:
        kernel = m['kernels'][launch['kernel']]
        _, grid = launch_values(m, launch, symbols)
        x, y, z = kernel['workgroupSize']
        if grid[0] >= 2 ** 31 or grid[1] > 65535 or grid[2] > 65535 or x * y * z > 1024 or kernel['sharedBytes'] > 48 * 1024:
            problems.append(f"launch of {kernel['symbol']} at {launch['loc']}: grid {grid}, block {kernel['workgroupSize']}, "
                            f"{kernel['sharedBytes']} shared bytes exceed CUDA's limits")
    plan_memory(m, symbols, m['alignment'])
    return problems


# ---- build, correctness, timing ------------------------------------------------------------------

def require_environment():
    """nvcc, an NVIDIA GPU with its driver, numpy and PyTorch; a clear message for the first one missing."""
    if shutil.which('nvcc') is None:
        raise CheckError('nvcc is not on PATH: install the CUDA toolkit (12.x or 13.x, for sm_90) or add its bin/ to PATH')
    smi = shutil.which('nvidia-smi')
    listed = subprocess.run([smi, '-L'], capture_output=True, text=True) if smi else None
    if listed is None or listed.returncode != 0 or 'GPU' not in listed.stdout:
        why = 'nvidia-smi is not on PATH' if listed is None else (listed.stderr or listed.stdout).strip()
        raise CheckError(f'no NVIDIA GPU here ({why}): run this on a machine with an NVIDIA GPU and its driver')
    for module in ('numpy', 'torch'):
        if importlib.util.find_spec(module) is None:
            raise CheckError(f'Python module {module} is missing: use a Python 3 with PyTorch (CUDA build) and numpy')
    return listed.stdout.strip()


def build_all(programs, results_dir, log):
    """Builds every program's library in parallel with its build.sh (the Makefile's flags); logs go to builds.log."""
    running = {}
    for name, p in programs.items():
        cuda = os.path.join(p['folder'], 'cuda')
        logfile = open(os.path.join(cuda, 'build.log'), 'w')
        running[name] = (subprocess.Popen(['sh', os.path.join(cuda, 'build.sh')], stdout=logfile, stderr=subprocess.STDOUT), logfile, time.time())
    builds, failures = {}, []
    with open(os.path.join(results_dir, 'builds.log'), 'w') as combined:
        for name, (proc, logfile, started) in running.items():
            code = proc.wait()
            logfile.close()
            seconds = round(time.time() - started, 1)
            text = open(logfile.name).read()
            combined.write(f'==== {name}: exit {code} in {seconds} s\n{text}\n')
            builds[name] = {'seconds': seconds, 'ok': code == 0, 'output': text}
            log(f'build {name}: {"ok" if code == 0 else "FAILED"} in {seconds} s{" (nvcc printed: " + text.strip()[:200] + ")" if text.strip() else ""}')
            if code != 0:
                failures.append(f'nvcc failed for {name}:\n{text[-3000:]}')
            programs[name]['library'] = os.path.join(programs[name]['folder'], 'cuda', programs[name]['manifest']['library'])
    if failures:
        raise CheckError('\n'.join(failures))
    return builds


def compare(np, out, ref):
    a, b = out.astype(np.float64), ref.astype(np.float64)
    finite = bool(np.isfinite(a).all())
    diff = float(np.linalg.norm(a - b))
    norm = float(np.linalg.norm(b))
    rel = diff / norm if norm > 0 else diff
    # Errors are None (JSON null) when the output holds NaN or infinity: an unwritten or broken element.
    return {'rel_err': rel if finite else None, 'max_abs_err': float(np.max(np.abs(a - b))) if finite and a.size else None,
            'non_finite': int(a.size - np.isfinite(a).sum()), 'pass': finite and rel <= TOLERANCE}


def sci(x):
    return f'{x:.3e}' if x is not None else 'non-finite'


def check_correctness(np, lib, p, log):
    folder, data = p['folder'], p['data']
    session = Session(np, lib, p['manifest'], read_entries(np, folder, data['weights']))
    symbols, bound, steps = session.prepare(read_entries(np, folder, data['inputs']), poison=True)
    session.launch_all(steps)
    lib.sync()
    outs = session.outputs(symbols, bound)
    rows = []
    for name, ref in read_entries(np, folder, data['reference']).items():
        row = {'program': p['dir'], 'output': name, 'shape': list(ref.shape), **compare(np, outs[name], ref)}
        log(f"correctness {p['dir']}.{name}: rel err {sci(row['rel_err'])}, max abs {sci(row['max_abs_err'])} -> {'PASS' if row['pass'] else 'FAIL'}")
        rows.append(row)
    times = lib.time_ms(lambda: session.launch_all(steps), warmup=3, reps=20)
    return rows, {'program': p['dir'], 'launches': len(steps), 'median_ms': statistics.median(times), 'times_ms': times}


def random_params(np, manifest, symbols, rng):
    out = {}
    for b in manifest['buffers']:
        if b['kind'] in ('param', 'folded') and b['bound']:
            n = eval_dim(b['elements'], symbols)
            out[b['id']] = (rng.standard_normal(n, dtype=np.float32) * 0.02) if b['storage'] == 'f32' else np.zeros(n, dtype=NP_STORAGE[b['storage']])
    return out


def time_forward(np, lib, p, rng, log):
    """A whole forward pass of a full-size program with random weights (timing only)."""
    inputs = read_entries(np, p['folder'], p['data']['inputs'])
    session = Session(np, lib, p['manifest'], random_params(np, p['manifest'], p['data']['symbols'], rng))
    _, _, steps = session.prepare(inputs, poison=False)
    times = lib.time_ms(lambda: session.launch_all(steps), warmup=3, reps=20)
    log(f"forward {p['dir']}: {len(steps)} launches, median {statistics.median(times):.3f} ms")
    return {'program': p['dir'], 'launches': len(steps), 'median_ms': statistics.median(times), 'times_ms': times}


def time_launch(np, lib, p, index, rng):
    """One launch of a program, alone, on random buffers of its sizes."""
    m, symbols = p['manifest'], p['data']['symbols']
    launch = m['launches'][index]
    params, grid = launch_values(m, launch, symbols)
    pointers = []
    for bid in launch['buffers']:
        b = next(x for x in m['buffers'] if x['id'] == bid)
        n = eval_dim(b['elements'], symbols)
        host = rng.standard_normal(n, dtype=np.float32) if b['storage'] == 'f32' else np.zeros(n, dtype=NP_STORAGE[b['storage']])
        pointers.append(lib.malloc(max(4, host.nbytes)))
        lib.upload(pointers[-1], host)
    return lib.time_ms(lambda: lib.launch(launch['kernel'], pointers, params, grid), warmup=10, reps=50)


def torch_time(torch, fn, warmup=10, reps=50):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return times


def bench_kernels(np, libs, programs, bench, rng, log):
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 against fp32: ptm's kernels use no tensor cores
    torch.backends.cudnn.allow_tf32 = False
    rows = []
    for entry in bench:
        p = programs[entry['program']]
        ours = time_launch(np, libs[entry['program']], p, entry['launch'], rng)
        if entry['kind'] == 'matmul':
            a = torch.randn(entry['m'], entry['k'], device='cuda')
            b = torch.randn(entry['k'], entry['n'], device='cuda')
            theirs = torch_time(torch, lambda: torch.matmul(a, b))
            flops = 2 * entry['m'] * entry['n'] * entry['k']
        else:
            q, k, v = (torch.randn(entry['batch'], entry['heads'], entry['seq'], entry['dh'], device='cuda') for _ in range(3))
            sdpa = torch.nn.functional.scaled_dot_product_attention
            theirs = torch_time(torch, lambda: sdpa(q, k, v, is_causal=entry['causal']))
            flops = 2 * 2 * entry['batch'] * entry['heads'] * entry['seq'] * entry['seq'] * entry['dh'] // (2 if entry['causal'] else 1)
        row = {**entry, 'ptm_ms': statistics.median(ours), 'torch_ms': statistics.median(theirs), 'ptm_times_ms': ours, 'torch_times_ms': theirs}
        row['ptm_tflops'] = flops / row['ptm_ms'] / 1e9
        row['torch_tflops'] = flops / row['torch_ms'] / 1e9
        log(f"bench {entry['label']}: ptm {row['ptm_ms']:.4f} ms, torch {row['torch_ms']:.4f} ms")
        rows.append(row)
    return rows, {'torch': torch.__version__, 'cuda': torch.version.cuda, 'device': torch.cuda.get_device_name(0), 'tf32': False}


# ---- commands ----------------------------------------------------------------------------------------

def table(results):
    lines = [f"ptm gpu-check on {results['device']}", '']
    lines.append(f"{'correctness':<34}{'rel err':>12}{'max abs':>12}  result")
    for r in results['correctness']:
        lines.append(f"{r['program'] + '.' + r['output']:<34}{sci(r['rel_err']):>12}{sci(r['max_abs_err']):>12}  {'PASS' if r['pass'] else 'FAIL'}")
    lines += ['', f"{'kernel (fp32)':<22}{'shape':<24}{'ptm ms':>9}{'torch ms':>10}{'ptm/torch':>10}{'ptm TFLOP/s':>12}"]
    for r in results['kernels']:
        shape = f"{r['m']}x{r['k']} @ {r['k']}x{r['n']}" if r['kind'] == 'matmul' else f"[{r['batch']},{r['heads']},{r['seq']},{r['dh']}]{' causal' if r['causal'] else ''}"
        lines.append(f"{r['label']:<22}{shape:<24}{r['ptm_ms']:>9.4f}{r['torch_ms']:>10.4f}{r['ptm_ms'] / r['torch_ms']:>9.2f}x{r['ptm_tflops']:>12.2f}")
    lines.append('')
    for f in results['forward']:
        lines.append(f"forward {f['program']}: {f['launches']} launches, median {f['median_ms']:.3f} ms")
    passed = sum(r['pass'] for r in results['correctness'])
    total = len(results['correctness'])
    lines.append(f"RESULT: {'PASS' if passed == total and total > 0 else 'FAIL'} ({passed}/{total} outputs within rel err {TOLERANCE:g})")
    return '\n'.join(lines)


def run(artifacts, results_dir):
    os.makedirs(results_dir, exist_ok=True)

    def log(text):
        print(text, flush=True)

    gpus = require_environment()
    import numpy as np
    index, programs = load_artifacts(artifacts)
    for name, p in programs.items():
        problems = check_program(p)
        if problems:
            raise CheckError(f'artifacts of {name} are inconsistent:\n  ' + '\n  '.join(problems))
    log(f'GPUs: {gpus}')
    nvcc = subprocess.run(['nvcc', '--version'], capture_output=True, text=True).stdout.strip().splitlines()[-1]
    log(f'nvcc: {nvcc}')
    builds = build_all(programs, results_dir, log)
    libs = {name: Library(p['library']) for name, p in programs.items()}
    device = next(iter(libs.values())).device_name()
    rng = np.random.default_rng(0)
    results = {'device': device, 'gpus': gpus, 'nvcc': nvcc, 'artifacts': index, 'builds': builds, 'correctness': [], 'forward': [], 'kernels': []}
    for name, p in programs.items():
        if p['role'] == 'check':
            rows, forward = check_correctness(np, libs[name], p, log)
            results['correctness'] += rows
            results['forward'].append(forward)
    for name, p in programs.items():
        if p['role'] == 'timing':
            results['forward'].append(time_forward(np, libs[name], p, rng, log))
    results['kernels'], results['torch'] = bench_kernels(np, libs, programs, index['bench'], rng, log)
    with open(os.path.join(results_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    text = table(results)
    with open(os.path.join(results_dir, 'table.txt'), 'w') as f:
        f.write(text + '\n')
    print('\n' + text, flush=True)
    return 0 if all(r['pass'] for r in results['correctness']) and results['correctness'] else 1


def evaluate(manifest_path, symbols_json):
    """Prints every launch's params and grid and the memory plan for given symbols (no GPU needed)."""
    m, symbols = load_json(manifest_path), json.loads(symbols_json)
    launches = [dict(zip(('params', 'grid'), launch_values(m, launch, symbols))) for launch in m['launches']]
    plan = plan_memory(m, symbols, m['alignment'])
    print(json.dumps({'launches': launches, 'offsets': plan['offsets'], 'arenaBytes': plan['arenaBytes'],
                      'dims': {b['id']: eval_dim(b['elements'], symbols) for b in m['buffers']}}))
    return 0


def run_program(folder, library):
    """Checks one prepared program against its reference with a prebuilt library; no environment checks."""
    if importlib.util.find_spec('numpy') is None:
        raise CheckError('Python module numpy is missing: pip install numpy')
    import numpy as np
    folder = folder.rstrip('/')
    p = {'dir': os.path.basename(folder), 'folder': folder, 'manifest': load_json(os.path.join(folder, 'cuda', 'manifest.json')),
         'data': load_json(os.path.join(folder, 'data.json'))}
    problems = check_program(p)
    if problems:
        raise CheckError('\n'.join(problems))
    rows, forward = check_correctness(np, Library(os.path.abspath(library)), p, lambda text: print(text, file=sys.stderr))
    print(json.dumps({'correctness': rows, 'forward': {k: v for k, v in forward.items() if k != 'times_ms'}}))
    return 0 if all(r['pass'] for r in rows) else 1


def check_artifacts(artifacts):
    index, programs = load_artifacts(artifacts)
    failed = False
    for name, p in programs.items():
        problems = check_program(p)
        failed = failed or bool(problems)
        print(f"{name}: {p['role']}, {len(p['manifest']['launches'])} launches, {len(p['manifest']['kernels'])} kernels: "
              f"{'ok' if not problems else 'PROBLEMS'}")
        for problem in problems:
            print(f'  {problem}')
    print(f"bench: {len(index['bench'])} kernels")
    return 1 if failed else 0


USAGE = """usage:
  gpu-check.py run ARTIFACTS_DIR RESULTS_DIR     build, check correctness, time (needs nvcc, an NVIDIA GPU, PyTorch)
  gpu-check.py check-artifacts ARTIFACTS_DIR     offline consistency of prepared artifacts
  gpu-check.py eval MANIFEST SYMBOLS_JSON        params, grids and memory plan of a manifest, as JSON
  gpu-check.py run-program PROGRAM_DIR LIBRARY   check one prepared program with a prebuilt library"""


def main(argv):
    commands = {'run': (run, 2), 'check-artifacts': (check_artifacts, 1), 'eval': (evaluate, 2), 'run-program': (run_program, 2)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        return commands[argv[1]][0](*argv[2:])
    except CheckError as e:
        print(f'\ngpu-check FAILED: {e}', file=sys.stderr, flush=True)
        return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
