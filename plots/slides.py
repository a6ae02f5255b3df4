"""A 16:9 PDF deck from the logs, with matplotlib alone: title, setup, one slide per study (figure and a
one-line finding computed from the logs), PCA and attention analysis (when checkpoints exist), and the
conclusions. A study with no logs gets a slide that says it has not run yet; every number is read from
a log, none is typed here.

    python plots/slides.py --runs=results --out=report/slides.pdf
"""
import argparse
import os
import tempfile
import textwrap

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.backends.backend_pdf import PdfPages

import ablation
import attention
import common
import curves
import pca

EXPS = os.path.join(common.ROOT, 'exps')
PER_SLIDE = 7  # bullets on one conclusions slide


def expected_studies():
    """The studies of the deck, in talk order: common.TITLES, then any other study script in exps/."""
    scripts = sorted(f[:-3] for f in os.listdir(EXPS) if f.endswith('.py') and f != 'common.py'
                     and 'common.parse(' in open(os.path.join(EXPS, f)).read())
    return list(common.TITLES) + [s for s in scripts if s not in common.TITLES]


def slide(title, runs=None, finding=''):
    """A blank 16:9 slide: a title on top, the finding at the bottom, the budget line under it; what is
    drawn into the figure goes between (constrained layout inside that band)."""
    fig = plt.figure(figsize=common.FIGSIZE, layout='constrained')
    fig.get_layout_engine().set(rect=(0.02, 0.11, 0.96, 0.76))
    fig.text(0.03, 0.93, title, fontsize=28, fontweight='bold', va='center')
    if finding:
        # a second line at 16 pt would run into the budget line below
        fig.text(0.03, 0.065, finding, fontsize=16 if len(finding) <= 110 else 13, va='center', wrap=True)
    if runs:  # the deck-wide line (setup, conclusions) tallies every budget: smaller, on two lines if need be
        line = common.context(runs)
        fig.text(0.03, 0.012, line if len(line) <= 130 else '\n'.join(textwrap.wrap(line, 160)),
                 fontsize=11 if len(line) <= 130 else 9, color='0.35', va='bottom')
    return fig


def bullets(fig, lines, top=0.84, bottom=0.1, size=18):
    """One bullet per line, wrapped; the font shrinks (down to 10 pt) until every line fits the slide."""
    width, height = 0.9 * common.FIGSIZE[0] * 72, (top - bottom) * common.FIGSIZE[1] * 72  # points
    while True:
        wrapped = [textwrap.wrap(l, int(width / (0.55 * size))) for l in lines]  # ~0.55 em per character
        if sum(len(w) for w in wrapped) * size * 1.45 + len(lines) * size * 0.4 <= height or size <= 10:
            break
        size -= 1
    y = top
    for w in wrapped:
        fig.text(0.05, y, '\u2022 ' + '\n   '.join(w), fontsize=size, va='top', linespacing=1.45)
        y -= (len(w) * 1.45 + 0.4) * size / (72 * common.FIGSIZE[1])


def image(fig, path):
    ax = fig.subplots()
    ax.imshow(plt.imread(path))
    ax.axis('off')


def setup_lines(runs):
    """Model, data, training, budget and machine, read from the logs (the baseline study's ViT if it ran)."""
    vits = [r for r in runs if r['config'].get('model') == 'vit']
    base = next((r for r in vits if os.path.basename(r['study']) == 'baseline'),
                next((r for r in vits if r['variant'] in ('vit', 'baseline')), vits[0] if vits else runs[0]))
    c, m = base['config'], base['model']
    each = lambda f: common.tally((str(f(r)) for r in runs), sep=', ')
    lines = [f"Model ({base['name']}): {c.get('model')}" + (
        f", patch {c['patch_size']}, width {c['dim']}, depth {c['depth']}, {c['heads']} heads, MLP x{c['mlp_ratio']:g}, "
        f"{c['pos_emb']} positions, {c['pool']} pooling" if c.get('model') == 'vit' else '') +
        f"; {m['params'] / 1e6:.2f}M params, {m['flops_per_image'] / 1e6:.0f} MFLOPs per image"]
    resnets = sorted({(r['config']['model'], r['model']['params']) for r in runs if r['config'].get('model', 'vit') != 'vit'})
    if resnets:
        lines.append('Compared with: ' + ', '.join(f"{k} ({p / 1e6:.1f}M params)" for k, p in resnets))
    sizes = each(lambda r: f"{r['data']['train']:,} train / {r['data']['val']:,} val / {r['data']['test']:,} test")
    lines += [f"Data: {each(lambda r: common.dataset(r['config']))}; {sizes}",
              f"Training: {c.get('optimizer')}, lr {c.get('lr'):g}, batch {c.get('batch_size')}, weight decay "
              f"{c.get('weight_decay'):g}, label smoothing {c.get('label_smoothing'):g}, augment {c.get('augment')}, "
              f"{c.get('dtype')}",
              f"Recipe: {each(recipe)}",
              f"Budget: {each(lambda r: common.budget(r['config']))}; seeds per variant: "
              f"{common.n_seeds(len(g) for vs in common.by_study(runs).values() for g in vs.values())}",
              f"Machine: {each(common.machine)}; torch {each(lambda r: r['env'].get('torch'))}",
              f"{len(runs)} runs in {len(common.by_study(runs))} studies; test set used once per run, "
              "model selection on the validation split"]
    return lines


def recipe(run):
    """'configs/cpu10.py (sha256 1a2b...)', or 'none (flags only)'."""
    return ' + '.join(f"{x['path']} ({x['sha256']})" for x in run['recipe']) or 'none (flags only)'


def main(runs_dir, out):
    """Writes the deck to out; returns [{'title', 'finding', 'missing'}] in page order."""
    runs = common.load_runs(runs_dir)
    studies = common.by_study(runs)
    colour = common.colours(runs)
    pages = []
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with PdfPages(out) as pdf, tempfile.TemporaryDirectory() as tmp:
        def page(fig, title, finding='', missing=False):
            fig.text(0.97, 0.012, str(len(pages) + 1), ha='right', va='bottom', fontsize=11, color='0.35')
            pdf.savefig(fig)
            plt.close(fig)
            pages.append(dict(title=title, finding=finding, missing=missing))

        title = f"Vision Transformers on {' / '.join(sorted({common.dataset(r['config']) for r in runs})) or 'small data'}"
        fig = slide('')
        fig.text(0.5, 0.6, title, fontsize=36, fontweight='bold', ha='center')
        fig.text(0.5, 0.45, f"vitlab: {len(runs)} runs, {len(studies)} studies" if runs else 'vitlab: no logs yet',
                 fontsize=22, ha='center')
        if runs:
            fig.text(0.5, 0.37, common.context(runs), fontsize=15, ha='center', color='0.3')
        page(fig, title)

        fig = slide('Setup', runs)
        bullets(fig, setup_lines(runs) if runs else [f"no logs under {runs_dir}"])
        page(fig, 'Setup')

        findings, missing = [], []
        for name in expected_studies() + sorted({os.path.basename(s) for s in studies} - set(expected_studies())):
            keys = [s for s in studies if os.path.basename(s) == name]
            if not keys:
                fig = slide(common.title(name))
                fig.text(0.5, 0.55, 'not run yet', fontsize=40, ha='center', color='0.5')
                fig.text(0.5, 0.4, f"python exps/{name}.py configs/cpu10.py --seeds=0,1,2", fontsize=18,
                         ha='center', family='monospace')
                page(fig, common.title(name), 'not run yet', missing=True)
                missing.append(common.title(name))
            for key in keys:
                variants = studies[key]
                group = [r for g in variants.values() for r in g]
                title = common.title(key) + (f" ({os.path.dirname(key)})" if os.path.dirname(key) else '')
                text = (name == 'data_scaling' and ablation.scaling_finding(variants)) or common.finding(variants)
                fig = slide(title, group, text)
                if name == 'baseline':
                    curves.draw(fig, variants, colour)
                elif not (name == 'data_scaling' and ablation.draw_scaling(fig, variants, colour)):
                    ablation.draw(fig, variants, colour)
                page(fig, title, text)
                findings.append(f"{title}: {text}")

        for name, make, say in (
                ('PCA of features: ViT vs ResNet', lambda f: pca.main(runs_dir, tmp, n=500, found=f), pca_finding),
                ('Attention: how far each head looks', lambda f: attention.main(runs_dir, tmp, found=f), attention_finding)):
            found = {}
            try:
                paths = make(found)
            except Exception as e:  # e.g. the checkpoint's dataset is not on this machine
                paths, found = [], {'error': f"{type(e).__name__}: {e}"}
            text = say(found) if paths else found.get('error', 'missing: no finished run with a checkpoint under ' + runs_dir)
            fig = slide(name, None, text)
            if paths:
                image(fig, paths[0] if 'PCA' in name else next(p for p in paths if p.endswith('attention_distance.png')))
            else:
                fig.text(0.5, 0.5, 'missing: needs checkpoints', fontsize=36, ha='center', color='0.5')
            page(fig, name, text, missing=not paths)
            if paths:
                findings.append(f"{name}: {text}")

        lines = findings + ([f"Not run yet: {', '.join(missing)}"] if missing else []) or ['no study has run yet']
        parts = [lines[i:i + PER_SLIDE] for i in range(0, len(lines), PER_SLIDE)]
        for i, part in enumerate(parts):  # more than PER_SLIDE bullets would shrink below a readable size
            title = 'Conclusions' + (f" ({i + 1}/{len(parts)})" if len(parts) > 1 else '')
            fig = slide(title, runs)
            bullets(fig, part)
            page(fig, title, '\n'.join(part))
    return pages


def pca_finding(found):
    """'class separation of pooled test features: ResNet 0.42 vs ViT 0.18 (between-class share of variance)'"""
    parts = [f"{k} {v['separation']:.2f}" for k, v in sorted(found.items(), key=lambda kv: -kv[1]['separation'])]
    return f"class separation of pooled test features: {' vs '.join(parts)} (between-class share of variance)"


def attention_finding(found):
    """'vit_s0: mean attention distance 5.1 px in layer 1, 11.3 px in layer 6 (mean over heads; ...)'"""
    d = found['distance']
    if len(d) == 1:
        return f"{found['name']}: mean attention distance {d[0]:.1f} px in its one layer (mean over heads)"
    return (f"{found['name']}: mean attention distance {d[0]:.1f} px in layer 1, {d[-1]:.1f} px in layer {len(d)} "
            f"(mean over heads; max {np.max(d):.1f} px in layer {int(np.argmax(d)) + 1})")


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--runs', default='results', help='folder of logs (results/ or runs/)')
    p.add_argument('--out', default='report/slides.pdf')
    a = p.parse_args()
    pages = main(a.runs, a.out)
    print(f"{a.out}: {len(pages)} slides, {sum(p['missing'] for p in pages)} marked missing")
