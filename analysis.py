"""Reading the logs: load them, group them by study and variant, mean ± std over seeds, seeds paired between
variants, the flags a study sweeps, a computed finding per study, a claim's evidence and verdict, and the
words for a run's budget, dataset, recipe and machine. No drawing: plots/ draws from it, exps/best.py picks
its combination with it.

    import analysis
    studies = analysis.by_study(analysis.load_runs('results/cpu_2min'))   # {study: {variant: [logs]}}
    analysis.summary(studies['patch_size']['patch4'])                     # mean ± std over seeds, cost
    analysis.finding(studies['patch_size'])                               # one sentence
"""
import collections
import glob
import json
import os
import re
import sys

import numpy as np

ROOT = os.path.dirname(os.path.abspath(__file__))

# Words for the slides. TITLES also fixes the order of the appendix (plots/slides.py); a study not named here
# keeps its folder name. WORDS: a flag's name on an axis; the part in brackets is dropped inside a sentence.
TITLES = dict(baseline='Baseline ViT', recipe='Old defaults vs a plain training loop', patch_size='Patch size',
              model_size='Width x depth', heads='Number of heads',
              patch_embed='Patch embedding', norm='LayerNorm vs RMSNorm, QK-norm', ffn='GELU MLP vs SwiGLU',
              pos_emb='Position embedding', registers='Register tokens', multi_cls='Several CLS tokens',
              mla='Low-rank latent attention (MLA)', layerscale='LayerScale', augment='Augmentation and regularisation',
              optimizer='Optimizer', distill='Distillation from a ResNet-18', resnet='ResNet vs ViT',
              data_scaling='Data scaling: ViT vs ResNet', best='Best combination vs baseline',
              avx2='10% of the data, float32 on an AVX2 CPU')
WORDS = dict(patch_size='patch size (pixels)', dim='width (channels)', depth='depth (blocks)', heads='attention heads',
             head_dim='head width (channels)', mlp_ratio='MLP ratio', ffn='feed-forward', norm='normalisation',
             qk_norm='QK-norm', patch_embed='patch embedding', pos_emb='position embedding',
             cls_pos='position on the CLS token', pool='pooling', n_cls='CLS tokens', n_reg='register tokens',
             layerscale='LayerScale init', attn='attention', q_rank='query rank', kv_rank='key/value rank',
             model='model', subset='training images', optimizer='optimizer', lr='learning rate',
             weight_decay='weight decay', augment='augmentation policy', erasing='random erasing', mixup='mixup alpha',
             cutmix='cutmix alpha', repeat_aug='repeated augmentation', ema='EMA decay', distill='distillation',
             dist_token='distillation token', drop_path='drop path', batch_size='batch size', epochs='epochs',
             test_acc='test accuracy (%)', val_acc='validation accuracy (%)', train_acc='training accuracy (%)',
             init='weight init', pos_std='position init std', patch_norm='patch LayerNorm', bias='linear biases',
             train_loss='training loss', val_loss='validation loss', flops_per_image='forward MFLOPs per image')
DATASETS = dict(cifar10='CIFAR-10', cifar100='CIFAR-100', synthetic='synthetic data')
# config keys that differ between variants without being what the study sweeps
NOT_SWEPT = {'seed', 'name', 'out_dir', 'resume', 'overwrite', 'teacher', 'data_dir', 'workers', 'debug',
             'log_interval', 'compile', 'device', 'dtype', 'num_classes', 'in_chans', 'img_size'}


def words(flag, sentence=False):
    """'patch_size' -> 'patch size (pixels)'; in a sentence, 'patch size'."""
    w = WORDS.get(flag, flag.replace('_', ' '))
    return re.sub(r' \(.*\)$', '', w) if sentence else w


def slug(study):
    """A study as part of a file name: 'cpu_3min/patch_size' -> 'cpu_3min_patch_size'."""
    return study.replace(os.sep, '_')


def title(study):
    """'cpu_3min/patch_size' -> 'Patch size' (the folder above the study is the budget, said elsewhere); a
    folder with no title is written in words: 'equal_epochs' -> 'Equal epochs'."""
    name = os.path.basename(study)
    return TITLES.get(name, name.replace('_', ' ').capitalize())


def natural_key(s):
    """'dim96' before 'dim192': digits compare as numbers."""
    return [float(t) if t.replace('.', '', 1).isdigit() else t for t in re.split(r'(\d+(?:\.\d+)?)', s)]


# ---------------------------------------------------------------- loading and grouping

def load_runs(runs_dir):
    """Every log under runs_dir: a run folder's log.json (runs/<study>/<name>/log.json) or a log kept as
    <study>/<name>.json (results/). Adds 'study' (the folder path above the run, relative to runs_dir:
    'patch_size', or 'cpu_3min/patch_size' when reading results/), 'variant' (the name without its '_s<seed>':
    the seeds of one variant share it) and 'dir' (the run folder)."""
    runs = []
    for path in sorted(glob.glob(os.path.join(runs_dir, '**', '*.json'), recursive=True)):
        try:
            with open(path) as f:
                log = json.load(f)
        except (OSError, ValueError):
            print(f"skip unreadable {path}", file=sys.stderr)
            continue
        if not (isinstance(log, dict) and {'name', 'status', 'config', 'history'} <= set(log)):
            continue  # order.json, benchmark output
        run_dir = os.path.dirname(path) if os.path.basename(path) == 'log.json' else os.path.splitext(path)[0]
        log.update(study=os.path.relpath(os.path.dirname(run_dir), runs_dir), variant=re.sub(r'_s\d+$', '', log['name']),
                   dir=run_dir)
        runs.append(log)
    return runs


def grid_order(study_dir):
    """Variant names in the order the study script listed them (exps/common.py writes order.json)."""
    try:
        with open(os.path.join(study_dir, 'order.json')) as f:
            return json.load(f)
    except (OSError, ValueError):
        return []


def by_study(runs):
    """{study: {variant: [runs]}}, variants in the study's grid order, else in natural order."""
    out, orders = {}, {}
    for r in runs:
        out.setdefault(r['study'], {}).setdefault(r['variant'], []).append(r)
        orders.setdefault(r['study'], grid_order(os.path.dirname(r['dir'])))
    key = lambda order: lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), natural_key(kv[0]))
    return {s: dict(sorted(v.items(), key=key(orders[s]))) for s, v in sorted(out.items())}


def run_of(ckpt):
    """The log of the run a checkpoint belongs to (for the budget line of an analysis figure); [] if none."""
    run_dir = os.path.dirname(os.path.abspath(ckpt))
    return [r for r in load_runs(os.path.dirname(run_dir)) if os.path.abspath(r['dir']) == run_dir]


def best_checkpoint(runs, vit):
    """ckpt_best.pt of the done run with the highest validation accuracy (never chosen on test), ViTs
    (vit=True) or ResNets."""
    ok = [r for r in runs if r['status'] == 'done' and (r['config'].get('model') == 'vit') == vit
          and os.path.exists(os.path.join(r['dir'], 'ckpt_best.pt'))]
    if not ok:
        return None
    return os.path.join(max(ok, key=lambda r: r['final']['best_val_acc'])['dir'], 'ckpt_best.pt')


def test_images(config, n):
    """n test images of a run's dataset, a fixed random sample (ImageFolder test sets are sorted by class),
    normalised as train.py normalises them (data.py: the train split's channel statistics). Returns x,
    labels, raw uint8, class names."""
    import data
    import torch
    ds = data.load_dataset(config['dataset'], config['data_dir'], config['img_size'])
    (train_x, _), _ = data.split_train_val(ds['train_x'], ds['train_y'], config['val_size'], config['subset'])
    mean, std = data.channel_stats(train_x)
    idx = torch.randperm(len(ds['test_x']), generator=torch.Generator().manual_seed(0))[:n]
    x, y = next(iter(data.Loader(ds['test_x'][idx], ds['test_y'][idx], n, 'cpu', mean, std)))
    return x, y, ds['test_x'][idx], ds['classes']


# ---------------------------------------------------------------- mean ± std over seeds, pairs, what a study sweeps

def done_runs(group):
    """The runs of a variant that finished and were tested: what its means and pairings are made of."""
    return [r for r in group if r['status'] == 'done' and r['final'].get('test_acc') is not None]


def summary(group):
    """Mean/std (over seeds) of test and best validation accuracy over the done runs of one variant, and
    its cost figures."""
    done = done_runs(group)
    acc = np.array([r['final']['test_acc'] for r in done])
    val = np.array([r['final'].get('best_val_acc', np.nan) for r in done])
    rates = [np.median([h['img_per_s'] for h in r['history']]) for r in group if r['history']]
    return dict(n=len(group), done=len(done), diverged=sum(r['status'] == 'diverged' for r in group),
                acc=acc.mean() if len(acc) else float('nan'), std=acc.std(ddof=1) if len(acc) > 1 else 0.0,
                val=val.mean() if len(val) else float('nan'), val_std=val.std(ddof=1) if len(val) > 1 else 0.0,
                params=group[0]['model']['params'], flops=group[0]['model']['flops_per_image'],
                img_s=float(np.mean(rates)) if rates else float('nan'),
                time_s=float(np.mean([r['final'].get('train_time_s', np.nan) for r in done])) if done else float('nan'),
                steps=float(np.mean([r['history'][-1]['step'] for r in done if r['history']] or [np.nan])))


def curve(group, key):
    """A history key over the epochs every seed of a variant reached: (those epochs' entries of the first run,
    for their epoch and step; a (seeds, epochs) array of the key)."""
    n = min((len(r['history']) for r in group), default=0)
    return group[0]['history'][:n] if n else [], np.array([[h[key] for h in r['history'][:n]] for r in group], dtype=float)


def pm(mean, std, n, digits=1):
    """'75.9 ± 0.3' (a fraction in percent) over n seeds, '75.9' for one, '-' for none."""
    return '-' if not n else f"{100 * mean:.{digits}f}" + (f" ± {100 * std:.{digits}f}" if n > 1 else '')


def paired(group_a, group_b, key='best_val_acc'):
    """[(a, b)] of final[key] (best validation accuracy, or 'test_acc') of the done runs of two variants that
    share a seed, by seed."""
    def by_seed(group):
        return {r['config'].get('seed'): r['final'].get(key, np.nan) for r in done_runs(group)}
    a, b = by_seed(group_a), by_seed(group_b)
    return [(a[s], b[s]) for s in sorted(a.keys() & b.keys(), key=str)]


def swept(variants):
    """The config flags whose value differs between the variants of a study (what it sweeps)."""
    configs = [g[0]['config'] for g in variants.values()]
    keys = sorted({k for c in configs for k in c} - NOT_SWEPT)
    return [k for k in keys if len({repr(c.get(k)) for c in configs}) > 1]


def labels(variants):
    """({variant: tick label}, axis label): the swept flag's value and its words when the study sweeps one
    flag (patch_size: '2', '4', '8' and 'patch size (pixels)'), else the variant names and the flags' words."""
    flags = swept(variants)
    if len(flags) == 1:
        return {v: str(g[0]['config'].get(flags[0])) for v, g in variants.items()}, words(flags[0])
    return {v: v for v in variants}, ' x '.join(words(f) for f in flags) if 0 < len(flags) <= 2 else 'variant'


def scaling_points(variants):
    """Data scaling: {model: [(training images, summary, variant), ...] by size}."""
    points = {}
    for v, group in variants.items():
        n = group[0]['data']['train']
        points.setdefault(group[0]['config'].get('model', 'vit'), []).append((n, summary(group), v))
    return {m: sorted(p, key=lambda t: t[0]) for m, p in points.items()}


# ---------------------------------------------------------------- a run's budget, dataset, recipe and machine in words

def budget(config):
    """'3 min per run' or '30 epochs per run' (and a step cap, e.g. in smoke runs)."""
    e = config.get('epochs')
    b = f"{config['time_limit']:g} min per run" if config.get('time_limit') else f"{e} epoch{'s' if e != 1 else ''} per run"
    return b + (f", at most {config['max_steps']} steps" if config.get('max_steps') else '')


def length(runs):
    """Which length a number comes from, in words: '2-min screen', '300 steps', '50 epochs', '10 GPU epochs'."""
    def one(r):
        c, gpu = r['config'], 'cuda' in str(r['env'].get('device'))
        if c.get('time_limit'):
            return f"{c['time_limit']:g}-min {'GPU ' if gpu else ''}screen"
        return f"{c['max_steps']} steps" if c.get('max_steps') else f"{c['epochs']} {'GPU ' if gpu else ''}epochs"
    return tally((one(r) for r in runs), sep=' / ')


def dataset(config):
    """'CIFAR-10': the dataset flag in words; an ImageFolder by its folder name."""
    name = config.get('dataset')
    if name == 'imagefolder':
        name = os.path.basename(os.path.normpath(config.get('data_dir', ''))) or 'imagefolder'
    return DATASETS.get(name, name)


def machine(log):
    """The model string train.py records (env.machine), without the vendor's marks, which would crowd a footer:
    'AMD EPYC, 2 cores', 'NVIDIA H200', 'Intel(R) Xeon(R) Processor, 2 cores' -> 'Intel Xeon, 2 cores'. A CPU
    without AVX512 says so, 'AMD EPYC, 2 cores, AVX2': it trains in float32 (no native bf16), slower and with
    other float sums, so its runs pair only with runs of their own kind (logs older than env.cpu_isa ran AVX512)."""
    isa = log['env'].get('cpu_isa', 'AVX512')
    return re.sub(r'\((?:R|TM)\)| Processor\b', '', log['env']['machine']) + ('' if isa == 'AVX512' else f', {isa}')


def recipe(log, full=False):
    """The config files the run read first: 'cpu10.py' ('' for flags only); full: 'configs/cpu10.py (1a2b...)'
    with each file's sha256, or 'none (flags only)'."""
    if full:
        return ' + '.join(f"{x['path']} ({x['sha256']})" for x in log['recipe']) or 'none (flags only)'
    return ' + '.join(os.path.basename(x['path']) for x in log['recipe'])


def n_seeds(ns):
    """'3 seeds', '2-3 seeds', '1 seed' from the seed counts of some variants."""
    ns = sorted(set(ns)) or [0]
    return f"{ns[0] if len(ns) == 1 else f'{ns[0]}-{ns[-1]}'} seed{'s' if ns[-1] > 1 else ''}"


def tally(values, sep=' / '):
    """'2 min per run' when all runs agree, else each value with its count, the commonest first:
    '2 min per run (152 runs) / 100 epochs per run (6 runs)', so that a few odd runs do not read as the rule."""
    counts = collections.Counter(values)
    if len(counts) <= 1:
        return next(iter(counts), '?')
    return sep.join(f"{v} ({n} run{'s' if n > 1 else ''})" for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def context(runs):
    """One line: dataset, recipe, budget, seeds per variant, machine; several values tallied (see tally)."""
    def each(f):
        return tally(f(r) for r in runs)
    seeds = [len(g) for vs in by_study(runs).values() for g in vs.values()]
    recipes = ' / '.join(sorted({recipe(r) for r in runs} - {''}))  # runs on flags alone add nothing here
    return (f"{each(lambda r: dataset(r['config']))} | {f'recipe {recipes}, ' if recipes else ''}"
            f"{each(lambda r: budget(r['config']))} | {n_seeds(seeds)} per variant | {each(machine)}")


def setup_lines(runs):
    """Model, data, training, budget and machine, read from the logs (the baseline study's ViT if it ran)."""
    vits = [r for r in runs if r['config'].get('model') == 'vit']
    base = next((r for r in vits if os.path.basename(r['study']) == 'baseline'),
                next((r for r in vits if r['variant'] in ('vit', 'baseline')), vits[0] if vits else runs[0]))
    c, m = base['config'], base['model']
    each = lambda f: tally((str(f(r)) for r in runs), sep=', ')
    lines = [f"Model ({base['name']}): {c.get('model')}" + (
        f", patch {c['patch_size']}, width {c['dim']}, depth {c['depth']}, {c['heads']} heads, MLP x{c['mlp_ratio']:g}, "
        f"{c['pos_emb']} positions, {c['pool']} pooling" if c.get('model') == 'vit' else '') +
        f"; {m['params'] / 1e6:.2f}M params, {m['flops_per_image'] / 1e6:.0f} MFLOPs per image"]
    resnets = sorted({(r['config']['model'], r['model']['params']) for r in runs if r['config'].get('model', 'vit') != 'vit'})
    if resnets:
        lines.append('Compared with: ' + ', '.join(f"{k} ({p / 1e6:.1f}M params)" for k, p in resnets))
    sizes = each(lambda r: f"{r['data']['train']:,} train / {r['data']['val']:,} val / {r['data']['test']:,} test")
    lines += [f"Data: {each(lambda r: dataset(r['config']))}; {sizes}",
              f"Training: {c.get('optimizer')}, lr {c.get('lr'):g}, batch {c.get('batch_size')}, weight decay "
              f"{c.get('weight_decay'):g}, label smoothing {c.get('label_smoothing'):g}, augment {c.get('augment')}, "
              f"{c.get('dtype')}",
              f"Recipe: {each(lambda r: recipe(r, full=True))}",
              f"Budget: {each(lambda r: budget(r['config']))}; seeds per variant: "
              f"{n_seeds(len(g) for vs in by_study(runs).values() for g in vs.values())}",
              f"Machine: {each(machine)}; torch {each(lambda r: r['env'].get('torch'))}",
              f"{len(runs)} runs in {len(by_study(runs))} studies; test set used once per run, "
              "model selection on the validation split"]
    return lines


# ---------------------------------------------------------------- findings and claims

def finding(variants):
    """One sentence computed from a study's logs: the variant best on validation (mean ± std over seeds)
    against the worst, and its test accuracy, e.g. 'patch size 2 is best on val: 61.2 ± 0.4% (3 seeds)
    vs 55.0% for 8; test 60.8%'. Says when the gap is within the seed spread. Only variants at the study's
    commonest budget are ranked."""
    rows = {v: summary(g) for v, g in variants.items()}
    ok = {v: r for v, r in rows.items() if r['done'] and np.isfinite(r['val'])}
    diverged = sum(r['diverged'] for r in rows.values())
    tail = f"; {diverged} of {sum(r['n'] for r in rows.values())} runs diverged" if diverged else ''
    # a variant trained at another budget than the study's (distill's 10-minute teacher) is drawn, not ranked
    commonest = collections.Counter(budget(r['config']) for g in variants.values() for r in g).most_common(1)[0][0]
    other = {v: budget(variants[v][0]['config']) for v in ok if all(budget(r['config']) != commonest for r in variants[v])}
    if len(other) < len(ok):
        ok = {v: r for v, r in ok.items() if v not in other}
        tail += ''.join(f"; {v} ({b}) not ranked" for v, b in other.items())
    if not ok:
        return 'no run has finished yet' + tail
    ticks, _ = labels(variants)
    flags = swept(variants)
    subject = f"{words(flags[0], sentence=True)} " if len(flags) == 1 else ''
    pct = lambda r: pm(r['val'], r['val_std'], r['done']) + '%'
    best = max(ok, key=lambda v: ok[v]['val'])
    worst = min((v for v in ok if v != best), key=lambda v: ok[v]['val'], default=best)
    if len(ok) == 1:
        return f"{ticks[best]}: val {pct(ok[best])}, test {100 * ok[best]['acc']:.1f}% ({n_seeds([ok[best]['done']])})" + tail
    text = (f"{subject}{ticks[best]} is best on val: {pct(ok[best])} ({n_seeds([ok[best]['done']])}) vs "
            f"{pct(ok[worst])} for {ticks[worst]}; test {100 * ok[best]['acc']:.1f}%")
    if min(ok[best]['done'], ok[worst]['done']) >= 2 and ok[best]['val'] - ok[worst]['val'] < ok[best]['val_std'] + ok[worst]['val_std']:
        # the spreads overlap, but seeds shared by both runs pair up: a seed-to-seed swing moves both alike
        gaps = [a - b for a, b in paired(variants[best], variants[worst])]
        text += (f"; higher on each of the {len(gaps)} seeds both ran" if len(gaps) >= 2 and min(gaps) > 0
                 else '; the gap is within the seed spread')
    return text + tail


def scaling_finding(variants):
    """'resnet18 - vit test accuracy: +21.3 points at 4,500 images, +9.8 at 45,000' (two models), else None."""
    points = scaling_points(variants)
    if not points or len(points) != 2:
        return None
    (a, pa), (b, pb) = sorted(points.items(), key=lambda kv: kv[0] == 'vit')  # the ViT second
    acc = lambda pts: {n: s['acc'] for n, s, _ in pts if s['done']}
    both = sorted(acc(pa).keys() & acc(pb).keys())
    if not both:
        return None
    gap = lambda n: 100 * (acc(pa)[n] - acc(pb)[n])
    return (f"{a} - {b} test accuracy: {gap(both[0]):+.1f} points at {both[0]:,} training images"
            + (f", {gap(both[-1]):+.1f} at {both[-1]:,}" if len(both) > 1 else ''))


def evidence(studies, refs):
    """The first ref (study, a, b) whose variants a and b have done runs on two shared seeds or more, else the
    first with one (a long run's first seed does not displace a two-seed answer from a shorter length): the
    paired test accuracy differences a - b (points, by seed; each pair from one CPU where a rerun allows), their
    mean and std, the seeds and the length; None if no ref has a finished pair."""
    found = []
    for study, a, b in refs:
        variants = studies.get(study, {})
        if a not in variants or b not in variants:
            continue
        again = reruns(studies, study)
        base = on_cpu_of(variants[b], variants[a], again.get(b, []))  # b's rerun on a's CPU, else a's on b's
        top = on_cpu_of(variants[a], base, again.get(a, []))
        pairs = paired(top, base, 'test_acc')
        if pairs:
            d = 100 * np.array([x - y for x, y in pairs])
            found.append(dict(study=study, a=a, b=b, diffs=d, mean=d.mean(), std=d.std(ddof=1) if len(d) > 1 else np.nan,
                              length=length(top + base), runs=top + base,
                              rounding=rounding(studies, study)))
    return next((ev for ev in found if len(ev['diffs']) > 1), found[0] if found else None)


def reruns(studies, study):
    """{variant: runs} of study trained again, same names (so seeds and flags), on another CPU: the sibling folder
    'rounding' (cpu_long/long -> cpu_long/rounding); {} where there is none."""
    return studies.get(os.path.join(os.path.dirname(study), 'rounding'), {}) if '/' in study else {}


def on_cpu_of(group, other, again):
    """group with a run swapped for its rerun (again) where the rerun ran on the CPU of other's run of that seed and
    the original did not: a pair then differs by the technique alone, not also by the CPU's rounding."""
    cpu = {r['config'].get('seed'): machine(r) for r in done_runs(other)}
    rerun = {r['config'].get('seed'): r for r in done_runs(again)}
    def pick(r):
        seed = r['config'].get('seed')
        moved = seed in rerun and machine(r) != cpu.get(seed) == machine(rerun[seed])
        return rerun[seed] if moved else r
    return [pick(r) for r in group]


def rounding(studies, study):
    """How far rounding alone moved a run of study: the largest test-accuracy gap (points) between a run and the
    same run trained again on another CPU (reruns); 0 where nothing was rerun. A paired difference must beat it too."""
    gaps = [abs(x - y) for v, g in reruns(studies, study).items() for x, y in paired(g, studies.get(study, {}).get(v, []), 'test_acc')]
    return 100 * max(gaps, default=0.0)


def verdict(ev, same=False):
    """(state, why) of a claim 'a > b' (same: 'a and b do not differ') against its evidence: 'supported',
    'pending' (no finished runs yet) or 'flagged' with the reason."""
    if ev is None:
        return 'pending', 'no finished runs yet'
    d = ev['diffs']
    if len(d) < 2:
        return 'flagged', 'one seed: no spread to compare with'
    rounding_gap = ev.get('rounding', 0.0)  # evidence() sets it; a hand-made ev may leave it out
    noise = max(ev['std'], rounding_gap)
    clear = (d > 0).all() and ev['mean'] > noise or (d < 0).all() and -ev['mean'] > noise
    if same:
        return ('flagged', 'a clear difference now') if clear else ('supported', '')
    if ev['mean'] <= 0:
        return 'flagged', 'sign flipped'
    if not clear and (d > 0).all() and ev['mean'] > ev['std']:
        return 'flagged', f"within what rounding alone moves a run ({rounding_gap:.1f} points)"
    return ('supported', '') if clear else ('flagged', 'within the seed spread')


def direction(ev):
    """How a paired difference reads: 'higher' / 'lower' (every seed agrees and the mean beats both the spread and
    what rounding alone moved a run), 'within spread', 'one seed', or None (no finished pair)."""
    if ev is None:
        return None
    if len(ev['diffs']) < 2:
        return 'one seed'
    if verdict(ev)[0] == 'supported':
        return 'higher'
    return 'lower' if verdict(dict(ev, diffs=-ev['diffs'], mean=-ev['mean']))[0] == 'supported' else 'within spread'


def check_claims(studies, claims):
    """{claim id: dict(claim, evidence, state, why)} for claims given as {id: {'says', 'refs', 'same' (optional),
    ...}} (plots/talk.py's CLAIMS); prints a warning for each flagged claim and a note for each pending one."""
    out = {}
    for key, c in claims.items():
        ev = evidence(studies, c['refs'])
        state, why = verdict(ev, c.get('same', False))
        out[key] = dict(c, id=key, evidence=ev, state=state, why=why)
        if state == 'flagged':
            print(f"warning: claim '{key}' ({c['says']}) is not supported by the current logs: {why} "
                  f"({ev['study']}: {ev['a']} - {ev['b']} = {', '.join(f'{x:+.1f}' for x in ev['diffs'])} points)")
        elif state == 'pending':
            print(f"pending: claim '{key}' ({c['says']}): no finished runs in {', '.join(r[0] for r in c['refs'])}")
    return out


def claim_numbers(ev):
    """'+5.9 / +3.2 (2-min screen)': test-accuracy points, per seed up to 3 seeds, else mean ± std."""
    d = ev['diffs']
    gap = ' / '.join(f"{x:+.1f}" for x in d) if len(d) <= 3 else f"{ev['mean']:+.1f} ± {ev['std']:.1f} ({len(d)} seeds)"
    return f"{gap} ({ev['length']})"
