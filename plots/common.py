"""Shared by the plot scripts: read runs/**/log.json, one colour per variant, slide style, save PNG + PDF."""
import glob
import json
import os
import re
import sys

import matplotlib
matplotlib.use('Agg')  # files only, no display needed
import matplotlib.pyplot as plt
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the analysis plots load checkpoints through models.py

plt.rcParams.update({'font.size': 16, 'axes.titlesize': 18, 'axes.labelsize': 16, 'legend.fontsize': 13,
                     'xtick.labelsize': 14, 'ytick.labelsize': 14, 'lines.linewidth': 2.5,
                     'axes.spines.top': False, 'axes.spines.right': False, 'savefig.bbox': 'tight'})
PALETTE = [plt.get_cmap('tab20')(i) for i in range(0, 20, 2)] + [plt.get_cmap('tab20')(i) for i in range(1, 20, 2)]


def variant_of(name):
    """Run name 'patch4_s1' -> variant 'patch4' (the seeds of one variant share it)."""
    return re.sub(r'_s\d+$', '', name)


def natural_key(s):
    """'dim96' before 'dim192': digits compare as numbers."""
    return [float(t) if t.replace('.', '', 1).isdigit() else t for t in re.split(r'(\d+(?:\.\d+)?)', s)]


def load_runs(runs_dir):
    """Every readable log under runs_dir, with 'study' (folder under runs_dir), 'variant' and 'dir' added."""
    runs = []
    for path in sorted(glob.glob(os.path.join(runs_dir, '**', 'log.json'), recursive=True)):
        try:
            with open(path) as f:
                log = json.load(f)
        except (OSError, ValueError):
            print(f"skip unreadable {path}", file=sys.stderr)
            continue
        rel = os.path.relpath(os.path.dirname(path), runs_dir).split(os.sep)
        log.update(study=rel[0] if len(rel) > 1 else '.', variant=variant_of(log['name']), dir=os.path.dirname(path))
        runs.append(log)
    return runs


def grid_order(study_dir):
    """Variant names in the order the study script listed them (exps/common.py writes order.json)."""
    try:
        with open(os.path.join(study_dir, 'order.json')) as f:
            return json.load(f)
    except (OSError, ValueError):
        return []


def by_study(runs):
    """{study: {variant: [runs]}}, variants in the study's grid order, else in natural order."""
    out, orders = {}, {}
    for r in runs:
        out.setdefault(r['study'], {}).setdefault(r['variant'], []).append(r)
        orders.setdefault(r['study'], grid_order(os.path.dirname(r['dir'])))
    key = lambda order: lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), natural_key(kv[0]))
    return {s: dict(sorted(v.items(), key=key(orders[s]))) for s, v in sorted(out.items())}


def colours(runs):
    """One colour per variant name across every figure made from the same runs folder."""
    names = sorted({r['variant'] for r in runs}, key=natural_key)
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def plot_every_study(runs_dir, out_dir, plot_study):
    """plot_study(study, variants, colour, out_dir) for every study under runs_dir; the files written."""
    runs = load_runs(runs_dir)
    colour = colours(runs)
    return [p for study, variants in by_study(runs).items() for p in plot_study(study, variants, colour, out_dir)]


def summary(group):
    """Mean/std of test accuracy over the done runs of one variant, and its cost figures."""
    done = [r for r in group if r['status'] == 'done' and r['final'].get('test_acc') is not None]
    acc = np.array([r['final']['test_acc'] for r in done])
    rates = [np.median([h['img_per_s'] for h in r['history']]) for r in group if r['history']]
    return dict(n=len(group), done=len(done), diverged=sum(r['status'] == 'diverged' for r in group),
                acc=acc.mean() if len(acc) else float('nan'), std=acc.std(ddof=1) if len(acc) > 1 else 0.0,
                params=group[0]['model']['params'], flops=group[0]['model']['flops_per_image'],
                img_s=float(np.mean(rates)) if rates else float('nan'),
                time_s=float(np.mean([r['final'].get('train_time_s', np.nan) for r in done])) if done else float('nan'))


def save(fig, out_dir, stem):
    """Write out_dir/stem.png and .pdf; returns the two paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, f"{stem}.{ext}") for ext in ('png', 'pdf')]
    for p in paths:
        fig.savefig(p, dpi=150)
    plt.close(fig)
    return paths


def best_checkpoint(runs, vit):
    """ckpt_best.pt of the done run with the highest test accuracy, ViTs (vit=True) or ResNets."""
    ok = [r for r in runs if r['status'] == 'done' and (r['config'].get('model') == 'vit') == vit
          and os.path.exists(os.path.join(r['dir'], 'ckpt_best.pt'))]
    if not ok:
        return None
    return os.path.join(max(ok, key=lambda r: r['final']['test_acc'])['dir'], 'ckpt_best.pt')


def test_images(config, n):
    """n test images of the checkpoint's dataset, a fixed random sample (ImageFolder test sets are sorted
    by class), normalised as in training (train-split stats). Returns x, labels, raw uint8, class names."""
    import torch
    import data
    ds = data.load_dataset(config['dataset'], config['data_dir'])
    (train_x, _), _ = data.split_train_val(ds['train_x'], ds['train_y'], config['val_size'], config['subset'])
    mean, std = data.channel_stats(train_x)
    idx = torch.randperm(len(ds['test_x']), generator=torch.Generator().manual_seed(0))[:n]
    x, y = next(iter(data.Loader(ds['test_x'][idx], ds['test_y'][idx], n, 'cpu', mean, std)))
    return x, y, ds['test_x'][idx], ds['classes']


def main_args(description):
    import argparse
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--runs', default='runs', help='folder of runs (runs/<study>/<name>/log.json)')
    p.add_argument('--out', default='report/figures', help='where figures go')
    return p.parse_args()
