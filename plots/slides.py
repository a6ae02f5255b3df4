"""The talk and its appendix, two 16:9 PDFs from the logs with matplotlib alone.

The talk (14 slides): the question and setup, the baseline's curves, architecture against cost, every technique
ranked, what helped and what did not (with hypotheses), ResNet vs ViT as the why (accuracy, data scaling, PCA
of features, attention distance), the staircase, conclusions
and future experiments. Its words live in plots/talk.py; every number is read from the logs, from the long
tier (results/cpu_long) where its runs have finished and from the short runs otherwise, marked by length.
A claim the logs no longer support is flagged on its slide and in the build's output; a slide that breaks
the slide-grade rules (see problems) is reported when the deck is built.
The appendix: a divider, then one slide per study (figure and a computed finding), PCA and attention
when checkpoints exist, and the findings.

    python plots/slides.py                                  # results/talk.pdf and results/appendix.pdf
    python plots/slides.py --runs=runs --out=report --png=report/talk_png   # your own runs, slides as PNGs too
    python plots/slides.py --ckpts=runs     # the features and attention slides from your checkpoints

Without --ckpts those slides show the figures committed in results/cpu_long/figures (drawn from checkpoints with
plots/pca.py and plots/attention.py; see results/cpu_long/README.md).
"""
import os
import tempfile
import textwrap

import numpy as np
import matplotlib.pyplot as plt
import matplotlib.lines
import matplotlib.text
import matplotlib.ticker
from matplotlib.backends.backend_pdf import PdfPages

import style  # first: it puts the repo root (analysis.py) on the path
import ablation
import analysis
import attention
import curves
import pca
import talk
from style import FIGSIZE, FOOTER_PT

EXPS = os.path.join(analysis.ROOT, 'exps')
FIGURES = os.path.join(analysis.ROOT, 'results', 'cpu_long', 'figures')  # the committed PCA and attention figures
PCA_PNG, ATTENTION_PNG = 'pca_features.png', 'attention_distance.png'  # what plots/pca.py and plots/attention.py name them
PER_SLIDE = 7  # bullets on one conclusions slide


def expected_studies():
    """The studies of the deck, in talk order: analysis.TITLES, then any other study script in exps/."""
    scripts = sorted(f[:-3] for f in os.listdir(EXPS) if f.endswith('.py') and f != 'common.py'
                     and 'common.parse(' in open(os.path.join(EXPS, f)).read())
    return list(analysis.TITLES) + [s for s in scripts if s not in analysis.TITLES]


def bullets(fig, lines, top=0.84, bottom=0.1, size=18):
    """One bullet per line, wrapped; the font shrinks (down to 10 pt) until every line fits the slide."""
    width, height = 0.9 * FIGSIZE[0] * 72, (top - bottom) * FIGSIZE[1] * 72  # points
    while True:
        wrapped = [textwrap.wrap(l, int(width / (0.55 * size))) for l in lines]  # ~0.55 em per character
        if sum(len(w) for w in wrapped) * size * 1.45 + len(lines) * size * 0.4 <= height or size <= 10:
            break
        size -= 1
    y = top
    for w in wrapped:
        fig.text(0.05, y, '\u2022 ' + '\n   '.join(w), fontsize=size, va='top', linespacing=1.45)
        y -= (len(w) * 1.45 + 0.4) * size / (72 * FIGSIZE[1])


def image(fig, paths):
    """PNG files side by side in the slide's drawing area."""
    for ax, path in zip(fig.subplots(1, len(paths), squeeze=False)[0], paths):
        ax.imshow(plt.imread(path))
        ax.axis('off')


def checkpoint_figures(runs_dir, tmp):
    """The PCA and attention-distance figures of the best checkpoints under runs_dir, written into tmp:
    [(title, PNG or None, finding or why there is none)]."""
    out = []
    for name, make, stem in (('PCA of features: ViT vs ResNet', lambda f: pca.main(runs_dir, tmp, n=500, found=f), PCA_PNG),
                             ('Attention: how far each head looks', lambda f: attention.main(runs_dir, tmp, found=f),
                              ATTENTION_PNG)):
        found = {'finding': 'missing: no finished run with a checkpoint under ' + runs_dir}
        try:
            png = next((p for p in make(found) if p.endswith(stem)), None)
        except Exception as e:  # e.g. the checkpoint's dataset is not on this machine
            png, found['finding'] = None, f"{type(e).__name__}: {e}"
            print(f"{name}: {found['finding']}")
        out.append((name, png, found['finding']))
    return out


def appendix(runs_dir, out):
    """Writes the appendix deck (a divider, then every study's slide) to out; returns [{'title', 'finding',
    'missing'}] in page order."""
    runs = analysis.load_runs(runs_dir)
    studies = analysis.by_study(runs)
    colour = style.colours(runs)
    pages = []
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with PdfPages(out, metadata={"CreationDate": None}) as pdf, tempfile.TemporaryDirectory() as tmp:
        def page(fig, title, finding='', missing=False):
            fig.text(0.99, 0.008, f"A{len(pages) + 1}", ha='right', va='bottom', fontsize=FOOTER_PT, color='0.3')
            pdf.savefig(fig)
            plt.close(fig)
            pages.append(dict(title=title, finding=finding, missing=missing))

        title = 'Appendix: every study'
        fig = style.figure(runs, title='')
        fig.text(0.5, 0.6, title, fontsize=36, fontweight='bold', ha='center')
        fig.text(0.5, 0.45, f"{len(runs)} runs, {len(studies)} studies, one slide each" if runs else 'no logs yet',
                 fontsize=22, ha='center')
        page(fig, title)

        fig = style.figure(runs, title='Setup')
        bullets(fig, analysis.setup_lines(runs) if runs else [f"no logs under {runs_dir}"])
        page(fig, 'Setup')

        findings, missing = [], []
        for name in expected_studies() + sorted({os.path.basename(s) for s in studies} - set(expected_studies())):
            keys = [s for s in studies if os.path.basename(s) == name]
            if not keys:
                fig = style.figure(title=analysis.title(name))
                fig.text(0.5, 0.55, 'not run yet', fontsize=40, ha='center', color='0.5')
                fig.text(0.5, 0.4, f"python exps/{name}.py configs/cpu10.py --seeds=0,1,2", fontsize=18,
                         ha='center', family='monospace')
                page(fig, analysis.title(name), 'not run yet', missing=True)
                missing.append(analysis.title(name))
            for key in keys:
                variants = studies[key]
                group = [r for g in variants.values() for r in g]
                title = analysis.title(key) + (f" ({os.path.dirname(key)})" if os.path.dirname(key) else '')
                text = (name == 'data_scaling' and analysis.scaling_finding(variants)) or analysis.finding(variants)
                fig = style.figure(group, title=title, finding=text)
                if name == 'baseline':
                    curves.draw(fig, variants, colour)
                else:
                    ablation.draw_study(fig, key, variants, colour)
                page(fig, title, text)
                findings.append(f"{title}: {text}")

        for name, png, text in checkpoint_figures(runs_dir, tmp):
            fig = style.figure(title=name, finding=text)
            if png:
                image(fig, [png])
                findings.append(f"{name}: {text}")
            else:
                fig.text(0.5, 0.5, 'missing: needs checkpoints', fontsize=36, ha='center', color='0.5')
            page(fig, name, text, missing=not png)

        lines = findings + ([f"Not run yet: {', '.join(missing)}"] if missing else []) or ['no study has run yet']
        parts = [lines[i:i + PER_SLIDE] for i in range(0, len(lines), PER_SLIDE)]
        for i, part in enumerate(parts):  # more than PER_SLIDE bullets would shrink below a readable size
            title = 'Conclusions' + (f" ({i + 1}/{len(parts)})" if len(parts) > 1 else '')
            fig = style.figure(runs, title=title)
            bullets(fig, part)
            page(fig, title, '\n'.join(part))
    return pages


# ---------------------------------------------------------------- the talk: words from talk.py, numbers from the logs

BODY_PT, CLAIM_PT, MAX_WORDS = 20, 22, 40
GOOD, BAD, NEUTRAL, PENDING = '#1a7f37', '#c0392b', '0.45', '0.55'
ONE_SEED = '#2f6fb0'  # a difference from one seed has no spread: neither agreement nor a tie


def hypothesis_line(text):
    """A hypothesis as the talk shows it: ours, not measured, so set apart in italics."""
    return (f"Hypothesis: {text}", BODY_PT, dict(style='italic', color='#1f4e79'))


def claim_lines(c, hypothesis=True):
    """[(text, size, style)] of one claim: what it says and its numbers, its hypothesis, and a mark when the
    logs no longer support it or have not run yet."""
    if c['state'] == 'pending':
        head = (f"{c['says']}: pending", CLAIM_PT, dict(color=PENDING, fontweight='bold'))
    else:
        head = (f"{c['says']}: {analysis.claim_numbers(c['evidence'])}", CLAIM_PT,
                dict(color=BAD if c['state'] == 'flagged' else 'black', fontweight='bold'))
    rows = [head]
    if c['state'] == 'flagged':
        rows.append((f"\u26a0 unsupported: {c['why']}", BODY_PT, dict(color=BAD)))
    if hypothesis:
        rows.append(hypothesis_line(c['hypothesis']))
    return rows


def write(fig, rows, top=0.82, left=0.05, gap=0.02):
    """Lines of (text, size, style) down the slide, each wrapped (measured) to the slide's width; returns the y
    below the last."""
    renderer = fig.canvas.get_renderer()
    y = top
    for text, size, kw in rows:
        width = len(text)
        t = fig.text(left, y, text, fontsize=size, va='top', linespacing=1.3, **kw)
        while t.get_window_extent(renderer).x1 > 0.97 * fig.bbox.x1 and width > 10:
            width -= 2
            t.set_text('\n'.join(textwrap.wrap(text, width)))
        y -= (t.get_text().count('\n') + 1) * 1.3 * size / (72 * FIGSIZE[1]) + gap
    return y


def under_chart(fig, rows):
    """Lines of (text, size, style) just above the footer; the slide's drawing ends above them."""
    rect = fig.get_layout_engine().get()['rect']
    top = rect[1] + sum(1.3 * size / (72 * FIGSIZE[1]) + 0.012 for _, size, _ in rows) + 0.01
    write(fig, rows, top=top, gap=0.012)
    fig.get_layout_engine().set(rect=(rect[0], top + 0.02, rect[2], rect[1] + rect[3] - top - 0.02))


def footer(runs, extra=''):
    """The talk's footer: dataset, lengths, seeds and machine of the runs on the slide."""
    if not runs:
        return extra or 'no logs yet'
    seeds = [len(g) for vs in analysis.by_study(runs).values() for g in vs.values()]
    machines = ' / '.join(sorted({analysis.machine(r) for r in runs}))
    lengths = ' / '.join(sorted({analysis.length([r]) for r in runs}, key=analysis.natural_key))
    return (f"{' / '.join(sorted({analysis.dataset(r['config']) for r in runs}))} | {lengths} | "
            f"{analysis.n_seeds(seeds)} per variant | {machines}" + (f" | {extra}" if extra else ''))


def runs_of(studies, refs):
    return [r for study, *variants in refs for v in variants for r in studies.get(study, {}).get(v, [])]


def effect_chart(fig, studies):
    """Every technique of talk.TECHNIQUES, ranked: its paired test-accuracy difference from its baseline at
    the long length (filled) and in the short runs (hollow), with the std of the differences over seeds."""
    rows = []
    for words, refs in talk.TECHNIQUES:
        short = analysis.evidence(studies, refs[-1:])
        long = analysis.evidence(studies, refs[:-1]) if len(refs) > 1 else None
        if short or long:
            rows.append((words, long, short))
    rows.sort(key=lambda r: (r[1] or r[2])['mean'])
    ax = fig.subplots()
    ax.axvline(0, color='0.3', lw=1.5)
    shapes = {}  # one marker per length: filled for the long tier, hollow for the short runs
    for i, (words, long, short) in enumerate(rows):
        for ev, filled, dy in ((long, True, 0.18), (short, False, -0.18 if long else 0)):
            if ev is None:
                continue
            colour = {'higher': GOOD, 'lower': BAD, 'one seed': ONE_SEED}.get(analysis.direction(ev), NEUTRAL)
            marker = shapes.setdefault(ev['length'], ('o', filled) if filled else ('DsvP'[len(shapes) % 4], filled))[0]
            ax.errorbar(ev['mean'], i + dy, xerr=ev['std'] if len(ev['diffs']) > 1 else None, fmt=marker, ms=11,
                        color=colour, mfc=colour if filled else 'white', mew=2.5, capsize=5, elinewidth=2)
    handles = [matplotlib.lines.Line2D([], [], ls='', marker=m, ms=11, mew=2.5, color='0.2', mfc='0.2' if f else 'white',
                                       label=length) for length, (m, f) in shapes.items()]
    readings = [(GOOD, 'better on every seed'), (BAD, 'worse on every seed'), (NEUTRAL, 'within the spread')]
    if any(len(ev['diffs']) == 1 for row in rows for ev in row[1:] if ev):
        readings.append((ONE_SEED, 'one seed (no spread)'))
    handles += [matplotlib.lines.Line2D([], [], ls='', marker='s', ms=11, color=c, label=w) for c, w in readings]
    ax.set_yticks(np.arange(len(rows)), [r[0] for r in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel('test accuracy change vs baseline (points, paired by seed)')
    ax.grid(axis='x', color='0.85')
    ax.legend(handles=handles, loc='center left', bbox_to_anchor=(1.01, 0.5), frameon=False)
    return ax, rows


def architecture_chart(fig, studies, colour):
    """Patch size, width x depth and heads in one panel: test accuracy against measured training speed."""
    ax = fig.subplots()
    for (study, name, marker), c in zip(((f'{talk.SCREEN}/patch_size', 'patch size', 's'),
                                         (f'{talk.SCREEN}/model_size', 'width x depth', 'o'),
                                         (f'{talk.SCREEN}/heads', 'heads', '^')), ('tab:blue', 'tab:orange', 'tab:green')):
        rows = {v: analysis.summary(g) for v, g in studies.get(study, {}).items()}
        rows = {v: r for v, r in rows.items() if r['done']}
        if not rows:
            continue
        ax.errorbar([r['img_s'] for r in rows.values()], [100 * r['acc'] for r in rows.values()],
                    yerr=[100 * r['std'] for r in rows.values()], fmt=marker, ms=13, color=c, capsize=4, label=name)
        if study.endswith('patch_size'):
            for v, r in rows.items():
                ax.annotate(f"patch {studies[study][v][0]['config']['patch_size']}", (r['img_s'], 100 * r['acc']),
                            xytext=(0, 14), textcoords='offset points', ha='center', fontsize=BODY_PT, color=c)
    ax.axhline(10, color='0.4', ls='--', lw=1.5, label='chance')
    ax.set_xscale('log')
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylim(0, 75)
    ax.set_xlabel('training speed (images / s, log)')
    ax.set_ylabel('test accuracy (%)')
    ax.legend(loc='lower right', frameon=False)
    return ax


def curve_runs(studies):
    """The baseline's curves: the long tier's recipe run (and its half-length twin) when logged, else the
    longest baseline run there is (10 epochs on one H200)."""
    for study, variants in ((talk.LONG, ('cpu10', 'cpu10_half')), ('gpu_h200/equal_epochs', ('baseline',))):
        found = {v: studies[study][v] for v in variants if v in studies.get(study, {})}
        if any(r['history'] for g in found.values() for r in g):
            return found
    return {}


def draw_curves(fig, groups):
    """Accuracy and loss against epoch: train dashed, validation solid, one colour per run length; the mean
    over seeds, a band from min to max. A run still going is drawn to where it is and says so."""
    axes = fig.subplots(1, 2)
    handles = []
    for (variant, group), c in zip(groups.items(), ('tab:blue', 'tab:orange')):
        n = len(analysis.curve(group, 'val_acc')[0])
        if not n:
            continue
        tag = f"{group[0]['config']['epochs']} epochs" + ('' if all(r['status'] == 'done' for r in group) else f", at {n} so far")
        handles.append(matplotlib.lines.Line2D([], [], color=c, lw=3, label=tag))
        for ax, key in zip(axes, ('acc', 'loss')):
            for split, ls in (('train', '--'), ('val', '-')):
                history, y = analysis.curve(group, f"{split}_{key}")
                style.band(ax, [h['epoch'] + 1 for h in history], y * (100 if key == 'acc' else 1), c, ls=ls)
    axes[0].axhline(10, color='0.4', ls=':', lw=1.5)
    axes[0].text(0.98, 12, 'chance', color='0.4', ha='right', va='bottom', transform=axes[0].get_yaxis_transform())
    axes[0].set_ylabel('accuracy (%)')
    axes[0].set_ylim(0, 100)
    axes[1].set_ylabel('loss (cross-entropy)')
    axes[1].set_ylim(bottom=0)
    for ax in axes:
        ax.set_xlabel('epoch')
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    handles += [matplotlib.lines.Line2D([], [], color='0.3', ls=ls, label=label)
                for ls, label in (('--', 'train'), ('-', 'validation'))]
    # one entry per colour and per line style, in the loss panel's empty upper right (its curves fall from the left)
    axes[1].legend(handles=handles, loc='upper right', frameon=False, fontsize=18)
    return axes


def bars(ax, names, groups, colours):
    """Mean test accuracy bars from zero with the std over seeds (>= 2 seeds), the value on each bar."""
    rows = [analysis.summary(g) if g else None for g in groups]
    acc = [100 * r['acc'] if r and r['done'] else 0 for r in rows]
    ax.bar(range(len(names)), acc, color=colours)
    for i, r in enumerate(rows):
        if r and r['done'] >= 2:
            ax.errorbar(i, acc[i], yerr=100 * r['std'], color='black', capsize=6)
        ax.text(i, acc[i] + 2, f"{acc[i]:.1f}" if r and r['done'] else 'not run yet', ha='center', va='bottom',
                fontsize=BODY_PT, color='black' if r and r['done'] else PENDING)
    ax.axhline(10, color='0.4', ls='--', lw=1.5)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, 100)
    ax.set_ylabel('test accuracy (%)')


def problems(fig):
    """What breaks the slide-grade rules on a drawn slide: a text outside the page, two texts overlapping,
    body text under 18 pt (the footer, gid 'footer', may be FOOTER_PT; the title is TITLE_PT), more than
    MAX_WORDS words (every text but the footer and the tick labels; a token without a letter is no word)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ticks = set()
    shown = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for t in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks.add(t.label1)
                if t.label1.get_visible() and t.label1.get_text() and lo - 1e-9 <= t.get_loc() <= hi + 1e-9:
                    shown.append(t.label1)
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t not in ticks and t.get_visible() and t.get_text().strip()
             and t.get_figure(root=True) is fig] + shown
    page = fig.bbox
    out, words = [], 0
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    for t, b in boxes:
        name = repr(t.get_text()[:40])
        if b.x0 < page.x0 - 1 or b.y0 < page.y0 - 1 or b.x1 > page.x1 + 1 or b.y1 > page.y1 + 1:
            out.append(f"outside the page: {name}")
        floor = FOOTER_PT if t.get_gid() == 'footer' else 18
        if t.get_fontsize() < floor:
            out.append(f"{t.get_fontsize():g} pt < {floor} pt: {name}")
        if t.get_gid() != 'footer' and t not in ticks:
            words += sum(any(ch.isalpha() for ch in w) for w in t.get_text().split())
    for i, (t, b) in enumerate(boxes):
        for u, c in boxes[i + 1:]:
            if b.overlaps(c) and min(b.x1, c.x1) - max(b.x0, c.x0) > 1 and min(b.y1, c.y1) - max(b.y0, c.y0) > 1:
                out.append(f"overlap: {t.get_text()[:30]!r} and {u.get_text()[:30]!r}")
    if words > MAX_WORDS:
        out.append(f"{words} words > {MAX_WORDS}")
    return out


def build_talk(runs_dir, out, ckpts=None, png_dir=None):
    """Writes the talk (12-15 slides) to out (and each slide as a PNG into png_dir, if given); returns
    [{'title', 'claims', 'problems'}] in page order."""
    runs = analysis.load_runs(runs_dir)
    studies = analysis.by_study(runs)
    claims = analysis.check_claims(studies, talk.CLAIMS)
    colour = style.colours(runs)
    pages = []
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with PdfPages(out, metadata={"CreationDate": None}) as pdf, tempfile.TemporaryDirectory() as tmp, plt.rc_context({
            'font.size': BODY_PT, 'axes.labelsize': BODY_PT, 'axes.titlesize': BODY_PT, 'xtick.labelsize': 18,
            'ytick.labelsize': 18, 'legend.fontsize': 18, 'legend.title_fontsize': 18}):
        def page(title, used=(), extra='', shows=()):
            extra = extra or ('claims: test-accuracy difference in points, paired by seed' if shows else '')
            fig = style.figure(footer=footer(list(used), extra), title=title)
            fig.text(0.99, 0.008, str(len(pages) + 1), ha='right', va='bottom', fontsize=FOOTER_PT,
                     color='0.3', gid='footer')
            pages.append(dict(title=title, claims=[claims[k] for k in shows], fig=fig))
            return fig

        def runs_behind(keys):  # the runs the claims' numbers come from
            return [r for k in keys if claims[k]['evidence'] for r in claims[k]['evidence']['runs']]

        # 1. title
        fig = page('', runs_behind(claims))
        fig.text(0.5, 0.64, 'Vision Transformers on small data', fontsize=40, fontweight='bold', ha='center')
        fig.text(0.5, 0.52, 'What helps, what does not, and why', fontsize=28, ha='center')
        machines = sorted({analysis.machine(r) for r in runs})
        fig.text(0.5, 0.36, f"{len(runs)} runs on CIFAR-10\n{' | '.join(machines)}", fontsize=BODY_PT,
                 ha='center', va='top', color='0.3', linespacing=1.5)

        # 2. the question and the setup
        base = studies.get(f'{talk.SCREEN}/baseline', {}).get('vit', [])
        fig = page('The question and the setup', base)
        rows = [(talk.QUESTION, 26, dict(fontweight='bold'))]
        if base:
            c, m, d = base[0]['config'], base[0]['model'], base[0]['data']
            epochs = sorted({r['config']['epochs'] for g in studies.get(talk.LONG, {}).values() for r in g})
            long_epochs = f"{epochs[0]}-{epochs[-1]}" if len(epochs) > 1 else epochs[0] if epochs else 'no'
            rows += [(f"ViT: {m['params'] / 1e6:.1f}M params, patch {c['patch_size']}, {c['depth']} blocks, conv stem",
                      BODY_PT, {}),
                     (f"CIFAR-10: {d['train']:,} train, {d['val']:,} validation, {d['test']:,} test", BODY_PT, {}),
                     (f"Screen: {c['time_limit']:g} CPU-minutes per run; long: {long_epochs} epochs", BODY_PT, {}),
                     ('Chosen on validation; test used once', BODY_PT, {})]
        write(fig, rows, gap=0.04)

        # 3. the baseline's curves
        groups = curve_runs(studies)
        used = [r for g in groups.values() for r in g]
        fig = page('Baseline: training curves', used, shows=['longer'])
        under_chart(fig, claim_lines(claims['longer'], hypothesis=False))
        if groups:
            draw_curves(fig, groups)
        else:
            fig.text(0.5, 0.5, 'no baseline run with a history yet', fontsize=28, ha='center', color=PENDING)

        # 4. architecture: accuracy vs cost
        refs = [(f'{talk.SCREEN}/{s}', *studies.get(f'{talk.SCREEN}/{s}', {})) for s in ('patch_size', 'model_size', 'heads')]
        fig = page('Architecture: short runs reward speed', runs_of(studies, refs) + runs_behind(['patch4_long']),
                   shows=['patch8', 'patch4_long'])
        architecture_chart(fig, studies, colour)
        under_chart(fig, claim_lines(claims['patch8']) + claim_lines(claims['patch4_long'], hypothesis=False))

        # 5. every technique, ranked
        refs = [ref for _, rs in talk.TECHNIQUES for ref in rs]
        fig = page('Every technique, ranked', runs_of(studies, refs), extra='error bar: std of the paired differences')
        effect_chart(fig, studies)

        # 6-7. what helped / what did not, with hypotheses
        for title, keys in (('What helped', talk.HELPED), ('What did not help', talk.NOT_HELPED)):
            fig = page(title, runs_behind(keys), shows=keys)
            write(fig, [row for k in keys for row in claim_lines(claims[k])], gap=0.025)

        # 8. ResNet vs ViT: accuracy at each length
        pairs = [(f'{talk.SCREEN}/resnet', 'vit', 'resnet18'), ('gpu_h200/equal_epochs', 'baseline', 'resnet18'),
                 (talk.LONG, 'cpu10', 'resnet18')]
        pairs = [p for p in pairs if p[0] != talk.LONG or p[0] in studies]
        fig = page('Why, 1: ResNet-18 vs ViT', runs_of(studies, pairs), shows=['vit_short', 'resnet_equal'])
        axes = fig.subplots(1, len(pairs), sharey=True, squeeze=False)[0]
        for ax, (study, vit, resnet) in zip(axes, pairs):
            groups = [studies.get(study, {}).get(v, []) for v in (vit, resnet)]
            bars(ax, ['ViT', 'ResNet-18'], groups, ['tab:blue', 'tab:red'])
            ax.set_title(analysis.length([r for g in groups for r in g]) if any(groups) else '50 epochs')
        for ax in axes[1:]:
            ax.set_ylabel('')
        under_chart(fig, claim_lines(claims['resnet_equal']))

        # 9. data scaling
        long = {v: g for v, g in studies.get(talk.LONG, {}).items()
                if (v.endswith('pct') and v.startswith(('cpu10_', 'resnet18_')) or v in ('cpu10', 'resnet18')) and analysis.summary(g)['done']}
        points = analysis.scaling_points(long).values()  # a curve at length once each model has two sizes
        study = talk.LONG if len(points) == 2 and all(len(p) > 1 for p in points) else f'{talk.SCREEN}/data_scaling'
        variants = long if study == talk.LONG else studies.get(study, {})
        shows = ['scaling'] if study == talk.LONG else ['scaling_short'] + ['scaling'] * (claims['scaling']['state'] != 'pending')
        fig = page('Why, 2: data scaling', [r for g in variants.values() for r in g] + runs_behind(shows[1:]), shows=shows)
        if variants:
            ax = fig.subplots()
            sizes = set()
            # the screen's curve, and the long tier's points on it (stars) until the long tier has a curve of its own
            drawn = [(variants, 'o', '-')] + ([(long, '*', 'none')] if study != talk.LONG and long else [])
            for runs_at, marker, line in drawn:
                length = '' if study == talk.LONG else ', ' + analysis.length([r for g in runs_at.values() for r in g])
                for model, pts in analysis.scaling_points(runs_at).items():
                    n = [p[0] for p in pts]
                    sizes |= set(n)
                    ax.errorbar(n, [100 * p[1]['acc'] for p in pts], yerr=[100 * p[1]['std'] for p in pts], marker=marker,
                                ms=10 if marker == 'o' else 20, ls=line, capsize=5,
                                color='tab:red' if model.startswith('resnet') else 'tab:blue',
                                label=('ResNet-18' if model.startswith('resnet') else 'ViT') + length)
            ax.set_xscale('log')
            ax.set_xticks(sorted(sizes), [f"{x:,}" for x in sorted(sizes)])
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            ax.set_ylim(0, 100)
            ax.axhline(10, color='0.4', ls='--', lw=1.5, label='chance')
            ax.set_xlabel('training images (log scale)')
            ax.set_ylabel('test accuracy (%)')
            ax.legend(loc='upper right', frameon=False, ncol=2)
        under_chart(fig, claim_lines(claims[shows[0]], hypothesis=len(shows) == 1) + [l for k in shows[1:] for l in claim_lines(claims[k])])

        # 10-11. features, then attention: one figure per slide, big enough for the back of the room
        if ckpts:
            drawn = [(png, finding) for _, png, finding in checkpoint_figures(ckpts, tmp)]
        else:  # checkpoints are too big to commit: the figures drawn from them are (plots/pca.py, plots/attention.py)
            drawn = [(os.path.join(FIGURES, png), '') for png in (PCA_PNG, ATTENTION_PNG)]
        for (title, extra, hypothesis), (png, finding) in zip(talk.WHY_FIGURES, drawn):
            fig = page(title, [], extra=extra)
            if png and os.path.exists(png):
                under_chart(fig, [hypothesis_line(hypothesis)])
                image(fig, [png])
            else:
                write(fig, [(finding or 'Needs the converged checkpoints:', 26, dict(color=PENDING)),
                            ('python plots/slides.py --ckpts=runs', BODY_PT, dict(family='monospace')),
                            hypothesis_line(hypothesis)], top=0.7, gap=0.05)

        # 12. the staircase
        stair = studies.get(talk.LONG, {})
        groups = [stair.get(v, []) for _, v in talk.STAIRCASE]
        fig = page('The staircase: one change at a time', [r for g in groups for r in g], shows=talk.STAIRCASE_CLAIMS)
        bars(fig.subplots(), [w for w, _ in talk.STAIRCASE], groups, [plt.get_cmap('Blues')(0.35 + 0.13 * i) for i in range(5)])
        under_chart(fig, claim_lines(claims[talk.STAIRCASE_CLAIMS[0]]))

        # 13. conclusions
        keys = [k for _, ks in talk.CONCLUSIONS for k in ks]
        fig = page('Conclusions', runs_behind(keys), shows=keys)
        rows = []
        for text, keys in talk.CONCLUSIONS:
            states = {claims[k]['state'] for k in keys}
            mark, c = ('\u2713', GOOD) if states == {'supported'} else ('?', PENDING) if 'flagged' not in states else ('\u26a0', BAD)
            rows.append((f"{mark} {text}", 26, dict(color=c if mark != '\u2713' else 'black')))
        write(fig, rows, gap=0.05)

        # 14. future experiments
        fig = page('Future experiments', [], extra='plans, not results')
        write(fig, [(f"\u2022 {t}", 26, {}) for t in talk.FUTURE], gap=0.05)

        for p in pages:
            p['problems'] = problems(p['fig'])
            for msg in p['problems']:
                print(f"slide {pages.index(p) + 1} ({p['title'] or 'title'}): {msg}")
            if png_dir:
                os.makedirs(png_dir, exist_ok=True)
                p['fig'].savefig(os.path.join(png_dir, f"slide{pages.index(p) + 1:02d}.png"), dpi=60)
            pdf.savefig(p.pop('fig'))
    plt.close('all')
    return pages


if __name__ == '__main__':
    a = style.parse_args(__doc__, runs=os.path.join(analysis.ROOT, 'results'), out=os.path.join(analysis.ROOT, 'results'),
                         ckpts=(None, 'a runs folder with checkpoints for the PCA and attention slide'),
                         png=(None, 'also write each talk slide as a PNG into this folder'))
    pages = build_talk(a.runs, os.path.join(a.out, 'talk.pdf'), a.ckpts, a.png)
    print(f"{os.path.join(a.out, 'talk.pdf')}: {len(pages)} slides, "
          f"{sum(bool(p['problems']) for p in pages)} with layout problems, "
          f"{sum(c['state'] == 'flagged' for p in pages for c in p['claims'])} flagged claims")
    pages = appendix(a.runs, os.path.join(a.out, 'appendix.pdf'))
    print(f"{os.path.join(a.out, 'appendix.pdf')}: {len(pages)} slides, {sum(p['missing'] for p in pages)} marked missing")
