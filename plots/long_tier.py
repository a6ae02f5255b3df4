"""The long tier's answers (exps/long.py), read from the logs under results/: has the recipe converged, do the
2-minute screen's verdicts hold at length, seed 002's staircase beside ours, what changes on 10% of the data,
and the validation curves by optimizer step. The tables fill the marked blocks of results/cpu_long/README.md
(plots/table.py --readme calls them by name); the figure goes to results/cpu_long/figures/.

    python plots/long_tier.py                                        # print the tables, draw the curves
    python plots/table.py --readme=results/cpu_long/README.md        # refresh the README's tables
"""
import os

import numpy as np

import style  # first: it puts the repo root (analysis.py) on the path
import analysis
from curves import draw as draw_curves
import talk

RESULTS = os.path.join(analysis.ROOT, 'results')
# seed 002's staircase, as its experiment log reports it (CIFAR-10 test accuracy, one ViT of its own kind)
SEED_002 = {'std': '~80', 'std+reg': '82-83', 'std+reg+stem': '~82', 'std+reg+stem+ls': '83-84',
            'std+reg+stem+ls+distill': '~86'}
CONVERGED = 0.5  # points of validation accuracy the last 20% of a schedule may still gain


def studies():
    return analysis.by_study(analysis.load_runs(RESULTS))


def convergence():
    """Every long run: epochs done, best validation at 80% and at the end, the gain over the last 20% of the
    planned epochs (once the run has finished), converged or not."""
    one = lambda x: '-' if x is None else f"{100 * x:.1f}"
    rows = []
    for group in studies().get(talk.LONG, {}).values():
        for r in group:
            val, epochs = [e['val_acc'] for e in r['history']], r['config']['epochs']
            cut = int(round(0.8 * epochs))
            gain = 100 * (max(val) - max(val[:cut])) if r['status'] == 'done' and len(val) >= epochs else None
            rows.append([r['name'], f"{len(val)}/{epochs}", one(max(val[:cut]) if len(val) >= cut else None),
                         one(max(val, default=None)), '-' if gain is None else f'{gain:+.2f}',
                         '-' if gain is None else 'yes' if gain < CONVERGED else 'no', one(r['final'].get('test_acc'))])
    return style.md_table(['run', 'epochs', 'val at 80% (%)', 'best val (%)', 'gain in the last 20% (points)',
                  'converged (< 0.5)', 'test (%)'], rows)


def twice_as_long():
    """Every variant run at the tier's length and at half of it (`X` and `X_half`): each one's test and best
    validation, and the paired gain of doubling the length, per seed."""
    variants, rows = studies().get(talk.LONG, {}), []
    for v in variants:
        if v + '_half' not in variants:
            continue
        half, full = analysis.summary(variants[v + '_half']), analysis.summary(variants[v])
        gain = lambda key: ' / '.join(f'{100 * (x - y):+.2f}' for x, y in
                                      analysis.paired(variants[v], variants[v + '_half'], key)) or '-'
        epochs = [g[0]['config']['epochs'] for g in (variants[v + '_half'], variants[v])]
        rows.append([f'`{v}` ({epochs[0]} -> {epochs[1]} epochs)', analysis.pm(half['acc'], half['std'], half['done'], 2),
                     analysis.pm(full['acc'], full['std'], full['done'], 2), gain('test_acc'), gain('best_val_acc')])
    return style.md_table(['variant (length)', 'test, half length (%)', 'test, full length (%)',
                           'gain of twice the steps, test (points)', 'gain, best validation (points)'], rows)


def short_vs_long():
    """One row per technique with a screen and a long comparison: each one's paired test-accuracy difference
    and reading, and whether the screen's verdict held at length."""
    s, rows = studies(), []
    number = lambda ev: '-' if ev is None else analysis.claim_numbers(ev).rsplit(' (', 1)[0]
    for words, refs in talk.TECHNIQUES:
        long_refs, short_refs = [r for r in refs if r[0] == talk.LONG], [r for r in refs if r[0].startswith(talk.SCREEN)]
        if not (long_refs and short_refs):
            continue
        short, long = analysis.evidence(s, short_refs), analysis.evidence(s, long_refs)
        a, b = analysis.direction(short), analysis.direction(long)
        held = ('pending' if b is None or a is None else 'held' if a == b else
                'flipped' if {a, b} == {'higher', 'lower'} else
                f"pending: one seed, {'same' if (long['mean'] > 0) == (a == 'higher') else 'opposite'} sign"
                if b == 'one seed' and a in ('higher', 'lower') else f"{a} -> {b}")
        rows.append([words, number(short), a or '-', '-' if long is None else analysis.claim_numbers(long), b or 'pending', held])
    return style.md_table(['technique (vs its baseline)', '2-minute screen (points)', 'reads', 'long tier (points, length)',
                           'reads', 'verdict'], rows)


def staircase():
    """Seed 002's staircase beside ours: each step's validation and test accuracy (mean ± std over seeds) and
    its paired test gain over the step before."""
    variants, rows, before = studies().get(talk.LONG, {}), [], None
    for words, v in talk.STAIRCASE:
        s = analysis.summary(variants[v]) if v in variants else dict(done=0, val=0, val_std=0, acc=0, std=0)
        gain = analysis.paired(variants[v], variants[before], 'test_acc') if before in variants and v in variants else []
        rows.append([f"{words} (`{v}`)", SEED_002[v], analysis.pm(s['val'], s['val_std'], s['done']),
                     analysis.pm(s['acc'], s['std'], s['done']), str(s['done']),
                     ' / '.join(f'{100 * (x - y):+.1f}' for x, y in gain) or '-'])
        before = v
    return style.md_table(['step', 'seed 002 (test %)', 'ours: val (%)', 'ours: test (%)', 'seeds',
                  'gain over the step before (points)'], rows)


def small_data():
    """On 10% of the training split (the `_10pct` variants; `_x2`: twice the epochs): each one's test accuracy, the
    accuracy on its (augmented) training batches over the last epoch, and its paired test difference from the
    recipe's ViT at the same length."""
    s = studies()
    variants, rows = s.get(talk.LONG, {}), []
    base = lambda v: 'cpu10_10pct' + v.split('_10pct')[1]  # the recipe at the same length: cpu10_10pct(_x2)
    for v in sorted((v for v in variants if '_10pct' in v), key=lambda v: (base(v), v != base(v))):
        ev = analysis.evidence(s, [(talk.LONG, v, base(v))]) if v != base(v) else None
        summ = analysis.summary(variants[v])
        fit = [r['history'][-1]['train_acc'] for r in analysis.done_runs(variants[v])]
        rows.append([f'`{v}`', analysis.pm(summ['acc'], summ['std'], summ['done'], 2),
                     analysis.pm(np.mean(fit), np.std(fit, ddof=1) if len(fit) > 1 else 0, len(fit)),
                     '-' if ev is None else analysis.claim_numbers(ev), analysis.direction(ev) or '-'])
    return style.md_table(['variant (4,500 images)', 'test (%)', "last epoch's training batches (%)",
                           'vs the recipe at that length, test (points, by seed)', 'reads'], rows)


BLOCKS = dict(convergence=convergence, twice_as_long=twice_as_long, short_vs_long=short_vs_long, staircase=staircase,
              small_data=small_data)


def curves(out_dir):
    """Validation accuracy against optimizer step, every long variant (mean over its seeds, to the step every
    seed reached), the screen's length marked. The data-scaling runs (a subset: fewer steps an epoch) are left out."""
    variants = {v: g for v, g in studies().get(talk.LONG, {}).items() if not g[0]['config'].get('subset')}
    runs = [r for g in variants.values() for r in g]
    fig, colour = style.figure(runs), style.colours(runs)
    ax = fig.subplots()
    for v, group in variants.items():
        history, val = analysis.curve(group, 'val_acc')
        if history:
            ax.plot(np.array([e['step'] for e in history]) / 1000, 100 * val.mean(0), color=colour[v],
                    label=f"{v} ({len(group)} seed{'s' * (len(group) > 1)})")
    ax.axvline(0.26, color='0.5', ls='--')
    ax.text(0.3, ax.get_ylim()[0] + 1, 'the 2-minute screen ends here', color='0.4', fontsize=14)
    ax.set(xlabel='optimizer step (thousands; 175 steps of 256 images per epoch)', ylabel='validation accuracy (%)',
           title='The long tier: validation accuracy by step')
    ax.legend(loc='lower right')
    return style.save(fig, out_dir, 'long_curves')


def baseline_curves(out_dir):
    """The recipe's training and validation loss and accuracy at the tier's length and at half of it (the same
    steps per epoch, so the epochs line up): where it converges, and how far training and validation part."""
    variants = {v: g for v, g in studies().get(talk.LONG, {}).items() if v in ('cpu10', 'cpu10_half')}
    runs = [r for g in variants.values() for r in g]
    if not runs:
        return []
    fig = style.figure(runs)
    draw_curves(fig, variants, style.colours(runs))
    epochs = sorted({r['config']['epochs'] for r in runs})
    fig.suptitle(f"The recipe (configs/cpu10.py) at {' and '.join(map(str, epochs))} epochs")
    return style.save(fig, out_dir, 'baseline_curves')


if __name__ == '__main__':
    args = style.parse_args(__doc__, runs=None, out=os.path.join(RESULTS, 'cpu_long', 'figures'))
    for name, make in BLOCKS.items():
        print(f"## {name}\n\n{make()}")
    print('\n'.join(curves(args.out) + baseline_curves(args.out)))
