"""Final test accuracy per variant, one figure per study: bars from zero are the mean over seeds (error
bar: std, only with >= 2 seeds), each labelled with its params, FLOPs and img/s; right, accuracy against
FLOPs. The data-scaling study (model x training images) is drawn as accuracy against training images.

    python plots/ablation.py --runs=runs --out=report/figures
"""
import os

import matplotlib.ticker
import numpy as np

import style  # first: it puts the repo root (analysis.py) on the path
import analysis


def draw(fig, variants, colour):
    """Draw one study into fig (a figure or a slide); returns the bar axes and the cost axes."""
    rows = {v: analysis.summary(g) for v, g in variants.items()}
    names = list(rows)
    ticks, xlabel = analysis.labels(variants)
    ax, ax2 = fig.subplots(1, 2, width_ratios=[min(max(len(names), 2), 5), 2])  # the cost panel keeps its labels
    acc = np.array([rows[v]['acc'] for v in names]) * 100
    x = np.arange(len(names))
    ax.bar(x, np.nan_to_num(acc), color=[colour[v] for v in names])
    err = np.array([100 * rows[v]['std'] if rows[v]['done'] >= 2 else np.nan for v in names])  # no std from one seed
    spread = np.flatnonzero(np.isfinite(err))
    if spread.size:
        ax.errorbar(x[spread], acc[spread], yerr=err[spread], fmt='none',
                    ecolor='black', capsize=6, label=f"std over {analysis.n_seeds(rows[names[i]]['done'] for i in spread)}")
    chance = 100 / variants[names[0]][0]['config'].get('num_classes', 10)
    ax.axhline(chance, color='0.4', ls='--', lw=1.5, label=f"chance ({chance:.0f}%)")
    top = np.nanmax(acc) if np.isfinite(acc).any() else 0
    crowded = len(names) > 6  # past 6 bars the per-bar cost boxes overlap; the right panel still shows cost
    above = np.nan_to_num(acc) + np.nan_to_num(err) + top * 0.02
    ax.set_ylim(0, max(above.max() * (1.3 if crowded else 1.15), chance * 1.5, 10))  # from zero: heights compare honestly
    for i, v in enumerate(names):
        r = rows[v]
        ax.text(i, above[i], f"{acc[i]:.1f}%" if r['done'] else 'no done run',
                ha='center', va='bottom', fontsize=10 if crowded else 15,
                fontweight='bold', rotation=90 if crowded else 0)
        if crowded and not r['diverged']:
            continue
        cost = (f"{r['diverged']}/{r['n']}\ndiverged" if crowded else
                f"{r['params'] / 1e6:.2f}M params\n{r['flops'] / 1e6:.0f} MFLOPs\n{r['img_s']:.0f} img/s" +
                (f"\n{r['diverged']}/{r['n']} diverged" if r['diverged'] else ''))
        ax.text(i, top * 0.03, cost, ha='center', va='bottom', fontsize=9 if crowded else 11,
                bbox=dict(facecolor='white', alpha=0.75, edgecolor='none', pad=1.5))
    slant = len(names) > 4 or max(len(t) for t in ticks.values()) > 10
    ax.set_xticks(x, [ticks[v] for v in names], rotation=30 if slant else 0, ha='right' if slant else 'center')
    ax.set_xlabel(xlabel)
    ax.set_ylabel(analysis.words('test_acc'))
    # above the axes, not inside: inside it sat on the first bar's label
    ax.legend(loc='lower left', bbox_to_anchor=(0, 1.0), ncol=2, fontsize=12, frameon=False)
    done = [v for v in names if rows[v]['done']]
    flops = [rows[v]['flops'] for v in done]
    # FLOPs alike (heads, ffn, optimizer, augment...): the measured speed is the cost that differs
    by_speed = bool(done) and max(flops) <= 1.01 * min(flops)
    cost = {v: rows[v]['img_s'] if by_speed else rows[v]['flops'] / 1e6 for v in done}
    for i, v in enumerate(names):
        if v in cost:
            ax2.errorbar(cost[v], acc[i], yerr=None if np.isnan(err[i]) else err[i], fmt='o', ms=12, color=colour[v],
                         capsize=4)
    wide = bool(cost) and max(cost.values()) > 3 * min(cost.values())  # a narrow log range has no labelled tick
    if wide:
        ax2.set_xscale('log')
        ax2.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor labels of a narrow range overlap
    ax2.set_xlabel(('training images per second' if by_speed else 'MFLOPs per image') + (' (log)' if wide else ''))
    ax2.set_ylabel(analysis.words('test_acc'))
    ax2.set_title('accuracy vs cost')
    return ax, ax2


def draw_scaling(fig, variants, colour):
    """Test accuracy against training images, one line per model; None when the study has no run."""
    points = analysis.scaling_points(variants)
    if not points:
        return None
    ax = fig.subplots()
    for m, pts in points.items():
        n, acc = [p[0] for p in pts], [100 * p[1]['acc'] for p in pts]
        ax.plot(n, acc, marker='o', ms=10, color=colour[pts[-1][2]], label=m)
        spread = [p for p in pts if p[1]['done'] >= 2]
        if spread:
            ax.errorbar([p[0] for p in spread], [100 * p[1]['acc'] for p in spread], yerr=[100 * p[1]['std'] for p in spread],
                        fmt='none', ecolor=colour[pts[-1][2]], capsize=6,
                        label=f"{m}: std over {analysis.n_seeds(p[1]['done'] for p in spread)}")
    ax.set_xscale('log')
    ax.set_ylim(bottom=0)
    ax.set_xlabel('training images (log)')
    ax.set_ylabel(analysis.words('test_acc'))
    ax.legend()
    return ax


def draw_study(fig, study, variants, colour):
    """data_scaling as accuracy against training images, any other study as bars and cost."""
    if not (os.path.basename(study) == 'data_scaling' and draw_scaling(fig, variants, colour)):
        draw(fig, variants, colour)


def main(runs_dir, out_dir):
    return style.every_study(runs_dir, out_dir, 'ablation', 'test accuracy and cost', draw_study)


if __name__ == '__main__':
    args = style.parse_args(__doc__)
    print('\n'.join(main(args.runs, args.out)))
