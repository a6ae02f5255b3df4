"""Final test accuracy against the swept flag, one figure per study: bars are the mean over seeds
(error bar: std), each labelled with its params, FLOPs and img/s; right, accuracy against FLOPs.

    python plots/ablation.py --runs=runs --out=report/figures
"""
import numpy as np
import matplotlib.pyplot as plt

import common


def plot_study(study, variants, colour, out_dir):
    rows = {v: common.summary(g) for v, g in variants.items()}
    names = list(rows)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(min(26, max(12, 1.5 * len(names) + 6)), 7), width_ratios=[max(len(names), 2), 2])
    acc = np.array([rows[v]['acc'] for v in names]) * 100
    ax.bar(range(len(names)), np.nan_to_num(acc), yerr=[rows[v]['std'] * 100 for v in names],
           color=[colour[v] for v in names], capsize=6)
    finite = acc[np.isfinite(acc)]
    lo = max(0.0, np.floor(finite.min() - 10)) if len(finite) else 0.0  # zoom in: differences are often ~1%
    ax.set_ylim(lo, (finite.max() + 3) if len(finite) else 100)
    for i, v in enumerate(names):
        r = rows[v]
        label = (f"{acc[i]:.1f}%\n" if r['done'] else 'no done run\n') + \
            f"{r['params'] / 1e6:.2f}M p\n{r['flops'] / 1e6:.0f} MFLOP\n{r['img_s']:.0f} img/s" + \
            (f"\n{r['diverged']}/{r['n']} diverged" if r['diverged'] else '')
        ax.text(i, lo + 0.5, label, ha='center', va='bottom', fontsize=11, color='white' if r['done'] else 'black',
                fontweight='bold')
    ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 4 else 0, ha='right' if len(names) > 4 else 'center')
    ax.set_ylabel('test accuracy (%)')
    ax.set_title(f"{study}")
    for v in names:
        if rows[v]['done']:
            ax2.errorbar(rows[v]['flops'] / 1e6, rows[v]['acc'] * 100, yerr=rows[v]['std'] * 100, fmt='o',
                         ms=12, color=colour[v], label=v, capsize=4)
    ax2.set_xscale('log')
    ax2.set_xlabel('MFLOPs / image (log)')
    ax2.set_ylabel('test accuracy (%)')
    ax2.set_title('accuracy vs cost')
    return common.save(fig, out_dir, f"ablation_{study}")


def main(runs_dir, out_dir):
    return common.plot_every_study(runs_dir, out_dir, plot_study)


if __name__ == '__main__':
    args = common.main_args(__doc__)
    print('\n'.join(main(args.runs, args.out)))
