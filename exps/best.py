"""The best combination, against the baseline (the recipe alone). With --pick_from=DIR (the ablation logs, e.g.
results/cpu_2min) it is chosen on the validation split: in each technique study, the variant with the best
mean validation accuracy over its seeds, whose values of the flags that study sweeps join the combination
(a winner that is the recipe's own setting adds nothing). Studies are picked one by one, so interactions are
not searched; the test set of the chosen runs is still evaluated once. Without --pick_from, a starting
point from the literature.

    python exps/best.py configs/cpu10.py --pick_from=results/cpu_2min --time_limit=2 --seeds=0,1,2
"""
import importlib.util
import os

import common

TECHNIQUES = ('patch_embed', 'norm', 'ffn', 'pos_emb', 'registers', 'multi_cls', 'mla', 'layerscale', 'augment',
              'optimizer')
LITERATURE = dict(patch_embed='overlap', norm='rmsnorm', qk_norm=True, ffn='swiglu', pos_emb='rope2d', n_reg=4,
                  layerscale=1e-4, augment='trivialaugment', erasing=0.25, mixup=0.8, cutmix=1.0, ema=0.999)


def pick(logs_dir):
    """{flag: value} of the validation winners, and a line per study saying what it contributed."""
    spec = importlib.util.spec_from_file_location('plots_common', os.path.join(common.ROOT, 'plots', 'common.py'))
    plots = importlib.util.module_from_spec(spec)  # plots/common.py reads the logs; its name clashes with ours
    spec.loader.exec_module(plots)
    studies = plots.by_study(plots.load_runs(logs_dir))
    combination, lines = {}, []
    for study in TECHNIQUES:
        variants = {v: g for v, g in studies.get(study, {}).items()
                    if not v.endswith('_highlr')}  # norm's stability runs (10x lr) are not candidates
        scores = {v: plots.summary(g) for v, g in variants.items()}
        scores = {v: s for v, s in scores.items() if s['done']}
        if not scores:
            lines.append(f"{study}: no finished runs under {logs_dir}")
            continue
        winner = max(scores, key=lambda v: scores[v]['val'])
        flags = {k: variants[winner][0]['config'][k] for k in plots.swept(variants)}
        combination.update(flags)
        lines.append(f"{study}: {winner} (val {100 * scores[winner]['val']:.2f}%, {plots.n_seeds([scores[winner]['done']])}) -> "
                     + (', '.join(f"{k}={v}" for k, v in flags.items()) or 'nothing swept'))
    return combination, lines


args = common.parse('best')
pick_from = args.extra.pop('pick_from', '')
if pick_from:
    best, lines = pick(pick_from)
    print('\n'.join(['best combination, chosen on validation:'] + lines))
else:
    best = LITERATURE
grid = [('baseline', {}), ('best', best)]
common.summarise(args, common.run(args, grid))
