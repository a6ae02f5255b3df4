"""The long tier's answers (exps/long.py), read from the logs under results/: has the recipe converged, do the
2-minute screen's verdicts hold at length, seed 002's staircase beside ours, and the validation curves by
optimizer step. The three tables fill the marked blocks of results/cpu_long/README.md (plots/table.py --readme
calls them by name); the figure goes to results/cpu_long/figures/.

    python plots/long_tier.py                                        # print the tables, draw the curves
    python plots/table.py --readme=results/cpu_long/README.md        # refresh the README's tables
"""
import os

import numpy as np

import style  # first: it puts the repo root (analysis.py) on the path
import analysis
import talk

RESULTS = os.path.join(analysis.ROOT, 'results')
# seed 002's staircase, as its experiment log reports it (CIFAR-10 test accuracy, one ViT of its own kind)
SEED_002 = {'std': '~80', 'std+reg': '82-83', 'std+reg+stem': '~82', 'std+reg+stem+ls': '83-84',
            'std+reg+stem+ls+distill': '~86'}
CONVERGED = 0.5  # points of validation accuracy the last 20% of a schedule may still gain


def studies():
    return analysis.by_study(analysis.load_runs(RESULTS))


def pct(values):
    """'75.9 ± 0.3' over seeds, '75.9' for one, '-' for none."""
    v = 100 * np.array([x for x in values if x is not None and np.isfinite(x)])
    return '-' if not len(v) else f"{v.mean():.1f}" + (f" ± {v.std(ddof=1):.1f}" if len(v) > 1 else '')


def late_gain(run):
    """Points of validation accuracy gained over the last 20% of the run's planned epochs (best val at the end
    minus best val at 80%), or None while the run has not finished."""
    h, epochs = run['history'], run['config']['epochs']
    if run['status'] != 'done' or len(h) < epochs:
        return None
    cut = int(round(0.8 * epochs))
    return 100 * (max(e['val_acc'] for e in h) - max(e['val_acc'] for e in h[:cut]))


def convergence():
    """Every long run: epochs done, best validation at 80% and at the end, the late gain, converged or not."""
    rows = ['| run | epochs | val at 80% (%) | best val (%) | gain in the last 20% (points) | converged (< 0.5) | test (%) |',
            '|---|---|---|---|---|---|---|']
    for variant, group in studies().get('cpu_long/long', {}).items():
        for r in group:
            h, epochs = r['history'], r['config']['epochs']
            cut = int(round(0.8 * epochs))
            gain = late_gain(r)
            rows.append(f"| {r['name']} | {len(h)}/{epochs} | {pct([max((e['val_acc'] for e in h[:cut]), default=None)]) if len(h) >= cut else '-'}"
                        f" | {pct([max((e['val_acc'] for e in h), default=None)])} | {'-' if gain is None else f'{gain:+.2f}'}"
                        f" | {'-' if gain is None else 'yes' if gain < CONVERGED else 'no'} | {pct([r['final'].get('test_acc')])} |")
    return '\n'.join(rows) + '\n'


def direction(ev):
    """How a paired difference reads: 'higher' / 'lower' (every seed agrees and the mean beats the spread),
    'within spread', 'one seed', or None (no finished pair)."""
    if ev is None:
        return None
    if len(ev['diffs']) < 2:
        return 'one seed'
    state, why = analysis.verdict(ev)
    if state == 'supported':
        return 'higher'
    flipped = dict(ev, diffs=-ev['diffs'], mean=-ev['mean'])
    return 'lower' if analysis.verdict(flipped)[0] == 'supported' else 'within spread'


def short_vs_long():
    """One row per technique with a screen and a long comparison: each one's paired test-accuracy difference
    and reading, and whether the screen's verdict held at length."""
    s = studies()
    rows = ['| technique (vs its baseline) | 2-minute screen (points) | reads | long tier (points) | reads | verdict |',
            '|---|---|---|---|---|---|']
    for words, refs in talk.TECHNIQUES:
        long_refs = [r for r in refs if r[0] == talk.LONG]
        short_refs = [r for r in refs if r[0].startswith(talk.SCREEN)]
        if not (long_refs and short_refs):
            continue
        short, long = analysis.evidence(s, short_refs), analysis.evidence(s, long_refs)
        a, b = direction(short), direction(long)
        held = ('pending' if b is None or a is None else 'held' if a == b else
                'flipped' if {a, b} == {'higher', 'lower'} else f"{a} -> {b}")
        number = lambda ev: '-' if ev is None else analysis.claim_numbers(ev).rsplit(' (', 1)[0]
        rows.append(f"| {words} | {number(short)} | {a or '-'} | {number(long)} | {b or 'pending'} | {held} |")
    return '\n'.join(rows) + '\n'


def staircase():
    """Seed 002's staircase beside ours: each step's validation and test accuracy (mean ± std over seeds) and
    its paired test gain over the step before."""
    variants = studies().get('cpu_long/long', {})
    rows = ['| step | seed 002 (test %) | ours: val (%) | ours: test (%) | seeds | gain over the step before (points) |',
            '|---|---|---|---|---|---|']
    before = None
    for words, v in talk.STAIRCASE:
        done = analysis.done_runs(variants.get(v, []))
        gain = analysis.paired(variants[v], variants[before], 'test_acc') if before in variants and v in variants else []
        rows.append(f"| {words} (`{v}`) | {SEED_002[v]} | {pct([r['final'].get('best_val_acc') for r in done])} | "
                    f"{pct([r['final']['test_acc'] for r in done])} | {len(done)} | "
                    f"{' / '.join(f'{100 * (x - y):+.1f}' for x, y in gain) or '-'} |")
        before = v
    return '\n'.join(rows) + '\n'


BLOCKS = dict(convergence=convergence, short_vs_long=short_vs_long, staircase=staircase)


def curves(out_dir):
    """Validation accuracy against optimizer step, every long variant (mean over its seeds, to the step every
    seed reached), the screen's length marked."""
    variants = studies().get('cpu_long/long', {})
    runs = [r for g in variants.values() for r in g]
    fig = style.figure(runs)
    ax = fig.subplots()
    colour = style.colours(runs)
    for v, group in variants.items():
        n = min(len(r['history']) for r in group)
        if n:
            steps = np.array([e['step'] for e in group[0]['history'][:n]]) / 1000
            val = 100 * np.array([[e['val_acc'] for e in r['history'][:n]] for r in group]).mean(0)
            ax.plot(steps, val, color=colour[v], label=f"{v} ({len(group)} seed{'s' * (len(group) > 1)})")
    ax.axvline(0.26, color='0.5', ls='--')
    ax.text(0.3, ax.get_ylim()[0] + 1, 'the 2-minute screen ends here', color='0.4', fontsize=14)
    ax.set(xlabel='optimizer step (thousands; 175 steps of 256 images per epoch)', ylabel='validation accuracy (%)',
           title='The long tier: validation accuracy by step')
    ax.legend(loc='lower right')
    return style.save(fig, out_dir, 'long_curves')


if __name__ == '__main__':
    args = style.parse_args(__doc__, runs=None, out=os.path.join(RESULTS, 'cpu_long', 'figures'))
    for name, make in BLOCKS.items():
        print(f"## {name}\n\n{make()}")
    print('\n'.join(curves(args.out)))
