"""Train and val loss and accuracy against epoch, one figure per study, one line per variant
(mean over seeds; with several seeds a band spans min to max).

    python plots/curves.py --runs=runs --out=report/figures
"""
from matplotlib.ticker import MaxNLocator

import style  # first: it puts the repo root (analysis.py) on the path
import analysis

PANELS = ['train_loss', 'val_loss', 'train_acc', 'val_acc']


def draw(fig, variants, colour):
    """Draw one study's curves into fig (a figure or a slide); returns the 2 x 2 axes."""
    axes = fig.subplots(2, 2, sharex=True)
    seeds = []
    for variant, group in variants.items():
        if not analysis.curve(group, PANELS[0])[0]:  # no epoch that every seed reached
            continue
        for ax, key in zip(axes.flat, PANELS):
            history, y = analysis.curve(group, key)
            style.band(ax, [h['epoch'] + 1 for h in history], y * (100 if key.endswith('acc') else 1), colour[variant],
                       label=variant, marker='o' if len(history) < 4 else None)
        seeds.append(len(group))
    for ax, key in zip(axes.flat, PANELS):
        ax.set_title(analysis.words(key))
    last = max((h['epoch'] + 1 for g in variants.values() for r in g for h in r['history']), default=1)
    for ax in axes[1]:
        ax.set_xlabel('epoch')
        ax.set_xlim(0.5, last + 0.5)
        if last <= 12:
            ax.set_xticks(range(1, last + 1))  # MaxNLocator falls back to fractions on a one-epoch axis
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    band = f"\nband: min to max over {analysis.n_seeds(s for s in seeds if s > 1)}" if max(seeds, default=1) > 1 else ''
    axes[0, 1].legend(*axes[0, 0].get_legend_handles_labels(), loc='upper left', bbox_to_anchor=(1.02, 1),
                      title=f"variant{band}", fontsize=12 if len(variants) <= 8 else 10)
    return axes


def main(runs_dir, out_dir):
    return style.every_study(runs_dir, out_dir, 'curves', 'training curves',
                             lambda fig, study, variants, colour: draw(fig, variants, colour))


if __name__ == '__main__':
    args = style.parse_args(__doc__)
    print('\n'.join(main(args.runs, args.out)))
