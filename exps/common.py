"""Shared plumbing of the study scripts: arguments, one train.py subprocess per run, skip, summary.

A study script is a grid of flag overrides: [(variant name, {flag: value}), ...]. `run` trains every
variant for every seed and leaves runs/<study>/<variant>_s<seed>/log.json. Rerunning a study skips the
runs that finished. One run at a time by default: on a CPU two trainings share the cores and distort
img/s (and a time-limited run gets fewer steps). On GPUs, --parallel=N runs N at a time, each pinned to
one GPU of --devices (round-robin; several runs may share a GPU: small ViTs do not fill one).
Every train.py command is: the recipe (a config file, optional), then the budget and the study's shared
flags, then the grid's flags, then the seed and any other --flag=value: later ones win.

    python exps/patch_size.py --seeds=3 --time_limit=10 --dataset=imagefolder --data_dir=/tmp/data/cifar10
    python exps/patch_size.py configs/cpu10.py --epochs=30 --time_limit=0 --seeds=0,1,2   # a recipe, an epoch budget
    python exps/patch_size.py --smoke          # seconds: synthetic data, tiny model, 2 steps
    python exps/patch_size.py --list           # print the runs, train nothing
    python exps/patch_size.py --only=patch2,patch8   # a part of the grid
    python exps/patch_size.py --lr=3e-4        # any other --flag=value goes to every train.py run
    python exps/patch_size.py --parallel=4 --devices=0,1   # 4 at a time, 2 per GPU
"""
import argparse
import json
import os
import queue
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the top-level modules: analysis (exps/best.py), configurator and data (train_size)
TRAIN = os.path.join(ROOT, 'train.py')
# --smoke: tiny enough that a run takes seconds on a CPU (most of it is importing torch)
SMOKE = dict(dataset='synthetic', dim=32, depth=1, heads=2, max_steps=2, val_size=100, epochs=1,
             batch_size=32, workers=0, warmup_epochs=0)
# The full augmentation and regularisation recipe, in the order the augment study adds it (the long tier uses it too)
FULL_AUGMENT = [('augment', 'trivialaugment'), ('color_jitter', 0.4), ('erasing', 0.25), ('mixup', 0.8), ('cutmix', 1.0),
                ('repeat_aug', 3), ('ema', 0.999)]


def parse(study):
    """The study's arguments; unknown --flag=value arguments are kept as train.py overrides."""
    p = argparse.ArgumentParser(prog=f"exps/{study}.py", description=f"the {study} study: trains every "
                                "variant x seed with train.py; other --flag=value arguments go to train.py")
    p.add_argument('recipe', nargs='?', default='', help='a config file (e.g. configs/cpu10.py) read first by every run')
    p.add_argument('--seeds', type=seed_list, default=[0], help='N = seeds 0..N-1, or a list: 0,1,2 (plots show mean and spread)')
    p.add_argument('--epochs', type=int, default=None, help="epochs per run (default: the recipe's, else train.py's)")
    p.add_argument('--time_limit', type=float, default=None, help="minutes of training per run; 0 = none, which "
                   "turns off a recipe's time budget for an epoch budget (default: the recipe's, else none)")
    p.add_argument('--dataset', default='', help='train.py --dataset (default: train.py default)')
    p.add_argument('--data_dir', default='', type=os.path.expanduser, help='train.py --data_dir')
    p.add_argument('--out_dir', default='runs', type=os.path.expanduser, help='runs go to out_dir/<study>/<variant>_s<seed>')
    p.add_argument('--smoke', action='store_true', help='tiny synthetic runs (tests)')
    p.add_argument('--list', action='store_true', help='print the runs and their flags, train nothing')
    p.add_argument('--only', default='', help='comma-separated variant names: run just these of the grid')
    p.add_argument('--parallel', type=int, default=1, help='trainings at once, each in its own process with its '
                   'output in <run>/train.out (default 1: one at a time, output on the terminal)')
    p.add_argument('--devices', default='', help='comma-separated GPUs (CUDA_VISIBLE_DEVICES values) the runs are '
                   'pinned to, round-robin (default with --parallel: every visible GPU)')
    args, extra = p.parse_known_args()
    if args.parallel < 1:
        p.error(f"--parallel={args.parallel} must be >= 1")
    for arg in extra:
        if not (arg.startswith('--') and '=' in arg):
            p.error(f"{arg}: extra train.py flags are written --name=value")
    if args.recipe and not os.path.isfile(args.recipe):
        p.error(f"recipe {args.recipe}: no such config file (a plain-assignment .py file, e.g. configs/cpu10.py)")
    args.study, args.extra = study, dict(a[2:].split('=', 1) for a in extra)
    return args


def seed_list(text):
    """'3' -> [0, 1, 2]; '0,2,5' -> [0, 2, 5] (a single chosen seed: '4,')."""
    try:
        seeds = [int(s) for s in text.split(',') if s.strip()] if ',' in text else list(range(int(text)))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a count (3) or a comma-separated list (0,1,2)") from None
    if ',' not in text and not seeds:  # '0' reads as a count of zero seeds; the user almost surely meant seed 0
        raise argparse.ArgumentTypeError(f"{text!r}: a count of seeds must be >= 1; seed {text} alone is '{text},'")
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: at least one seed, each >= 0, none twice")
    return seeds


def base_flags(args):
    """Flags every run of the study shares: smoke settings first, so the grid and the user override them.
    A budget given on the command line (even 0) is passed, so it beats the recipe's."""
    flags = dict(SMOKE) if args.smoke else {}
    for k in ('epochs', 'time_limit', 'dataset', 'data_dir'):
        if getattr(args, k) not in (None, ''):
            flags[k] = getattr(args, k)
    return flags


def train_size(args):
    """Training images left after the validation split (data_scaling sizes its subsets by it)."""
    import configurator
    import data
    recipe = {}
    if args.recipe:  # the recipe may name the dataset and the validation split
        exec(open(args.recipe).read(), {}, recipe)
    flags = {**recipe, **base_flags(args), **args.extra}
    try:
        ds = data.load_dataset(flags.get('dataset', 'cifar10'), flags.get('data_dir', 'data'), int(flags.get('img_size', 0)))
    except data.DataError as e:
        print(f"error: exps/{args.study}.py: {e}", file=sys.stderr)
        sys.exit(2)
    val = configurator.parse_value('val_size', str(flags.get('val_size', 'auto')), 'auto')
    return len(data.split_train_val(ds['train_x'], ds['train_y'], val)[0][0])


def status(run_dir):
    try:
        with open(os.path.join(run_dir, 'log.json')) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def run(args, grid, seeds=None, study=None):
    """Train every (variant, flags) of grid for each seed, args.parallel at a time; returns {run name: status}.
    Finished runs (done or diverged: a divergence is a result) are skipped; an interrupted one resumes;
    a failed one is trained again. A failure never stops the study."""
    study = study or args.study
    out_dir = os.path.join(args.out_dir, study)
    if args.only:
        only = set(args.only.split(','))
        unknown = only - {v for v, _ in grid}
        if unknown:
            sys.exit(f"error: --only: {', '.join(sorted(unknown))} not in the grid ({', '.join(v for v, _ in grid)})")
        grid = [(v, o) for v, o in grid if v in only]
    results, jobs = {}, []
    if not args.list:  # the grid's order, for the plots (augment's none -> full reads left to right)
        os.makedirs(out_dir, exist_ok=True)
        order_path = os.path.join(out_dir, 'order.json')
        order = json.load(open(order_path)) if os.path.exists(order_path) else []
        with open(order_path, 'w') as f:
            json.dump(order + [v for v, _ in grid if v not in order], f)
    for seed in (range(seeds) if seeds else args.seeds):  # seed-major: one full pass over the grid comes first
        for variant, overrides in grid:
            name = f"{variant}_s{seed}"
            flags = {**base_flags(args), **overrides, 'seed': seed, **args.extra, 'out_dir': out_dir, 'name': name}
            cmd = [sys.executable, TRAIN] + ([args.recipe] if args.recipe else []) + [f"--{k}={v}" for k, v in flags.items()]
            if args.list:
                print(name, ' '.join(cmd[2:]))
                continue
            previous = status(os.path.join(out_dir, name))
            if previous and previous['status'] in ('done', 'diverged'):
                print(f"skip {out_dir}/{name}: already {previous['status']}")
                results[name] = previous['status']
                continue
            if previous and os.path.exists(os.path.join(out_dir, name, 'ckpt_last.pt')) and previous['status'] != 'failed':
                cmd.append('--resume=True')
            elif previous:
                cmd.append('--overwrite=True')
            results[name] = None  # keeps the grid's order for the summary
            jobs.append((name, cmd))
    if jobs:
        results.update(train_all(args, study, out_dir, jobs))
    return results


def devices(args):
    """The GPUs runs are pinned to (CUDA_VISIBLE_DEVICES values), or [] (not pinned: one run at a time, or no GPU)."""
    if args.devices:
        return args.devices.split(',')
    if args.parallel == 1:
        return []
    if os.environ.get('CUDA_VISIBLE_DEVICES'):
        return os.environ['CUDA_VISIBLE_DEVICES'].split(',')
    import torch
    return [str(i) for i in range(torch.cuda.device_count())]


def train_all(args, study, out_dir, jobs):
    """Run the (name, train.py command) jobs, args.parallel at a time; returns {name: status}. Each run takes a
    slot, a GPU, while it trains (slots are handed out round-robin, so N runs on D GPUs put N/D on each).
    One at a time, a run's output goes to the terminal; in parallel, to <run>/train.out, and one line per
    finished run is printed. A run that fails leaves the others running."""
    gpus, slots = devices(args), queue.Queue()
    for i in range(args.parallel):
        slots.put(gpus[i % len(gpus)] if gpus else None)
    env = dict(os.environ)
    if args.parallel > 1 and not gpus and 'OMP_NUM_THREADS' not in env:  # CPU: share the cores, do not oversubscribe
        env['OMP_NUM_THREADS'] = str(max(1, (os.cpu_count() or 1) // args.parallel))

    def train(name, cmd):
        gpu = slots.get()
        try:
            run_env = env if gpu is None else dict(env, CUDA_VISIBLE_DEVICES=gpu)
            start = time.time()
            if args.parallel == 1:
                print(f"=== {study}/{name}: {' '.join(cmd[2:])}", flush=True)
                code = subprocess.run(cmd, env=run_env).returncode
            else:
                os.makedirs(os.path.join(out_dir, name), exist_ok=True)
                with open(os.path.join(out_dir, name, 'train.out'), 'a') as out:  # appended: a resumed run keeps both parts
                    out.write(f"=== {' '.join(cmd)}\n")
                    out.flush()
                    code = subprocess.run(cmd, env=run_env, stdout=out, stderr=subprocess.STDOUT).returncode
            return code, gpu, time.time() - start
        finally:
            slots.put(gpu)

    if args.parallel > 1 and jobs:
        print(f"{study}: {len(jobs)} runs, {args.parallel} at a time"
              + (f" on GPUs {','.join(gpus)}" if gpus else f" on the CPU ({env.get('OMP_NUM_THREADS')} threads each)")
              + f"; each run's output in {out_dir}/<run>/train.out", flush=True)
    results = {}
    with ThreadPoolExecutor(args.parallel) as pool:
        futures = {pool.submit(train, name, cmd): name for name, cmd in jobs}
        try:
            for n, future in enumerate(as_completed(futures), 1):
                name = futures[future]
                try:
                    code, gpu, seconds = future.result()
                except Exception as e:  # could not even start (a full disk, a missing python): the others go on
                    results[name] = f"failed ({type(e).__name__}: {e})"
                    print(f"[{n}/{len(jobs)}] {study}/{name}: {results[name]}", flush=True)
                    continue
                log = status(os.path.join(out_dir, name))
                results[name] = log['status'] if log and code in (0, 3) else f"failed (exit {code})"
                acc = (log or {}).get('final', {}).get('test_acc')
                print(f"[{n}/{len(jobs)}] {study}/{name}: {results[name]}" + (f", test acc {acc:.4f}" if acc is not None else '')
                      + f", {seconds / 60:.1f} min" + (f", GPU {gpu}" if gpu is not None else '')
                      + (f" | {os.path.join(out_dir, name, 'train.out')}" if args.parallel > 1 else ''), flush=True)
        except KeyboardInterrupt:  # Ctrl-C reached the runs too (they checkpoint and stop): start no new ones
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results


def summarise(args, *results):
    """Print one line per run and exit 1 if any run failed (diverged runs are results, not failures)."""
    merged = {k: v for r in results for k, v in r.items()}
    if args.list:
        return
    print(f"\n{args.study}: {len(merged)} runs")
    for name, st in merged.items():
        log = status(os.path.join(args.out_dir, args.study, name)) or {}
        acc = log.get('final', {}).get('test_acc')
        print(f"  {name:<32} {st:<18} " + (f"test acc {acc:.4f}" if acc is not None else ''))
    counts = {s: sum(v == s for v in merged.values()) for s in sorted(set(merged.values()))}
    print('  ' + ', '.join(f"{n} {s}" for s, n in counts.items()))
    sys.exit(1 if any(v.startswith('failed') or v == 'interrupted' for v in merged.values()) else 0)
