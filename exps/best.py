"""The best combination, against the baseline (the recipe alone). It is picked from your own study logs: those
under --pick_from (default: --out_dir, where the studies wrote them, e.g. runs/), chosen on the validation split: in each technique study, the variant with the best
mean validation accuracy over its seeds, whose values of the flags that study sweeps join the combination
(a winner that is the recipe's own setting adds nothing). Studies are picked one by one, so interactions are
not searched; the test set of the chosen runs is still evaluated once. --pick_from=literature: a starting point
from the literature instead (also what runs, with a note, when --out_dir holds no finished technique study yet).

    python exps/best.py configs/cpu10.py --time_limit=2 --seeds=0,1,2                 # picks from runs/<study>/
    python exps/best.py configs/cpu10.py --pick_from=results/cpu_2min --time_limit=2  # the committed picks
"""
import sys

import common
import analysis  # on the path through common (the repo root)

TECHNIQUES = ('patch_embed', 'norm', 'ffn', 'pos_emb', 'registers', 'multi_cls', 'mla', 'layerscale', 'augment',
              'optimizer')
LITERATURE = dict(patch_embed='overlap', norm='rmsnorm', qk_norm=True, ffn='swiglu', pos_emb='rope2d', n_reg=4,
                  layerscale=1e-4, augment='trivialaugment', erasing=0.25, mixup=0.8, cutmix=1.0, ema=0.999)


def pick(logs_dir):
    """{flag: value} of the validation winners, and a line per study saying what it contributed."""
    studies = analysis.by_study(analysis.load_runs(logs_dir))
    combination, lines = {}, []
    for study in TECHNIQUES:
        variants = {v: g for v, g in studies.get(study, {}).items()
                    if not v.endswith('_highlr')}  # norm's stability runs (10x lr) are not candidates
        scores = {v: analysis.summary(g) for v, g in variants.items()}
        scores = {v: s for v, s in scores.items() if s['done']}
        if not scores:
            lines.append(f"{study}: no finished runs under {logs_dir}")
            continue
        winner = max(scores, key=lambda v: scores[v]['val'])
        flags = {k: variants[winner][0]['config'][k] for k in analysis.swept(variants)}
        combination.update(flags)
        lines.append(f"{study}: {winner} (val {100 * scores[winner]['val']:.2f}%, {analysis.n_seeds([scores[winner]['done']])}) -> "
                     + (', '.join(f"{k}={v}" for k, v in flags.items()) or 'nothing swept'))
    return combination, lines


args = common.parse('best')
pick_from = args.extra.pop('pick_from', '')
if pick_from == 'literature':
    best = LITERATURE
else:
    best, lines = pick(pick_from or args.out_dir)
    if any(': no finished runs' not in l for l in lines):  # at least one technique study has finished runs
        print('\n'.join(['best combination, chosen on validation:'] + lines))
    elif pick_from:  # asked for picks from a folder that has none: a wrong path, or logs not copied there yet
        print(f"error: --pick_from={pick_from}: no finished runs of the technique studies ({', '.join(TECHNIQUES)}) "
              f"under it; point it at the --out_dir your studies wrote to, or pass --pick_from=literature", file=sys.stderr)
        sys.exit(2)
    else:  # stderr: --list prints the runs alone on stdout
        print(f"note: no finished technique study under --out_dir={args.out_dir} yet; training the literature's "
              f"combination instead (run the studies first, or pass --pick_from=DIR)", file=sys.stderr)
        best = LITERATURE
grid = [('baseline', {}), ('best', best)]
common.summarise(args, common.run(args, grid))
