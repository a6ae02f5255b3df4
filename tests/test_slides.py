"""The talk and the appendix deck, and the talk-figure rules, on small fabricated logs in the log schema of DESIGN.md
(no training): page count, missing studies marked, computed findings, bars from zero, no error bar from
one seed. Also the study runner's recipe, budget and seed arguments (through --list, nothing trains)."""
import json
import os
import re
import subprocess
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, 'plots'))
import ablation  # noqa: E402
import analysis  # noqa: E402
import slides  # noqa: E402
import style  # noqa: E402
import talk  # noqa: E402

# (study, variant, {flag: value}, [(val acc, test acc) per seed]); model/flags as the study scripts set them
FAKE = [('patch_size', 'patch2', dict(patch_size=2), [(0.50, 0.49), (0.54, 0.52)]),
        ('patch_size', 'patch8', dict(patch_size=8), [(0.60, 0.61), (0.62, 0.60)]),
        ('resnet', 'vit', {}, [(0.35, 0.34)]),
        ('resnet', 'resnet18', dict(model='resnet18'), [(0.47, 0.46)]),
        ('data_scaling', 'vit_10pct', dict(subset=4500), [(0.20, 0.21)]),
        ('data_scaling', 'vit_100pct', dict(subset=0), [(0.40, 0.41)]),
        ('data_scaling', 'resnet18_10pct', dict(model='resnet18', subset=4500), [(0.35, 0.36)]),
        ('data_scaling', 'resnet18_100pct', dict(model='resnet18', subset=0), [(0.55, 0.52)])]


def fake_log(name, flags, seed, val, test):
    config = dict(model='vit', patch_size=4, dim=192, depth=6, heads=3, mlp_ratio=4.0, pos_emb='learned', pool='cls',
                  dataset='cifar10', data_dir='data', val_size=5000, subset=0, batch_size=128, epochs=30, time_limit=0.0,
                  max_steps=0, lr=1e-3, weight_decay=0.05, label_smoothing=0.1, optimizer='adamw', augment='none',
                  dtype='bfloat16', num_classes=10, seed=seed, name=name, out_dir='runs/x')
    config.update(flags)
    train = config['subset'] or 45000
    history = [dict(epoch=e, step=100 * (e + 1), lr=1e-3, train_loss=2.0 - e / 10, train_acc=0.3 + e / 20, val_loss=1.9 - e / 10,
                    val_acc=val - (2 - e) / 50, epoch_time_s=60.0, img_per_s=200.0) for e in range(3)]
    return dict(name=name, status='done', config=config, recipe=[dict(path='configs/cpu10.py', sha256='0123abcd', text='')],
                model=dict(params=11e6 if config['model'] == 'resnet18' else 2.7e6, flops_per_image=3.2e8),
                data=dict(train=train, val=5000, test=10000),
                env=dict(torch='2.x', device='cpu', machine='Test CPU, 2 cores', git_commit='abc'), history=history,
                final=dict(test_acc=test, test_loss=1.0, best_val_acc=val, best_epoch=2, train_time_s=180.0, peak_mem_mb=1.0))


@pytest.fixture
def logs(tmp_path):
    """runs/<study>/<name>/log.json, except resnet, kept as results/ keeps logs: <study>/<name>.json."""
    for study, variant, flags, seeds in FAKE:
        for seed, (val, test) in enumerate(seeds):
            name = f"{variant}_s{seed}"
            path = tmp_path / study / (f"{name}.json" if study == 'resnet' else os.path.join(name, 'log.json'))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(fake_log(name, flags, seed, val, test)))
    (tmp_path / 'bench.json').write_text(json.dumps({'config': {}, 'rows': []}))  # not a log: skipped
    return str(tmp_path)


def test_deck_pages_missing_studies_and_computed_findings(logs, tmp_path):
    out = str(tmp_path / 'deck' / 'slides.pdf')
    pages = slides.appendix(logs, out)
    studies = slides.expected_studies()
    assert len(studies) >= 18 and len(pages) == 2 + len(studies) + 3  # divider, setup, studies, PCA, attention, conclusions
    pdf = open(out, 'rb').read()
    assert pdf.startswith(b'%PDF-') and len(re.findall(rb'/Type\s*/Page\b', pdf)) == len(pages)
    by_title = {p['title']: p for p in pages}
    assert by_title['Number of heads']['missing'] and by_title['Number of heads']['finding'] == 'not run yet'
    assert by_title['PCA of features: ViT vs ResNet']['missing'] and by_title['Attention: how far each head looks']['missing']
    assert sum(p['missing'] for p in pages) == len(studies) - 3 + 2
    val8 = [0.60, 0.62]
    expected = f"patch size 8 is best on val: {100 * np.mean(val8):.1f} ± {100 * np.std(val8, ddof=1):.1f}% (2 seeds) vs 52.0 ± 2.8% for 2"
    assert by_title['Patch size']['finding'].startswith(expected), by_title['Patch size']['finding']
    assert 'within the seed spread' not in by_title['Patch size']['finding']
    assert by_title['ResNet vs ViT']['finding'].startswith('model resnet18 is best on val: 47.0% (1 seed) vs 35.0% for vit')
    scaling = by_title['Data scaling: ViT vs ResNet']['finding']
    assert scaling == 'resnet18 - vit test accuracy: +15.0 points at 4,500 training images, +11.0 at 45,000', scaling
    conclusions = by_title['Conclusions']['finding']  # 3 findings + 'Not run yet': one slide
    assert expected in conclusions and 'Not run yet: ' in conclusions and 'Number of heads' in conclusions.split('Not run yet: ')[1]
    assert 'Patch size' not in conclusions.split('Not run yet: ')[1]


def test_conclusions_split_over_slides(logs, tmp_path):
    """Past slides.PER_SLIDE findings the conclusions continue on a second slide, none lost or repeated."""
    for i in range(slides.PER_SLIDE + 2):  # extra studies with a finished run each
        path = tmp_path / f"extra{i}" / 'v_s0' / 'log.json'
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(fake_log('v_s0', {}, 0, 0.5, 0.5)))
    pages = slides.appendix(logs, str(tmp_path / 'deck.pdf'))
    parts = [p for p in pages if p['title'].startswith('Conclusions')]
    assert [p['title'] for p in parts] == ['Conclusions (1/2)', 'Conclusions (2/2)']
    lines = [l for p in parts for l in p['finding'].split('\n')]
    assert all(len(p['finding'].split('\n')) <= slides.PER_SLIDE for p in parts)
    findings = [p['title'] for p in pages if not p['missing'] and p['title'] not in ('Setup',)
                and not p['title'].startswith(('Conclusions', 'Appendix'))]
    assert len(lines) == len(findings) + 1 and lines[-1].startswith('Not run yet: ')  # every study's line, once


def test_titles_in_words():
    assert analysis.title('cpu_2min/heads') == analysis.TITLES['heads']  # the budget folder above is said elsewhere
    assert analysis.title('gpu_h200/equal_epochs') == 'Equal epochs'  # a folder no study names: its name in words


def test_setup_lines_read_the_logs(logs):
    text = '\n'.join(analysis.setup_lines(analysis.load_runs(logs)))
    assert 'patch 4, width 192, depth 6, 3 heads' in text and '45,000 train / 5,000 val / 10,000 test' in text
    assert 'configs/cpu10.py (0123abcd)' in text and 'Test CPU, 2 cores' in text and '30 epochs per run' in text


def test_bars_from_zero_error_bars_only_from_two_seeds(logs):
    studies = analysis.by_study(analysis.load_runs(logs))
    assert set(studies) == {'patch_size', 'resnet', 'data_scaling'}
    colour = style.colours([r for vs in studies.values() for g in vs.values() for r in g])
    fig = plt.figure()
    ax, ax2 = ablation.draw(fig, studies['patch_size'], colour)
    assert ax.get_ylim()[0] == 0 and ax.get_xlabel() == 'patch size (pixels)' and ax.get_ylabel() == 'test accuracy (%)'
    assert [t.get_text() for t in ax.get_xticklabels()] == ['2', '8']
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 1 and bars[0].has_yerr
    assert 'std over 2 seeds' in [t.get_text() for t in ax.get_legend().get_texts()]
    mid = [seg.mean(0)[1] for seg in bars[0].lines[2][0].get_segments()]  # centre of each error bar: the mean
    assert np.allclose(mid, [100 * np.mean([0.49, 0.52]), 100 * np.mean([0.61, 0.60])])
    fig = plt.figure()
    ax, ax2 = ablation.draw(fig, studies['resnet'], colour)  # one seed: no error bar anywhere
    assert ax.get_ylim()[0] == 0 and ax.get_xlabel() == 'model'
    assert not any(isinstance(c, ErrorbarContainer) for c in ax.containers)
    assert not any(c.has_yerr for c in ax2.containers if isinstance(c, ErrorbarContainer))
    assert not any('std' in t.get_text() for t in ax.get_legend().get_texts())
    plt.close('all')


def test_cost_panel_uses_speed_when_flops_are_alike(logs):
    """Variants of equal FLOPs (heads, ffn, optimizer) would stack on one x: the cost axis is then img/s."""
    variants = analysis.by_study(analysis.load_runs(logs))['patch_size']
    for v, rate in (('patch2', 50.0), ('patch8', 800.0)):
        for r in variants[v]:
            r['history'] = [dict(h, img_per_s=rate) for h in r['history']]
    colour = style.colours([r for g in variants.values() for r in g])
    _, ax2 = ablation.draw(plt.figure(), variants, colour)
    assert ax2.get_xlabel() == 'training images per second (log)' and ax2.get_xscale() == 'log'
    assert sorted(c.lines[0].get_xdata()[0] for c in ax2.containers) == [50.0, 800.0]
    for r in variants['patch8']:  # 50 vs 80 img/s: a log axis would have no labelled tick in range
        r['history'] = [dict(h, img_per_s=80.0) for h in r['history']]
    _, ax2 = ablation.draw(plt.figure(), variants, colour)
    assert ax2.get_xlabel() == 'training images per second' and ax2.get_xscale() == 'linear'
    for r in variants['patch8']:
        r['model'] = dict(r['model'], flops_per_image=0.8e8)
    _, ax2 = ablation.draw(plt.figure(), variants, colour)
    assert ax2.get_xlabel() == 'MFLOPs per image (log)'
    assert sorted(c.lines[0].get_xdata()[0] for c in ax2.containers) == [80.0, 320.0]
    plt.close('all')


def test_figures_carry_budget_dataset_and_machine(logs, tmp_path):
    runs = [r for r in analysis.load_runs(logs) if r['study'] == 'patch_size']
    assert analysis.context(runs) == 'CIFAR-10 | recipe cpu10.py, 30 epochs per run | 2 seeds per variant | Test CPU, 2 cores'
    for r in runs:
        r['recipe'] = []  # flags only: no recipe in the line
    assert analysis.context(runs) == 'CIFAR-10 | 30 epochs per run | 2 seeds per variant | Test CPU, 2 cores'
    runs[0]['config'] = dict(runs[0]['config'], time_limit=2.0)  # one odd run is counted, not read as the rule
    n = len(runs)
    assert analysis.context(runs) == (f'CIFAR-10 | 30 epochs per run ({n - 1} runs) / 2 min per run (1 run) | '
                                    '2 seeds per variant | Test CPU, 2 cores')
    runs[0]['env'] = dict(runs[0]['env'], machine='Intel(R) Xeon(R) Processor, 2 cores')  # the vendor's marks go
    assert analysis.context(runs).endswith('| Test CPU, 2 cores (3 runs) / Intel Xeon, 2 cores (1 run)')
    runs[1]['env'] = dict(runs[1]['env'], cpu_isa='AVX2')  # the same CPU without AVX512 is another machine
    runs[2]['env'] = dict(runs[2]['env'], cpu_isa='AVX512')  # ... and with it, the one older logs name
    assert analysis.context(runs).endswith('| Test CPU, 2 cores (2 runs) / Intel Xeon, 2 cores (1 run) / '
                                           'Test CPU, 2 cores, AVX2 (1 run)')
    paths = ablation.main(logs, str(tmp_path / 'fig'))
    assert {os.path.basename(p) for p in paths} >= {'ablation_patch_size.png', 'ablation_patch_size.pdf'}
    w, h = plt.imread(str(tmp_path / 'fig' / 'ablation_patch_size.png')).shape[1::-1]
    assert w / h == pytest.approx(16 / 9, abs=0.01) and w >= 1280


def listed(*args):
    r = subprocess.run([sys.executable, os.path.join(ROOT, 'exps', 'patch_size.py'), *args, '--list'],
                       capture_output=True, text=True, cwd=ROOT)
    return r.returncode, r.stdout.splitlines(), r.stderr


def test_study_takes_a_recipe_a_budget_and_seeds(tmp_path):
    recipe = tmp_path / 'recipe.py'
    recipe.write_text("time_limit = 10.0\nlabel_smoothing = 0.05\n")
    code, lines, err = listed(str(recipe), '--epochs=3', '--time_limit=0', '--seeds=0,2', '--lr=3e-4')
    assert code == 0, err
    assert [l.split()[0] for l in lines] == ['patch2_s0', 'patch4_s0', 'patch8_s0', 'patch2_s2', 'patch4_s2', 'patch8_s2']
    args = lines[0].split()[1:]
    assert args[0] == str(recipe)  # first: the grid's flags and the budget come after and win
    assert {'--epochs=3', '--time_limit=0.0', '--patch_size=2', '--seed=0', '--lr=3e-4'} <= set(args)
    code, lines, _ = listed('--seeds=2')
    assert code == 0 and [l.split()[0] for l in lines][-1] == 'patch8_s1' and not any('time_limit' in l for l in lines)
    for bad, says in (([str(tmp_path / 'nope.py')], 'no such config file'), (['--seeds=1,x'], '--seeds'),
                      (['--seeds=0,0'], 'none twice')):
        code, _, err = listed(*bad)
        assert code == 2 and says in err, err


def test_tables_give_mean_std_steps_and_cost(logs, tmp_path):
    import table
    md = table.main(logs, str(tmp_path / 'tables'))['patch_size']
    assert md.startswith('Patch size: CIFAR-10 | recipe cpu10.py, 30 epochs per run | 2 seeds per variant')
    row = next(l for l in md.splitlines() if l.startswith('| patch2 |')).strip('| ').split(' | ')
    # variant, seeds done, steps, val, test (mean ± sample std over the 2 seeds), params, MFLOPs, img/s, minutes
    assert row == ['patch2', '2/2', '300', f"{100 * np.mean([0.50, 0.54]):.2f} ± {100 * np.std([0.50, 0.54], ddof=1):.2f}",
                   f"{100 * np.mean([0.49, 0.52]):.2f} ± {100 * np.std([0.49, 0.52], ddof=1):.2f}", '2.70', '320.0', '200', '3.0']
    assert os.path.exists(tmp_path / 'tables' / 'patch_size.tex')


def test_long_tier_tables_from_the_logs(tmp_path, monkeypatch):
    """plots/long_tier.py: the 20%-rule gain counts only finished runs, doubling the length is paired by seed
    (cpu10 at 3 epochs against cpu10_half at its planned epochs), and a 10% variant against the recipe on 10%."""
    import long_tier
    folder = tmp_path / talk.LONG
    folder.mkdir(parents=True)
    for seed, (half, full) in enumerate([(0.70, 0.74), (0.72, 0.73)]):
        for name, test, epochs in ((f'cpu10_half_s{seed}', half, 2), (f'cpu10_s{seed}', full, 3)):
            log = fake_log(name, dict(epochs=epochs), seed, test, test)  # val_acc rises 0.02 an epoch to `test`
            log['history'] = log['history'][:epochs]
            (folder / f'{name}.json').write_text(json.dumps(log))
    for seed, (base, trivial) in enumerate([(0.62, 0.645), (0.63, 0.64)]):  # on 10%: +2.5 and +1.0 points
        for name, test in ((f'cpu10_10pct_s{seed}', base), (f'aug_trivial_10pct_s{seed}', trivial)):
            (folder / f'{name}.json').write_text(json.dumps(fake_log(name, dict(subset=4500), seed, test, test)))
    for name, test in (('cpu10_10pct_x2_s0', 0.70), ('aug_trivial_10pct_x2_s0', 0.69)):  # paired with each other
        (folder / f'{name}.json').write_text(json.dumps(fake_log(name, dict(subset=4500), 0, test, test)))
    running = fake_log('patch8_s0', dict(epochs=10), 0, 0.5, 0.5)
    running.update(status='running', final={})
    (folder / 'patch8_s0.json').write_text(json.dumps(running))
    monkeypatch.setattr(long_tier, 'RESULTS', str(tmp_path))
    twice = long_tier.twice_as_long().splitlines()
    assert twice[2].strip('| ').split(' | ') == ['`cpu10` (2 -> 3 epochs)', '71.00 ± 1.41', '73.50 ± 0.71',
                                                '+4.00 / +1.00', '+4.00 / +1.00'], twice
    rows = {l.split(' | ')[0].strip('| '): l.strip('| ').split(' | ') for l in long_tier.convergence().splitlines()[2:]}
    assert rows['cpu10_s0'][1:] == ['3/3', '72.0', '74.0', '+2.00', 'no', '74.0']  # 80% of 3 epochs = the first 2
    assert rows['patch8_s0'][1:] == ['3/10', '-', '50.0', '-', '-', '-']  # unfinished: no gain, no verdict
    small = [l.strip('| ').split(' | ') for l in long_tier.small_data().splitlines()[2:]]
    assert small == [['`cpu10_10pct`', '62.50 ± 0.71', '40.0 ± 0.0', '-', '-'],  # train_acc 0.3 + 2/20 on the last epoch
                     ['`aug_trivial_10pct`', '64.25 ± 0.35', '40.0 ± 0.0', '+2.5 / +1.0 (30 epochs)', 'higher'],
                     ['`cpu10_10pct_x2`', '70.00', '40.0', '-', '-'], ['`aug_trivial_10pct_x2`', '69.00', '40.0', '-1.0 (30 epochs)', 'one seed']], small
    saved = {}
    monkeypatch.setattr(style, 'save', lambda fig, out_dir, stem: saved.update({stem: fig}) or [stem])
    assert long_tier.baseline_curves(str(tmp_path)) == ['baseline_curves']
    lines = {(l.get_label(), tuple(l.get_xdata())) for ax in saved['baseline_curves'].axes for l in ax.get_lines()}
    assert lines == {('cpu10', (1, 2, 3)), ('cpu10_half', (1, 2))}  # the recipe at both lengths; patch8 left out


def test_effect_chart_tells_one_seed_from_a_tie(tmp_path):
    """A long-tier difference from one seed has no spread: drawn in its own colour and legend entry, not as
    'within the spread' (which says the seeds disagree); two agreeing seeds read 'worse on every seed'."""
    folder = tmp_path / talk.LONG
    folder.mkdir(parents=True)
    tests = dict(cpu10_half=[0.82, 0.81], linear_half=[0.74, 0.75], aug_trivial_half=[0.83])
    for variant, accs in tests.items():
        for seed, acc in enumerate(accs):
            (folder / f'{variant}_s{seed}.json').write_text(json.dumps(fake_log(f'{variant}_s{seed}', {}, seed, acc, acc)))
    fig = plt.figure()
    ax, rows = slides.effect_chart(fig, analysis.by_study(analysis.load_runs(str(tmp_path))))
    colour = {rows[int(round(c.lines[0].get_ydata()[0] - 0.18))][0]: c.lines[0].get_color()
              for c in ax.containers if isinstance(c, ErrorbarContainer)}
    assert colour == {'TrivialAugment': slides.ONE_SEED, 'linear patches (no stem)': slides.BAD}, colour
    assert 'one seed (no spread)' in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)


def test_analysis_picks_the_best_validation_run_never_test(tmp_path):
    runs = []
    for name, val, test in (('a', 0.6, 0.5), ('b', 0.5, 0.7)):  # b wins on test only
        (tmp_path / name).mkdir()
        (tmp_path / name / 'ckpt_best.pt').write_bytes(b'')
        runs.append(dict(status='done', config=dict(model='vit'), dir=str(tmp_path / name),
                         final=dict(best_val_acc=val, test_acc=test)))
    assert analysis.best_checkpoint(runs, vit=True) == str(tmp_path / 'a' / 'ckpt_best.pt')
    assert analysis.best_checkpoint(runs, vit=False) is None


def test_finding_pairs_seeds_when_the_spreads_overlap():
    """Seeds that swing both variants alike: the spreads overlap, yet the best wins on every shared seed."""
    def study(best_vals, base_vals):
        return {'baseline': [fake_log('baseline', {}, s, v, v) for s, v in enumerate(base_vals)],
                'best': [fake_log('best', dict(lr=2e-3), s, v, v) for s, v in enumerate(best_vals)]}
    consistent = analysis.finding(study([0.58, 0.59, 0.62], [0.56, 0.565, 0.595]))
    assert consistent.endswith('; higher on each of the 3 seeds both ran'), consistent
    mixed = analysis.finding(study([0.60, 0.55, 0.62], [0.56, 0.565, 0.595]))
    assert mixed.endswith('; the gap is within the seed spread'), mixed
    assert analysis.paired(study([0.6], [0.5, 0.4])['best'], study([0.6], [0.5, 0.4])['baseline']) == [(0.6, 0.5)]


def test_finding_ranks_only_the_studys_budget():
    """distill's teacher trains 10 minutes where its students train 2: it is drawn, but not called best."""
    two, ten = dict(time_limit=2.0), dict(time_limit=10.0, model='resnet18')
    variants = {'teacher': [fake_log('teacher', ten, 0, 0.66, 0.66)],
                'vit': [fake_log('vit', two, s, v, v) for s, v in enumerate([0.58, 0.57])],
                'soft': [fake_log('soft', dict(two, distill='soft'), s, v, v) for s, v in enumerate([0.44, 0.42])]}
    text = analysis.finding(variants)
    assert text.startswith('vit is best on val: 57.5') and 'for soft' in text, text
    assert text.endswith('; teacher (10 min per run) not ranked'), text
    alone = analysis.finding({'teacher': variants['teacher']})  # one budget: nothing set aside
    assert 'not ranked' not in alone and alone.startswith('teacher: val 66.0%'), alone


# ------------------------------------------------------------------ the talk (plots/slides.py build_talk, plots/talk.py)

def write_logs(root, rows):
    """rows: (study folder, variant, flags, [(val, test) per seed]) -> results-style logs under root."""
    for study, variant, flags, seeds in rows:
        for seed, (val, test) in enumerate(seeds):
            path = root / study / f"{variant}_s{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(fake_log(f"{variant}_s{seed}", flags, seed, val, test)))
    return str(root)


SCREEN = [('cpu_2min/patch_embed', 'conv', dict(patch_embed='conv', time_limit=2.0), [(0.55, 0.56), (0.54, 0.55)]),
          ('cpu_2min/patch_embed', 'linear', dict(time_limit=2.0), [(0.50, 0.50), (0.51, 0.52)]),
          ('cpu_2min/ffn', 'gelu', dict(time_limit=2.0), [(0.55, 0.55), (0.54, 0.54)]),
          ('cpu_2min/ffn', 'swiglu', dict(ffn='swiglu', time_limit=2.0), [(0.56, 0.56), (0.53, 0.53)])]


def test_talk_is_12_to_15_slide_grade_slides(tmp_path):
    """Every slide: 16:9, text inside the page, no two texts overlapping, body >= 18 pt, <= 40 words."""
    pages = slides.build_talk(write_logs(tmp_path / 'results', FAKE_TALK), str(tmp_path / 'talk.pdf'))
    assert 12 <= len(pages) <= 15
    titles = [p['title'] for p in pages]
    for part in ('The question and the setup', 'Baseline: training curves', 'Architecture', 'Every technique, ranked',
                 'What helped', 'What did not help', 'Why, 1', 'Why, 2', 'Why, 3', 'Why, 4', 'The staircase', 'Conclusions', 'Future experiments'):
        assert any(t.startswith(part) for t in titles), part
    assert [p['problems'] for p in pages] == [[]] * len(pages)
    pdf = open(tmp_path / 'talk.pdf', 'rb').read()
    assert len(re.findall(rb'/Type\s*/Page\b', pdf)) == len(pages)
    box = re.search(rb'/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)', pdf)
    assert float(box[1]) / float(box[2]) == pytest.approx(16 / 9, abs=0.01)


def test_committed_talk_is_slide_grade():
    """The talk as built from the committed logs: 12-15 slides and no layout problem on any."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        pages = slides.build_talk(os.path.join(ROOT, 'results'), os.path.join(tmp, 'talk.pdf'))
    assert 12 <= len(pages) <= 15 and [p['problems'] for p in pages] == [[]] * len(pages)


def test_slide_check_finds_each_problem():
    fig = style.figure(footer='CIFAR-10 | 2-min screen')
    fig.text(0.5, 0.5, 'one two three', fontsize=20)
    assert slides.problems(fig) == []
    fig.text(0.52, 0.5, 'on top', fontsize=20)             # overlaps the first
    fig.text(0.98, 0.8, 'past the right edge', fontsize=20)  # outside the page
    fig.text(0.1, 0.2, 'small', fontsize=12)               # body under 18 pt
    fig.text(0.1, 0.7, ' '.join(['word'] * 40), fontsize=18)  # 3 + 2 + 4 + 1 + 40 words > 40
    found = '\n'.join(slides.problems(fig))
    assert "overlap: 'one two three' and 'on top'" in found and "outside the page: 'past the right edge'" in found
    assert "12 pt < 18 pt: 'small'" in found and '50 words > 40' in found
    assert 'CIFAR' not in found  # the footer may be smaller and is not counted
    plt.close('all')


def test_claims_checked_against_the_logs(tmp_path):
    """A claim 'A > B' is read from the long tier when its logs exist, else from the screen; it is flagged when
    the sign flipped or the difference is inside the seed spread, and the slide says so."""
    studies = analysis.by_study(analysis.load_runs(write_logs(tmp_path / 'r1', SCREEN)))
    claims = analysis.check_claims(studies, talk.CLAIMS)
    stem = claims['stem']
    assert stem['state'] == 'supported' and stem['evidence']['study'] == 'cpu_2min/patch_embed'
    assert np.allclose(stem['evidence']['diffs'], [6.0, 3.0]) and stem['evidence']['length'] == '2-min screen'
    assert claims['swiglu']['state'] == 'supported'  # 'SwiGLU = GELU': +1 and -1, no clear difference
    assert claims['patch4_long']['state'] == 'pending'  # a prediction for the long tier, not run
    lines = [t for t, _, _ in slides.claim_lines(stem)]
    assert lines[0] == 'Conv stem > linear patches: +6.0 / +3.0 (2-min screen)' and lines[1].startswith('Hypothesis: ')
    # the long tier arrives and the sign flips: the long numbers win, and the claim is flagged
    flipped = SCREEN + [('cpu_long/long', 'cpu10', {}, [(0.70, 0.70), (0.71, 0.71)]),
                        ('cpu_long/long', 'linear', dict(patch_embed='linear'), [(0.72, 0.72), (0.73, 0.73)])]
    claims = analysis.check_claims(analysis.by_study(analysis.load_runs(write_logs(tmp_path / 'r2', flipped))),
                                   talk.CLAIMS)
    stem = claims['stem']
    assert stem['evidence']['study'] == 'cpu_long/long' and stem['evidence']['length'] == '30 epochs'
    assert (stem['state'], stem['why']) == ('flagged', 'sign flipped')
    assert any('unsupported: sign flipped' in t for t, _, _ in slides.claim_lines(stem))
    # the long tier's first seed alone does not displace the screen's two seeds; with no other source it is flagged
    one_long = SCREEN + [('cpu_long/long', 'cpu10', {}, [(0.80, 0.80)]),
                         ('cpu_long/long', 'linear', dict(patch_embed='linear'), [(0.72, 0.72)])]
    claims = analysis.check_claims(analysis.by_study(analysis.load_runs(write_logs(tmp_path / 'r4', one_long))),
                                   talk.CLAIMS)
    assert claims['stem']['state'] == 'supported' and claims['stem']['evidence']['study'] == 'cpu_2min/patch_embed'
    alone = analysis.evidence(analysis.by_study(analysis.load_runs(str(tmp_path / 'r4'))), talk.CLAIMS['stem']['refs'][:1])
    assert np.allclose(alone['diffs'], [8.0]) and analysis.verdict(alone) == ('flagged', 'one seed: no spread to compare with')
    # inside the spread: one seed disagrees
    mixed = SCREEN[:1] + [('cpu_2min/patch_embed', 'linear', dict(time_limit=2.0), [(0.50, 0.50), (0.56, 0.57)])]
    claims = analysis.check_claims(analysis.by_study(analysis.load_runs(write_logs(tmp_path / 'r3', mixed))),
                                   talk.CLAIMS)
    assert (claims['stem']['state'], claims['stem']['why']) == ('flagged', 'within the seed spread')
    # both seeds agree and beat their spread, but not what rounding alone moved a run of the tier (the same run,
    # same seed, trained again on another CPU: cpu_long/rounding beside cpu_long/long)
    small = SCREEN + [('cpu_long/long', 'cpu10', {}, [(0.80, 0.80), (0.81, 0.81)]),
                      ('cpu_long/long', 'linear', dict(patch_embed='linear'), [(0.79, 0.792), (0.80, 0.801)])]
    root = write_logs(tmp_path / 'r5', small)
    claims = analysis.check_claims(analysis.by_study(analysis.load_runs(root)), talk.CLAIMS)
    assert claims['stem']['state'] == 'supported' and claims['stem']['evidence']['rounding'] == 0.0
    write_logs(tmp_path / 'r5', [('cpu_long/rounding', 'cpu10', {}, [(0.80, 0.815)])])
    claims = analysis.check_claims(analysis.by_study(analysis.load_runs(root)), talk.CLAIMS)
    assert np.allclose(claims['stem']['evidence']['diffs'], [0.8, 0.9])
    assert claims['stem']['evidence']['rounding'] == pytest.approx(1.5)
    assert (claims['stem']['state'], claims['stem']['why']) == ('flagged', 'within what rounding alone moves a run (1.5 points)')
    assert analysis.direction(claims['stem']['evidence']) == 'within spread'
    # a pair whose two runs ran on different CPUs takes the rerun that ran on the other's CPU (either side)
    studies = analysis.by_study(analysis.load_runs(root))
    studies['cpu_long/long']['linear'][0]['env']['machine'] = 'Other CPU'
    refs = talk.CLAIMS['stem']['refs'][:1]
    assert np.allclose(analysis.evidence(studies, refs)['diffs'], [0.8, 0.9])  # the rerun is on Test CPU too
    studies['cpu_long/rounding']['cpu10'][0]['env']['machine'] = 'Other CPU'
    ev = analysis.evidence(studies, refs)
    assert np.allclose(ev['diffs'], [2.3, 0.9]) and ev['runs'][0] is studies['cpu_long/rounding']['cpu10'][0]
    # a 'no difference' claim with a clear difference, and a single seed
    assert analysis.verdict(dict(diffs=np.array([3.0, 4.0]), mean=3.5, std=0.7), same=True) == ('flagged', 'a clear difference now')
    assert analysis.verdict(dict(diffs=np.array([3.0]), mean=3.0, std=np.nan))[0] == 'flagged'


def test_every_claim_names_known_studies_and_a_hypothesis():
    for key, c in talk.CLAIMS.items():
        assert c['says'] and c['hypothesis'] and c['refs'], key
        for study, a, b in c['refs']:
            assert study.startswith(('cpu_', 'gpu_')) and a != b, (key, study)
    assert all(k in talk.CLAIMS for k in talk.HELPED + talk.NOT_HELPED + talk.STAIRCASE_CLAIMS)
    assert all(k in talk.CLAIMS for _, ks in talk.CONCLUSIONS for k in ks)


FAKE_TALK = SCREEN + [(f"cpu_2min/{s}", v, dict(f, time_limit=2.0), seeds) for s, v, f, seeds in FAKE] + [
    ('gpu_h200/equal_epochs', 'baseline', {}, [(0.77, 0.77), (0.78, 0.77)]),
    ('gpu_h200/equal_epochs', 'resnet18', dict(model='resnet18'), [(0.86, 0.86), (0.87, 0.87)])]
