"""Train and val loss and accuracy against epoch, one figure per study, one line per variant
(mean over seeds; the band spans min to max when a variant has several seeds).

    python plots/curves.py --runs=runs --out=report/figures
"""
import numpy as np
import matplotlib.pyplot as plt

import common

PANELS = [('train_loss', 'train loss'), ('val_loss', 'val loss'), ('train_acc', 'train acc'), ('val_acc', 'val acc')]


def plot_study(study, variants, colour, out_dir):
    fig, axes = plt.subplots(2, 2, figsize=(14, 9), sharex=True)
    for variant, group in variants.items():
        n = min(len(r['history']) for r in group)  # epochs every seed reached
        if n == 0:
            continue
        epochs = np.array([h['epoch'] for h in group[0]['history'][:n]]) + 1
        for ax, (key, title) in zip(axes.flat, PANELS):
            y = np.array([[h[key] for h in r['history'][:n]] for r in group], dtype=float)
            ax.plot(epochs, y.mean(0), color=colour[variant], label=variant, marker='o' if n < 4 else None)
            if len(group) > 1:
                ax.fill_between(epochs, y.min(0), y.max(0), color=colour[variant], alpha=0.2)
            ax.set_title(title)
    for ax in axes[1]:
        ax.set_xlabel('epoch')
    axes[0, 0].legend(loc='best')
    fig.suptitle(f"{study}: curves ({len(variants)} variants, seeds per variant: "
                 f"{'/'.join(sorted({str(len(g)) for g in variants.values()}))})")
    return common.save(fig, out_dir, f"curves_{study}")


def main(runs_dir, out_dir):
    return common.plot_every_study(runs_dir, out_dir, plot_study)


if __name__ == '__main__':
    args = common.main_args(__doc__)
    print('\n'.join(main(args.runs, args.out)))
