"""Where a train step's time goes, per variant: stacked bars of data wait, forward, backward and optimizer
(median ms per step) from the benchmark's JSON, one panel per mode and precision.

    python exps/bench.py --phases=True --modes=eager --dtypes=bfloat16 --out=results/bench_phases.json
    python plots/phases.py results/bench_phases.json --out=results/figures
"""
import argparse
import json

import numpy as np

import common

PHASES = [('data_ms', 'data wait'), ('forward_ms', 'forward'), ('backward_ms', 'backward'), ('optimizer_ms', 'optimizer')]
LABELS = {'mha': 'multi-head', 'mla': 'latent (MLA)', 'qk_norm': 'QK-norm', 'rope2d': '2D RoPE'}  # words, not flags


def figure(result):
    rows = result['results']
    panels = list(dict.fromkeys((r['mode'], r['dtype']) for r in rows))
    fig, axes = common.plt.subplots(1, len(panels), figsize=(2 + 2.2 * len({r['variant'] for r in rows}) * len(panels), 5.5),
                                    squeeze=False, sharey=True)
    for ax, (mode, dtype) in zip(axes[0], panels):
        sel = [r for r in rows if (r['mode'], r['dtype']) == (mode, dtype)]
        names, bottom = [LABELS.get(r['variant'], r['variant']) for r in sel], np.zeros(len(sel))
        for i, (key, label) in enumerate(PHASES):
            height = np.array([r[key] for r in sel])
            ax.bar(names, height, bottom=bottom, label=label, color=common.PALETTE[i])
            bottom += height
        ax.set_title(f"{mode}, {'bf16' if dtype == 'bfloat16' else 'fp32'}")
        ax.tick_params(axis='x', rotation=20)
    cfg = result['config']
    axes[0][0].set_ylabel('ms per train step (median)')
    axes[0][-1].legend(loc='upper left', bbox_to_anchor=(1, 1), frameon=False)
    fig.suptitle(f"ViT dim {cfg['dim']}, depth {cfg['depth']}, batch {cfg['batch_size']}, {result['device']}", fontsize=16)
    return fig


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('json', help='exps/bench.py --phases=True output')
    p.add_argument('--out', default='report/figures', help='where phases.png and phases.pdf go')
    a = p.parse_args()
    with open(a.json) as f:
        print('\n'.join(common.save(figure(json.load(f)), a.out, 'phases')))
