"""How the plot scripts draw: one 16:9 figure builder (a footer line with the runs' budget, dataset and machine;
on a slide also a title and a finding), one colour per variant, PNG + PDF, one figure per study, and the
scripts' command line. What the figures say comes from the logs through analysis.py (imported from here:
this module puts the repo root on the path)."""
import argparse
import os
import sys
import textwrap

import matplotlib
matplotlib.use('Agg')  # files only, no display needed
import matplotlib.pyplot as plt

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # analysis, models, data, vit
import analysis  # noqa: E402

# 16:9 at 12.8 x 7.2 inches: at 100 dpi exactly 1280x720 with these font sizes (PNGs are saved at 150 dpi)
FIGSIZE = (12.8, 7.2)
plt.rcParams.update({'font.size': 16, 'axes.titlesize': 18, 'axes.labelsize': 16, 'legend.fontsize': 13,
                     'xtick.labelsize': 14, 'ytick.labelsize': 14, 'lines.linewidth': 2.5, 'figure.titlesize': 22,
                     'axes.spines.top': False, 'axes.spines.right': False})
PALETTE = [plt.get_cmap('tab20')(i) for i in range(0, 20, 2)] + [plt.get_cmap('tab20')(i) for i in range(1, 20, 2)]
FOOTER_PT = 12  # the footer (budget, dataset, seeds, machine) is the one text under the talk's 18 pt minimum
TITLE_PT = 28


def colours(runs):
    """One colour per variant name across every figure made from the same runs folder."""
    names = sorted({r['variant'] for r in runs}, key=analysis.natural_key)
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def figure(runs=None, footer=None, title=None, finding=''):
    """A 16:9 figure (constrained layout) with a footer at the bottom: footer, else (with runs) their budget,
    dataset and machine (analysis.context); a long footer wraps onto a second line and the drawing makes room
    for it. A slide (title given, '' for none) also has its title on top and the finding, if any, above the
    footer; what is drawn into it goes between."""
    fig = plt.figure(figsize=FIGSIZE, layout='constrained')
    text = footer if footer is not None else analysis.context(runs) if runs else ''
    bottom = 0.02
    if text:
        lines = textwrap.wrap(text, 125)
        bottom = 0.02 + 0.03 * len(lines)
        fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom))  # keep the bottom free for the footer
        fig.text(0.01, 0.008, '\n'.join(lines), fontsize=FOOTER_PT, color='0.3', va='bottom', gid='footer')
    if title is None:
        return fig
    if finding:  # a second line at 16 pt would run into the footer below
        fig.text(0.03, bottom + 0.01, finding, fontsize=16 if len(finding) <= 110 else 13, va='bottom', wrap=True)
        bottom += 0.07
    fig.get_layout_engine().set(rect=(0.02, bottom, 0.96, 0.87 - bottom))
    fig.text(0.03, 0.93, title, fontsize=TITLE_PT, fontweight='bold', va='center', gid='title')
    return fig


def band(ax, x, y, colour, **kw):
    """The mean over seeds (the rows of y) as a line; with several seeds a band from min to max around it."""
    ax.plot(x, y.mean(0), color=colour, **kw)
    if len(y) > 1:
        ax.fill_between(x, y.min(0), y.max(0), color=colour, alpha=0.2)


def md_table(header, rows):
    """A markdown table from a header and rows, each a list of cells."""
    row = lambda cells: '| ' + ' | '.join(cells) + ' |'
    return '\n'.join([row(header), '|---' * len(header) + '|'] + [row(r) for r in rows]) + '\n'


def save(fig, out_dir, stem):
    """Write out_dir/stem.png and .pdf; returns the two paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, f"{stem}.{ext}") for ext in ('png', 'pdf')]
    for p in paths:
        fig.savefig(p, dpi=150)
    plt.close(fig)
    return paths


def every_study(runs_dir, out_dir, kind, what, draw):
    """One figure per study under runs_dir, drawn by draw(fig, study, variants, colour) and titled
    '<study>: <what>', saved as out_dir/<kind>_<study>.png and .pdf; returns the files written."""
    runs = analysis.load_runs(runs_dir)
    colour, paths = colours(runs), []
    for study, variants in analysis.by_study(runs).items():
        fig = figure([r for g in variants.values() for r in g])
        draw(fig, study, variants, colour)
        fig.suptitle(f"{analysis.title(study)}: {what}")
        paths += save(fig, out_dir, f"{kind}_{analysis.slug(study)}")
    return paths


def parse_args(doc, runs='runs', out='report/figures', **options):
    """A plot script's command line: --runs (runs=None: no such option), --out, and each option given as
    name=(default, help), typed by its default; a default of ... makes it a positional argument."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if runs is not None:
        p.add_argument('--runs', default=runs, help='folder of logs: runs/<study>/<name>/log.json or results/-style '
                       '<study>/<name>.json')
    p.add_argument('--out', default=out, help='where the output goes')
    for name, (default, text) in options.items():
        if default is ...:
            p.add_argument(name, help=text)
        else:
            p.add_argument(f"--{name}", default=default, type=type(default) if default is not None else str, help=text)
    return p.parse_args()
