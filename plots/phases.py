"""Where a train step's time goes, per variant: stacked bars of data wait, forward, backward and optimizer
(median ms per step) from the benchmark's JSON, one panel per mode and precision.

    python bench.py --phases=True --modes=eager --dtypes=bfloat16 --out=results/bench_phases.json
    python plots/phases.py results/bench_phases.json --out=results/figures
"""
import argparse
import json

import numpy as np

import common

PHASES = [('data_ms', 'data wait'), ('forward_ms', 'forward'), ('backward_ms', 'backward'), ('optimizer_ms', 'optimizer')]
LABELS = {'mha': 'multi-head', 'mla': 'latent (MLA)', 'qk_norm': 'QK-norm', 'rope2d': '2D RoPE'}  # words, not flags


def figure(result):
    rows, cfg = result['results'], result['config']
    panels = list(dict.fromkeys((r['mode'], r['dtype']) for r in rows))
    fig = common.figure()
    fig.get_layout_engine().set(rect=(0, 0.05, 1, 0.95))  # the bottom line says data, steps and machine
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for ax, (mode, dtype) in zip(axes, panels):
        sel = [r for r in rows if (r['mode'], r['dtype']) == (mode, dtype)]
        names, bottom = [LABELS.get(r['variant'], r['variant']) for r in sel], np.zeros(len(sel))
        for i, (key, label) in enumerate(PHASES):
            height = np.array([r[key] for r in sel])
            ax.bar(names, height, bottom=bottom, label=label, color=common.PALETTE[i])
            bottom += height
        ax.set_title(f"{mode}, {'bf16 autocast' if dtype == 'bfloat16' else 'fp32'}")
        ax.tick_params(axis='x', rotation=20)
    axes[0].set_ylabel('ms per training step (median)')
    axes[-1].legend(loc='upper left', bbox_to_anchor=(1, 1), frameon=False)
    fig.suptitle(f"Where a training step's time goes: ViT width {cfg['dim']}, depth {cfg['depth']}, batch {cfg['batch_size']}")
    fig.text(0.01, 0.012, f"{common.dataset(cfg)}, augmentation: {cfg['augment']} | median of {cfg['steps']} steps | "
             f"{result['device']}, torch {result['torch']}", fontsize=12, color='0.3')
    return fig

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('json', help='bench.py --phases=True output')
    p.add_argument('--out', default='report/figures', help='where phases.png and phases.pdf go')
    a = p.parse_args()
    with open(a.json) as f:
        print('\n'.join(common.save(figure(json.load(f)), a.out, 'phases')))
