"""Speed of one config on this machine: params, FLOPs, train-step and eval img/s, peak memory and compile
time, eager and compiled, float32 and bfloat16 autocast; the reference ViTs (timm's VisionTransformer and
vit-pytorch's ViT, built with the same config) alongside when they are importable, and the matmul-bound
limit of the step rate. On CUDA also MFU (model FLOPs utilisation: the counted FLOPs of forward + backward
per second over the GPU's peak dense bf16 FLOP/s, PEAK_BF16) and a second config that fills the GPU.

    python bench.py                                   # baseline ViT, batch 128, 2 modes x 2 dtypes, references
                                                      # (bf16 only where native: CUDA, AVX512-BF16 or AMX)
    python bench.py --pos_emb=rope2d --modes=eager --dtypes=bfloat16
    python bench.py --model=resnet18
    python bench.py configs/cpu10.py --modes=eager    # a recipe's model and batch (its training flags are ignored)
    python bench.py --data_only=True --augment=autoaugment --cutmix=1.0 --erasing=0.25
    python bench.py --phases=True --modes=eager --dtypes=bfloat16   # step time per phase, attention variants
    python bench.py --tiny=True                       # seconds: the CI smoke test
    python bench.py --out=results/bench_h100.json     # on a GPU: baseline, then ViT-Base at batch 512 (--fill)

A train step is train.py's: forward under autocast, label-smoothed cross-entropy, backward, clip, AdamW
(fused, as train.py), for every implementation. Each (implementation, mode, dtype) runs in a fresh process
with an empty inductor cache, so its peak memory and its (cold) compile time are its own. Rates are
medians over single timed steps: a shared 2-core CPU drifts by 10-20% from minute to minute.

--phases=True splits train.py's step into data wait (next batch from data.Loader: the per-image policies' wait
and the on-device crop/flip/erasing/mixing), forward (with the loss), backward, and optimizer (clip, AdamW,
zero_grad), for each of --variants on top of the other flags, in one process. Each phase ends with
torch.cuda.synchronize on CUDA (wall time on the CPU, where ops run synchronously). The variants take their
steps in turn, so the machine's drift hits them alike; plots/phases.py draws the JSON as stacked bars.
"""
import ast
import importlib.util
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch

import configurator
import data
import models
import techniques
import vit

model = 'vit'                # vit | resnet18 | resnet34 | resnet50
preset = ''
globals().update(vit.config_fields())
batch_size = 128
steps = 20                   # timed train steps per mode (eval: half as many batches)
eval_batch = 512             # train.py's evaluation batch
modes = 'eager,compiled'
dtypes = 'auto'              # auto: float32, and bfloat16 where it runs in hardware (emulated bf16 takes ages)
device = 'auto'
references = True            # also time timm's and vit-pytorch's ViT built with the same config, if importable
data_only = False            # time the training batches alone (augment flags below), no model
dataset = 'synthetic'        # data_only: which images to augment
data_dir = 'data'
augment = 'none'
erasing = 0.0
mixup = 0.0
cutmix = 0.0
color_jitter = 0.0
workers = 2
phases = False               # per-phase step time (data wait, forward, backward, optimizer) of each of `variants`
variants = 'mha,mla,qk_norm,rope2d'  # --phases: names of PHASE_VARIANTS, each on top of the other flags
tiny = False                 # a tiny model, 3 steps, eager only: seconds (CI)
fill = 'auto'                # also time this ViT preset at fill_batch, a model that fills the GPU; auto: base on CUDA, none elsewhere
fill_batch = 512
out = ''                     # JSON path; '' = runs/bench/<model>-<time>.json
one = ''                     # internal: "mode,dtype,impl" measured by this process
CHOICES = dict(model=models.MODELS, device=('auto', 'cpu', 'cuda', 'mps'), preset=('',) + tuple(vit.PRESETS),
               dataset=data.DATASETS, augment=data.AUGMENTS, fill=('auto', '') + tuple(vit.PRESETS))  # ViT fields: ViTConfig's
defaults = {k: v for k, v in globals().items() if not k.startswith('_') and type(v) in (int, float, bool, str)}
TINY = dict(dim=32, depth=1, heads=2, batch_size=8, eval_batch=16, steps=3, modes='eager', references=False, fill='')

# A training recipe (configs/cpu10.py) may be given: its model and batch are timed, and its train.py-only
# flags (lr, epochs, augment policy, ...) are skipped; a name train.py does not know either is still an error.
# train.py's flags are the names of the rows of its table FLAGS (read, not run: importing train.py would train).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'train.py')) as _f:
    _table = next(node.value for node in ast.parse(_f.read()).body
                  if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', None) == 'FLAGS')
    TRAIN_FLAGS = {row.elts[0].value for row in _table.args if isinstance(row, ast.Tuple)}
try:
    config = configurator.configure(defaults, sys.argv[1:], CHOICES, vit.PRESETS, file_only=TRAIN_FLAGS)
    if config['tiny']:
        config = configurator.configure({**defaults, **TINY}, sys.argv[1:], CHOICES, vit.PRESETS, file_only=TRAIN_FLAGS)
    vit.check_fields(config)  # each ViT field against its allowed values, as train.py
except configurator.ConfigError as e:
    sys.exit(f"error: {e}")
globals().update(config)
device, device_type = techniques.setup_device(device)  # as train.py
if dtypes == 'auto':
    dtypes = 'float32,bfloat16' if techniques.native_bf16(device_type) else 'float32'
# The flags both references can express; any other non-default ViT flag times ours alone.
REFERENCE_FLAGS = ('img_size', 'in_chans', 'num_classes', 'patch_size', 'dim', 'depth', 'heads', 'mlp_ratio')
REFERENCES = {'timm': 'timm', 'vit-pytorch': 'vit_pytorch'}  # implementation: module that must be importable
# --phases: attention variants at the configured shape; MLA's key/value latent is a third of the width (64 at dim 192)
PHASE_VARIANTS = {'mha': {}, 'mla': dict(attn='mla', kv_rank=max(dim // 3, 1)), 'qk_norm': dict(qk_norm=True),
                  'rope2d': dict(pos_emb='rope2d')}
if phases and (model != 'vit' or not set(variants.split(',')) <= set(PHASE_VARIANTS)):
    sys.exit(f"error: --phases times ViT variants: needs --model=vit and --variants from {', '.join(PHASE_VARIANTS)} "
             f"(got --model={model} --variants={variants})")
# Peak dense (no sparsity) bf16 tensor-core FLOP/s from NVIDIA's datasheets, by a part of torch.cuda.get_device_name();
# the first match wins. NVL parts run at other clocks: not listed, so no MFU rather than a wrong one.
PEAK_BF16 = [('NVL', None), ('H100 PCIe', 756e12), ('H100', 989e12), ('H200', 989e12), ('A100', 312e12),
             ('L40S', 362e12), ('L4', 121e12)]


def gpu_peak():
    """(this GPU's name, its peak dense bf16 FLOP/s, or None when PEAK_BF16 does not list it)."""
    name = torch.cuda.get_device_name()
    return name, next((peak for part, peak in PEAK_BF16 if part in name), None)


def sync():
    if device_type == 'cuda':
        torch.cuda.synchronize()


def timed(fn, n):
    """Seconds of each of n calls."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def build(impl):
    if impl == 'timm':
        from timm.models.vision_transformer import VisionTransformer
        return VisionTransformer(img_size=img_size, patch_size=patch_size, in_chans=in_chans, num_classes=num_classes,
                                 embed_dim=dim, depth=depth, num_heads=heads, mlp_ratio=mlp_ratio)
    if impl == 'vit-pytorch':
        from vit_pytorch import ViT
        return ViT(image_size=img_size, patch_size=patch_size, num_classes=num_classes, dim=dim, depth=depth,
                   heads=heads, mlp_dim=int(mlp_ratio * dim), dim_head=dim // heads, channels=in_chans)
    return models.build_model(config)


def step_flops(net):
    """FLOPs of forward + backward per image, counted (not 3x forward): the work of one train step."""
    from torch.utils.flop_counter import FlopCounterMode
    x = torch.randn(2, in_chans, img_size, img_size, device=device)
    with FlopCounterMode(display=False) as counter:
        techniques.train_loss(net(x), torch.zeros(2, dtype=torch.long, device=device), 0.1).backward()
    net.zero_grad(set_to_none=True)
    return counter.get_total_flops() / 2


def measure_one(mode, dtype, impl):
    """One (mode, dtype, implementation) in this process: train and eval rates, compile time, peak memory."""
    torch.manual_seed(0)
    net = build(impl).to(device)
    opt = techniques.build_optimizer('adamw', net, 1e-3, 0.05)
    # ours compiles as train.py does; a reference the way its users would, the whole model
    step_model = net if mode != 'compiled' else models.compile_model(net) if impl == 'ours' else torch.compile(net)
    autocast = techniques.autocast(device_type, dtype)
    x = torch.randn(batch_size, in_chans, img_size, img_size, device=device)
    y = torch.randint(num_classes, (batch_size,), device=device)

    def train_step():
        with autocast:
            loss = techniques.train_loss(step_model(x), y, 0.1)
        techniques.backward_step(loss, net, opt, 1.0)

    first = timed(train_step, 1)[0]  # compiled: tracing and code generation happen here
    timed(train_step, 2)  # warm-up: allocator, oneDNN primitive caches
    train = statistics.median(timed(train_step, steps))
    net.eval()
    xe = torch.randn(eval_batch, in_chans, img_size, img_size, device=device)

    @torch.no_grad()
    def eval_step():
        with autocast:
            step_model(xe)
    eval_first = timed(eval_step, 1)[0]  # compiled: eval mode is a second graph
    evals = statistics.median(timed(eval_step, max(steps // 2, 2)))
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device_type == 'cuda'
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {'mode': mode, 'dtype': dtype, 'impl': impl, 'train_img_s': batch_size / train, 'eval_img_s': eval_batch / evals,
            'compile_s': (first - train) + (eval_first - evals) if mode == 'compiled' else 0.0, 'peak_mem_mb': peak}


def matmul_gflops(dtype, model_shape):
    """Best of a square matmul and the model's own widest one (tokens*batch, dim) x (dim, 4*dim)."""
    best = 0.0
    for m, k, n in [(2048, 2048, 2048) if not tiny else (256, 256, 256), model_shape]:
        a = torch.randn(m, k, device=device, dtype=getattr(torch, dtype))
        b = torch.randn(k, n, device=device, dtype=getattr(torch, dtype))
        seconds = min(timed(lambda: a @ b, 20 if not tiny else 3))  # a limit is a best case: the fastest call
        best = max(best, 2 * m * k * n / seconds / 1e9)
    return best


def train_loader():
    """The dataset and train.py's augmenting training loader over all of its training images, from the flags."""
    ds = data.load_dataset(dataset, data_dir)
    mean, std = data.channel_stats(ds['train_x'])
    return ds, data.Loader(ds['train_x'], ds['train_y'], batch_size, device, mean, std, train=True, augment=augment,
                           color_jitter=color_jitter, erasing=erasing, mixup=mixup, cutmix=cutmix,
                           num_classes=len(ds['classes']), workers=workers)


def data_rate():
    _, loader = train_loader()
    batches_s, img_s = data.measure_rate(loader, n_batches=steps)
    return {'augment': augment, 'color_jitter': color_jitter, 'erasing': erasing, 'mixup': mixup, 'cutmix': cutmix,
            'workers': workers, 'batches_per_s': batches_s, 'img_s': img_s}


def phase_times():
    """--phases: median ms of each phase of train.py's step for every (variant, mode, dtype); see the docstring."""
    ds, loader = train_loader()
    x = ds['train_x']
    batches = itertools.chain.from_iterable(itertools.repeat(loader))  # epoch after epoch
    data_shape = dict(img_size=x.shape[2], in_chans=x.shape[1], num_classes=len(ds['classes']))
    units = []
    for name, mode, dtype in itertools.product(variants.split(','), modes.split(','), dtypes.split(',')):
        torch.manual_seed(0)
        net = models.build_model({**config, **PHASE_VARIANTS[name], **data_shape}).to(device)
        units.append(dict(variant=name, flags=PHASE_VARIANTS[name], mode=mode, dtype=dtype, params=models.count_params(net),
                          net=net, opt=techniques.build_optimizer('adamw', net, 1e-3, 0.05), times=[],
                          step_model=models.compile_model(net) if mode == 'compiled' else net,
                          autocast=techniques.autocast(device_type, dtype)))
    for i in range(2 + steps):  # 2 warm-up steps each (compiled: the first one compiles), then steps timed ones
        for u in units:
            t = [time.perf_counter()]
            xb, yb = next(batches)
            sync()
            t.append(time.perf_counter())
            with u['autocast']:
                loss = techniques.train_loss(u['step_model'](xb), yb, 0.1)
            sync()
            t.append(time.perf_counter())
            loss.backward()
            sync()
            t.append(time.perf_counter())
            techniques.optimizer_step(u['net'], u['opt'], 1.0)
            sync()
            t.append(time.perf_counter())
            if i >= 2:
                u['times'].append([1e3 * (b - a) for a, b in zip(t, t[1:])] + [1e3 * (t[-1] - t[0])])
    rows = []
    for u in units:
        ms = dict(zip(('data_ms', 'forward_ms', 'backward_ms', 'optimizer_ms', 'step_ms'),
                      (statistics.median(c) for c in zip(*u['times']))))
        rows.append({k: u[k] for k in ('variant', 'flags', 'mode', 'dtype', 'params')} | ms
                    | {'img_s': batch_size / ms['step_ms'] * 1e3, 'per_step_ms': u['times']})
    return rows


if one:  # a child process: measure and hand back one JSON line
    print(json.dumps(measure_one(*one.split(','))))
    sys.exit(0)
if data_only:
    result = {'data': data_rate(), 'config': config}
    print(f"data only ({dataset}, batch {batch_size}, augment={augment} color_jitter={color_jitter} erasing={erasing} mixup={mixup} "
          f"cutmix={cutmix}, {workers} workers): {result['data']['img_s']:,.0f} img/s")
elif phases:
    rows = phase_times()
    result = {'config': config, 'device': device, 'torch': torch.__version__, 'results': rows}
    print(f"phases, ms per step (median of {steps}), batch {batch_size}, {device}, data {dataset} augment={augment}")
    print(f"{'variant':<9} {'mode':<9} {'dtype':<9} {'params':>9} {'data':>7} {'forward':>8} {'backward':>9} "
          f"{'optimizer':>9} {'step':>7} {'img/s':>7}")
    for r in rows:
        print(f"{r['variant']:<9} {r['mode']:<9} {r['dtype']:<9} {r['params']:>9,} {r['data_ms']:>7.1f} {r['forward_ms']:>8.1f} "
              f"{r['backward_ms']:>9.1f} {r['optimizer_ms']:>9.1f} {r['step_ms']:>7.1f} {r['img_s']:>7.1f}")
else:
    net = build('ours').to(device)
    fwd_flops = models.flops_per_image(net, (in_chans, img_size, img_size))
    flops = step_flops(net)
    tokens = (img_size // patch_size) ** 2 + 1
    shape = (batch_size * tokens, dim, 4 * dim)
    same_config = model == 'vit' and all(config[k] == v for k, v in vit.config_fields().items() if k not in REFERENCE_FLAGS)
    refs = [r for r, module in REFERENCES.items() if references and same_config and importlib.util.find_spec(module)]
    rows, peaks = [], {}
    gpu = gpu_peak() if device_type == 'cuda' else None
    for dtype in dtypes.split(','):
        peaks[dtype] = matmul_gflops(dtype, shape)
        for mode in modes.split(','):
            for impl in ['ours'] + refs:
                argv = [sys.executable, os.path.abspath(__file__)] + sys.argv[1:] + [f"--one={mode},{dtype},{impl}"]
                cache = tempfile.mkdtemp(prefix='bench-inductor-')  # cold compile: no cached kernels
                res = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, 'TORCHINDUCTOR_CACHE_DIR': cache})
                shutil.rmtree(cache, ignore_errors=True)
                if res.returncode:
                    sys.exit(f"error: {mode} {dtype} {impl} failed:\n{res.stderr[-2000:]}")
                row = json.loads(res.stdout.strip().splitlines()[-1])
                limit = peaks[dtype] * 1e9 / flops
                row.update(limit_img_s=limit, fraction_of_limit=row['train_img_s'] / limit)
                if gpu:  # against the bf16 peak: bf16 rows only (float32 runs TF32, another peak)
                    row['mfu'] = row['train_img_s'] * flops / gpu[1] if dtype == 'bfloat16' and gpu[1] else None
                rows.append(row)
    for row in rows:
        for ref in refs:
            same = [r for r in rows if r['impl'] == ref and r['mode'] == row['mode'] and r['dtype'] == row['dtype']]
            if row['impl'] == 'ours' and same:
                row[f'vs_{ref}'] = row['train_img_s'] / same[0]['train_img_s']
    # The target's ratio: our fastest mode against the fastest reference and mode, per precision
    best = {}
    for dtype in dtypes.split(','):
        ours = max((r for r in rows if r['impl'] == 'ours' and r['dtype'] == dtype), key=lambda r: r['train_img_s'])
        others = [r for r in rows if r['impl'] != 'ours' and r['dtype'] == dtype]
        ref = max(others, key=lambda r: r['train_img_s']) if others else None
        best[dtype] = {'ours': ours['train_img_s'], 'ours_mode': ours['mode'],
                       'reference': ref and ref['train_img_s'], 'reference_impl': ref and f"{ref['impl']} {ref['mode']}",
                       'ratio': ref and ours['train_img_s'] / ref['train_img_s']}
    result = {'config': config, 'device': device, 'gpu': gpu,
              'torch': torch.__version__, 'params': models.count_params(net),
              'flops_per_image': fwd_flops, 'step_flops_per_image': flops, 'matmul_gflops': peaks, 'results': rows,
              'best': best}
    print(f"{model}: {result['params']:,} params, {fwd_flops / 1e6:.1f} MFLOPs/img forward, {flops / 1e6:.1f} MFLOPs/img "
          f"per train step | {device}, batch {batch_size}, torch {torch.__version__}")
    print('matmul: ' + ', '.join(f"{d} {g:.0f} GFLOP/s" for d, g in peaks.items()))
    print(f"{'impl':<11} {'mode':<9} {'dtype':<9} {'train img/s':>11} {'eval img/s':>10} {'limit':>6} {'of limit':>8} "
          + ''.join(f"{'vs ' + ref:>15}" for ref in refs) + f" {'compile s':>9} {'peak MB':>8}" + ('     MFU' if device_type == 'cuda' else ''))
    for r in rows:
        print(f"{r['impl']:<11} {r['mode']:<9} {r['dtype']:<9} {r['train_img_s']:>11.1f} {r['eval_img_s']:>10.0f} "
              f"{r['limit_img_s']:>6.0f} {r['fraction_of_limit']:>8.0%} "
              + ''.join(f"{r.get('vs_' + ref, float('nan')):>15.2f}" for ref in refs)
              + f" {r['compile_s']:>9.1f} {r['peak_mem_mb']:>8.0f}"
              + (f" {r['mfu']:>7.1%}" if r.get('mfu') else '       -' if device_type == 'cuda' else ''))
    if gpu:
        print(f"MFU: train FLOPs per second over {gpu[0]}'s peak dense bf16 FLOP/s"
              + (f" ({gpu[1] / 1e12:.0f} TFLOP/s), bf16 rows" if gpu[1] else
                 ": omitted, this GPU is not in bench.py's PEAK_BF16 table (add its datasheet figure)"))
    for dtype, b in best.items():
        if b['reference']:
            print(f"{dtype}: ours {b['ours']:.1f} img/s ({b['ours_mode']}) vs the fastest reference {b['reference']:.1f} "
                  f"({b['reference_impl']}): {b['ratio']:.2f}x")
    preset_fill = fill if fill != 'auto' else 'base' if device_type == 'cuda' else ''
    if preset_fill and model == 'vit':  # the same bench, in a child, for a model that fills the GPU; its table follows
        fill_out = os.path.join(tempfile.mkdtemp(prefix='bench-fill-'), 'fill.json')
        print(f"\n--fill: {preset_fill} preset at batch {fill_batch}", flush=True)
        argv = sys.argv[1:] + [f'--{k}={v}' for k, v in vit.PRESETS[preset_fill].items()]
        if subprocess.run([sys.executable, os.path.abspath(__file__), *argv, f'--batch_size={fill_batch}', '--fill=',
                           f'--out={fill_out}']).returncode:
            sys.exit(f"error: the --fill={preset_fill} bench failed")
        result['fill'] = json.load(open(fill_out))
        shutil.rmtree(os.path.dirname(fill_out))
path = out or os.path.join('runs', 'bench', f"{'data' if data_only else 'phases' if phases else model}-{time.strftime('%Y%m%d-%H%M%S')}.json")
os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
with open(path, 'w') as f:
    json.dump(result, f, indent=1)
print(f"wrote {path}")
