"""One markdown and one LaTeX table per study: validation and test accuracy, mean ± std over seeds,
seeds done, optimizer steps (mean; what a time budget gave each variant), and the cost: params, FLOPs, img/s and train time. A line above each table gives the
dataset, budget, seeds and machine, read from the logs. Prints the markdown.

    python plots/table.py --runs=runs --out=report/tables
    python plots/table.py --readme=results/cpu_2min/README.md   # refresh the tables in a results README

A results README marks each table it shows as `<!-- table: STUDY -->` ... `<!-- end table -->`; --readme
rewrites those blocks from the logs in the README's own folder, so its numbers are never typed by hand. A
block named after one of long_tier.BLOCKS (convergence, short_vs_long, staircase) is that table instead.
"""
import os
import re

import style  # first: it puts the repo root (analysis.py) on the path
import analysis
import long_tier

COLUMNS = ['variant', 'seeds done', 'steps', 'val acc (%)', 'test acc (%)', 'params (M)', 'MFLOPs/img', 'img/s', 'train time (min)']


def rows(variants):
    out = []
    for v, group in variants.items():
        s = analysis.summary(group)
        done = f"{s['done']}/{s['n']}" + (f" ({s['diverged']} diverged)" if s['diverged'] else '')
        out.append([v, done, f"{s['steps']:.0f}" if s['done'] else '-', analysis.pm(s['val'], s['val_std'], s['done'], 2),
                    analysis.pm(s['acc'], s['std'], s['done'], 2), f"{s['params'] / 1e6:.2f}",
                    f"{s['flops'] / 1e6:.1f}", f"{s['img_s']:.0f}", f"{s['time_s'] / 60:.1f}" if s['done'] else '-'])
    return out


def caption(study, variants):
    """'Patch size: CIFAR-10 | 3 min per run | 1 seed per variant | AMD EPYC, 2 cores'"""
    return f"{analysis.title(study)}: {analysis.context([r for g in variants.values() for r in g])}"


def markdown(study, variants):
    return f"{caption(study, variants)}\n\n" + style.md_table(COLUMNS, rows(variants))


def latex(study, variants):
    esc = lambda s: s.replace('_', r'\_').replace('%', r'\%').replace('±', r'$\pm$')
    body = [' & '.join(esc(c) for c in r) + r' \\' for r in rows(variants)]
    return '\n'.join([r'\begin{tabular}{l' + 'r' * (len(COLUMNS) - 1) + '}', r'\toprule',
                      ' & '.join(esc(c) for c in COLUMNS) + r' \\', r'\midrule'] + body +
                     [r'\bottomrule', r'\end{tabular}', f"% {esc(caption(study, variants))}"]) + '\n'


def main(runs_dir, out_dir):
    """Writes out_dir/<study>.md and .tex; returns {study: markdown}."""
    os.makedirs(out_dir, exist_ok=True)
    tables = {}
    for study, variants in analysis.by_study(analysis.load_runs(runs_dir)).items():
        tables[study] = markdown(study, variants)
        for ext, text in (('md', tables[study]), ('tex', latex(study, variants))):
            with open(os.path.join(out_dir, f"{analysis.slug(study)}.{ext}"), 'w') as f:
                f.write(text)
    return tables


BLOCK = re.compile(r"(<!-- table: (\S+) -->\n).*?(<!-- end table -->)", re.S)


def fill_readme(path):
    """The README's text with every marked table block made from the logs beside it (and its studies' names)."""
    studies = analysis.by_study(analysis.load_runs(os.path.dirname(os.path.abspath(path))))
    text = open(path).read()
    missing = [m[2] for m in BLOCK.finditer(text) if m[2] not in studies and m[2] not in long_tier.BLOCKS]
    if missing:
        raise SystemExit(f"{path}: no logs for the marked table(s) {', '.join(missing)} in {os.path.dirname(path) or '.'}")
    make = lambda name: long_tier.BLOCKS[name]() if name in long_tier.BLOCKS else markdown(name, studies[name])
    return BLOCK.sub(lambda m: m[1] + '\n' + make(m[2]) + '\n' + m[3], text)


if __name__ == '__main__':
    args = style.parse_args(__doc__, out='report/tables',
                            readme=('', 'a results README whose marked tables are rewritten from its logs'))
    if args.readme:
        text = fill_readme(args.readme)
        with open(args.readme, 'w') as f:
            f.write(text)
        raise SystemExit(0)
    for study, md in main(args.runs, args.out).items():
        print(f"## {study}\n\n{md}")
