"""One command for the whole report: every table and figure over --runs, and report/README.md that
shows them study by study (only figures that were written are linked).

    python plots/report.py --runs=runs --out=report
"""
import os

import style  # first: it puts the repo root (analysis.py) on the path
import ablation
import analysis
import attention
import curves
import pca
import table


def main(runs_dir, out_dir, note=''):
    fig_dir, tab_dir = os.path.join(out_dir, 'figures'), os.path.join(out_dir, 'tables')
    written = []
    for name, plot in (('curves', curves.main), ('ablation', ablation.main), ('pca', pca.main), ('attention', attention.main)):
        try:
            written += plot(runs_dir, fig_dir)
        except Exception as e:  # one broken figure must not cost the rest of the report
            print(f"report: {name} failed: {type(e).__name__}: {e}")
    tables = table.main(runs_dir, tab_dir)
    runs = analysis.load_runs(runs_dir)
    link = lambda stem: (f"![{stem}](figures/{stem}.png) ([pdf](figures/{stem}.pdf))\n"
                         if os.path.join(fig_dir, f"{stem}.png") in written and os.path.exists(os.path.join(fig_dir, f"{stem}.png")) else '')
    lines = [f"# vitlab report\n\n{len(runs)} runs from `{runs_dir}`. {note}\n",
             'Accuracy: best validation accuracy, and the test accuracy of the best-validation checkpoint, '
             'mean ± std over seeds. Cost: params, forward FLOPs per image, median training img/s, training '
             'time. Dataset, budget, seeds and machine: the line above each table, read from the logs.\n']
    studies = analysis.by_study(runs)
    for study, md in tables.items():  # the table's first line says dataset, budget, seeds and machine
        tex = f"tables/{analysis.slug(study)}.tex"
        lines += [f"## {study}\n", f"Finding (computed from the logs): {analysis.finding(studies[study])}\n",
                  f"LaTeX: [{tex}]({tex})\n", md, link(f"ablation_{analysis.slug(study)}"), link(f"curves_{analysis.slug(study)}")]
    checkpoints = [link(s) for s in ('pca_features', 'pca_patch_tokens', 'attention_maps', 'attention_distance')]
    if any(checkpoints):
        lines += ['## Analysis: best ViT vs best ResNet\n'] + checkpoints
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, 'README.md')
    with open(path, 'w') as f:
        f.write('\n'.join(l for l in lines if l))
    return path


if __name__ == '__main__':
    args = style.parse_args(__doc__, out='report', note=('', 'a line for the top, e.g. the machine'))
    print(main(args.runs, args.out, args.note))
