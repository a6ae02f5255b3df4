"""Where a train step's time goes, per variant: stacked bars of data wait, forward, backward and optimizer
(median ms per step) from the benchmark's JSON, one panel per mode and precision.

    python bench.py --phases=True --modes=eager --dtypes=bfloat16 --out=results/bench_phases.json
    python plots/phases.py results/bench_phases.json --out=results/figures
"""
import json

import numpy as np

import style  # first: it puts the repo root (analysis.py) on the path
import analysis

PHASES = [('data_ms', 'data wait'), ('forward_ms', 'forward'), ('backward_ms', 'backward'), ('optimizer_ms', 'optimizer')]
LABELS = {'mha': 'multi-head', 'mla': 'latent (MLA)', 'qk_norm': 'QK-norm', 'rope2d': '2D RoPE'}  # words, not flags


def figure(result):
    rows, cfg = result['results'], result['config']
    panels = list(dict.fromkeys((r['mode'], r['dtype']) for r in rows))
    fig = style.figure(footer=f"{analysis.dataset(cfg)}, augmentation: {cfg['augment']} | median of {cfg['steps']} steps | "
                              f"{result['device']}, torch {result['torch']}")
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for ax, (mode, dtype) in zip(axes, panels):
        sel = [r for r in rows if (r['mode'], r['dtype']) == (mode, dtype)]
        names, bottom = [LABELS.get(r['variant'], r['variant']) for r in sel], np.zeros(len(sel))
        for i, (key, label) in enumerate(PHASES):
            height = np.array([r[key] for r in sel])
            ax.bar(names, height, bottom=bottom, label=label, color=style.PALETTE[i])
            bottom += height
        ax.set_title(f"{mode}, {'bf16 autocast' if dtype == 'bfloat16' else 'fp32'}")
        ax.tick_params(axis='x', rotation=20)
    axes[0].set_ylabel('ms per training step (median)')
    axes[-1].legend(loc='upper left', bbox_to_anchor=(1, 1), frameon=False)
    fig.suptitle(f"Where a training step's time goes: ViT width {cfg['dim']}, depth {cfg['depth']}, batch {cfg['batch_size']}")
    return fig


if __name__ == '__main__':
    args = style.parse_args(__doc__, runs=None, json=(..., 'bench.py --phases=True output'))
    with open(args.json) as f:
        print('\n'.join(style.save(figure(json.load(f)), args.out, 'phases')))
