"""Studies (exps/) and figures (plots/).

Trained for real in smoke mode (synthetic data, tiny model, 2 steps): exps/baseline.py with 2 seeds and a
recipe (a config file), and exps/distill.py (a ResNet-18 teacher, then a plain, a soft and a hard student): they give ViT and ResNet
checkpoints for the analysis plots. Every other study is checked through --list: each listed run's flags
must be train.py flags, the ViT ones must build a valid ViTConfig, and the swept values must be there.
The runner's skip / resume / continue-after-failure logic is tested against a fake train.py.
"""
import glob
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
import configurator
import vit

EXPS, PLOTS = os.path.join(ROOT, 'exps'), os.path.join(ROOT, 'plots')
sys.path.insert(0, PLOTS)
import ablation  # noqa: E402
import analysis  # noqa: E402
import attention  # noqa: E402
import curves  # noqa: E402
import pca  # noqa: E402
import report  # noqa: E402
import slides  # noqa: E402
import style  # noqa: E402
import table  # noqa: E402

STUDIES = sorted(f[:-3] for f in os.listdir(EXPS)  # a study runs through common.py
                 if f.endswith('.py') and f != 'common.py' and 'common.parse(' in open(os.path.join(EXPS, f)).read())
N_RUNS = dict(baseline=1, patch_size=3, model_size=9, heads=4, patch_embed=4, norm=8, ffn=2, pos_emb=11,
              registers=4, multi_cls=3, mla=6, layerscale=4, augment=15, optimizer=3, distill=4, resnet=4,
              data_scaling=8, best=2, recipe=13, long=40, pretrained=4)
SWEPT = dict(patch_size=('patch_size', {'2', '4', '8'}), heads=('heads', {'1', '3', '8', '96'}),
             model_size=('dim', {'96', '192', '256'}), patch_embed=('patch_embed', {'linear', 'overlap', 'conv', 'resnet18'}),
             norm=('norm', {'layernorm', 'rmsnorm'}), ffn=('ffn', {'gelu', 'swiglu'}),
             pos_emb=('pos_emb', {'none', 'learned', 'sincos1d', 'sincos2d', 'rope1d', 'rope2d'}),
             registers=('n_reg', {'0', '1', '4', '8'}), multi_cls=('n_cls', {'1', '2', '4'}),
             optimizer=('optimizer', {'adamw', 'lion', 'sgd'}), resnet=('model', {'resnet18', 'resnet34', 'resnet50'}),
             distill=('distill', {'soft', 'hard'}), mla=('attn', {'mla'}), augment=('mixup', {'0.8', '0.0'}))
SCHEMA = {'name', 'status', 'config', 'model', 'env', 'history', 'final'}
HISTORY_KEYS = {'epoch', 'step', 'lr', 'train_loss', 'train_acc', 'val_loss', 'val_acc', 'epoch_time_s', 'img_per_s'}


def study(name, *args):
    return subprocess.run([sys.executable, os.path.join(EXPS, f"{name}.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


RECIPE = "label_smoothing = 0.05  # a recipe: every run of the study reads it first\n"


@pytest.fixture(scope='module')
def recipe(tmp_path_factory):
    path = tmp_path_factory.mktemp('recipe') / 'recipe.py'
    path.write_text(RECIPE)
    return str(path)


@pytest.fixture(scope='module')
def runs(tmp_path_factory, recipe):
    out = tmp_path_factory.mktemp('runs')
    procs = [subprocess.Popen([sys.executable, os.path.join(EXPS, f"{name}.py"), '--smoke', f"--out_dir={out}", *extra],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, extra in (('baseline', [recipe, '--seeds=2']), ('distill', []))]  # at once: independent studies
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stdout[-2000:] + stderr[-2000:]
    return str(out)


def test_smoke_studies_write_valid_logs(runs, recipe):
    logs = {os.path.relpath(os.path.dirname(p), runs): json.load(open(p)) for p in
            (os.path.join(d, 'log.json') for d, _, files in os.walk(runs) if 'log.json' in files)}
    assert set(logs) == {'baseline/vit_s0', 'baseline/vit_s1', 'distill/teacher_resnet18_s0', 'distill/vit_s0',
                         'distill/soft_s0', 'distill/hard_s0'}
    for rel, log in logs.items():
        assert SCHEMA <= set(log) and log['status'] == 'done', rel
        assert log['history'] and HISTORY_KEYS <= set(log['history'][-1]), rel
        assert log['config']['dataset'] == 'synthetic' and log['config']['max_steps'] == 2
        assert log['config']['seed'] == int(rel[-1]) and 0 <= log['final']['test_acc'] <= 1
        assert os.path.exists(os.path.join(runs, rel, 'ckpt_best.pt'))
        assert log['data'] == {'train': 500, 'val': 100, 'test': 200, 'skipped': 0, 'skipped_files': []}, rel
        assert log['env']['machine'].strip(), rel
        if rel.startswith('baseline'):  # the recipe was read, and the log says which one
            assert log['config']['label_smoothing'] == 0.05
            assert log['recipe'] == [{'path': recipe, 'sha256': hashlib.sha256(RECIPE.encode()).hexdigest()[:16], 'text': RECIPE}]
        else:
            assert log['config']['label_smoothing'] == 0.1 and log['recipe'] == []
    assert logs['distill/teacher_resnet18_s0']['config']['model'] == 'resnet18'
    soft, hard = logs['distill/soft_s0']['config'], logs['distill/hard_s0']['config']
    assert soft['distill'] == 'soft' and soft['teacher'] == os.path.join(runs, 'distill', 'teacher_resnet18_s0', 'ckpt_best.pt')
    assert hard['distill'] == 'hard' and hard['dist_token'] is True
    assert json.load(open(os.path.join(runs, 'distill', 'order.json'))) == ['teacher_resnet18', 'vit', 'soft', 'hard']
    assert list(analysis.by_study(analysis.load_runs(runs))['distill']) == ['teacher_resnet18', 'vit', 'soft', 'hard']


def test_rerun_skips_finished_runs(runs):
    before = os.path.getmtime(os.path.join(runs, 'baseline', 'vit_s1', 'log.json'))
    r = study('baseline', '--smoke', '--seeds=2', f"--out_dir={runs}")
    assert r.returncode == 0 and r.stdout.count('skip ') == 2, r.stdout
    assert os.path.getmtime(os.path.join(runs, 'baseline', 'vit_s1', 'log.json')) == before


def train_flags():
    text = subprocess.run([sys.executable, os.path.join(ROOT, 'train.py'), '--help'], capture_output=True, text=True).stdout
    return set(re.findall(r'--(\w+)=', text))


def test_gpu_long_script_runs_every_variant_of_the_long_tier_once():
    """exps/gpu_long.sh names the long tier's variants group by group: a variant it forgets never runs on a GPU."""
    r = study('long', '--list', '--out_dir=/nonexistent', '--dataset=synthetic', '--val_size=100', '--seeds=0,')
    variants = [l.split()[0].rsplit('_s', 1)[0] for l in r.stdout.splitlines() if l.strip()]
    with open(os.path.join(EXPS, 'gpu_long.sh')) as f:
        groups = [g.split(',') for g in re.findall(r'--only=(\S+)', f.read())]
    named = [v for g in groups for v in g]
    assert sorted(named) == sorted(variants), (set(variants) ^ set(named))

def test_every_study_lists_a_valid_grid():
    known, fields = train_flags(), vit.config_fields()
    assert 'teacher' in known and 'mixup' in known  # the technique flags have landed
    for name in STUDIES:
        for mode in (['--smoke'], ['--dataset=synthetic', '--val_size=100']):  # the tiny grid and the real one
            r = study(name, '--list', '--out_dir=/nonexistent', *mode)
            assert r.returncode == 0, (name, r.stderr)
            lines = [l.split() for l in r.stdout.splitlines() if l.strip()]
            assert len(lines) == N_RUNS[name] and len({l[0] for l in lines}) == len(lines), (name, r.stdout)
            swept = set()
            for line in lines:
                flags = dict(a[2:].split('=', 1) for a in line[1:])
                assert set(flags) <= known, (name, set(flags) - known)
                assert flags['name'] == line[0] and flags['out_dir'] == f"/nonexistent/{name}"
                if flags.get('model', 'vit') == 'vit':  # would train.py build this ViT?
                    cfg = vit.ViTConfig(**{k: configurator.parse_value(k, v, fields[k]) for k, v in flags.items() if k in fields})
                    if mode == ['--smoke']:  # tiny: also run it forward (a broken variant fails here, not in a study)
                        with torch.no_grad():
                            out = vit.ViT(cfg).eval()(torch.randn(1, 3, 32, 32))
                        assert out.shape == (1, 10) and torch.isfinite(out).all(), (name, line[0])
                if name in SWEPT:
                    swept.add(flags.get(SWEPT[name][0], str(fields.get(SWEPT[name][0], 'vit'))))
            if name in SWEPT:
                assert SWEPT[name][1] <= swept, (name, swept)
    assert not os.path.exists('/nonexistent')


def test_distill_teacher_budget():
    """--teacher_time_limit gives the teacher alone a longer budget; without it the teacher gets the study's."""
    def minutes(*extra):
        r = study('distill', '--list', '--out_dir=/nonexistent', '--dataset=synthetic', '--time_limit=2', *extra)
        assert r.returncode == 0 and 'teacher_time_limit' not in r.stdout, r.stderr  # not a train.py flag
        return {l.split()[0]: re.findall(r'--time_limit=(\S+)', l) for l in r.stdout.splitlines() if l.strip()}
    assert minutes() == {n: ['2.0'] for n in ('teacher_resnet18_s0', 'vit_s0', 'soft_s0', 'hard_s0')}
    longer = minutes('--teacher_time_limit=10')
    assert longer['teacher_resnet18_s0'] == ['10'] and longer['vit_s0'] == longer['hard_s0'] == ['2.0']


FAKE_TRAIN = """
import json, os, sys
a = dict(x[2:].split('=', 1) for x in sys.argv[1:])
d = os.path.join(a['out_dir'], a['name']); os.makedirs(d, exist_ok=True)
open(os.path.join(d, 'calls.txt'), 'a').write(' '.join(sys.argv[1:]) + '\\n')
if a['name'].startswith('bad'): sys.exit(2)
status = 'diverged' if a['name'].startswith('div') else 'done'
json.dump({'name': a['name'], 'status': status, 'final': {}}, open(os.path.join(d, 'log.json'), 'w'))
sys.exit(3 if status == 'diverged' else 0)
"""


def load_common(tmp_path, monkeypatch, fake, *argv):
    spec = importlib.util.spec_from_file_location('exps_common', os.path.join(EXPS, 'common.py'))
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    (tmp_path / 'train.py').write_text(fake)
    monkeypatch.setattr(common, 'TRAIN', str(tmp_path / 'train.py'))
    monkeypatch.setattr(sys, 'argv', ['fake.py', f"--out_dir={tmp_path}", *argv])
    return common, common.parse('fake')


def test_runner_skips_resumes_and_continues_after_failure(tmp_path, monkeypatch, capsys):
    common, args = load_common(tmp_path, monkeypatch, FAKE_TRAIN, '--seeds=2', '--time_limit=5', '--lr=0.1')
    out = tmp_path / 'fake'
    (out / 'int_s0').mkdir(parents=True)  # an interrupted run with a checkpoint: resumed, not restarted
    (out / 'int_s0' / 'log.json').write_text(json.dumps({'name': 'int_s0', 'status': 'interrupted'}))
    (out / 'int_s0' / 'ckpt_last.pt').write_text('')
    grid = [('bad', {}), ('ok', dict(dim=8, lr=0.5)), ('div', {}), ('int', {})]
    results = common.run(args, grid)
    assert results == {'bad_s0': 'failed (exit 2)', 'ok_s0': 'done', 'div_s0': 'diverged', 'int_s0': 'done',
                       'bad_s1': 'failed (exit 2)', 'ok_s1': 'done', 'div_s1': 'diverged', 'int_s1': 'done'}
    call = (out / 'ok_s1' / 'calls.txt').read_text().split()
    assert {'--dim=8', '--lr=0.1', '--seed=1', '--time_limit=5.0', f"--out_dir={out}", '--name=ok_s1'} <= set(call)
    assert sum(a.startswith('--lr=') for a in call) == 1  # the command line beats the grid
    assert (out / 'int_s0' / 'calls.txt').read_text().split()[-1] == '--resume=True'
    assert common.run(args, grid) == results  # second pass: done and diverged are skipped, failures retried
    assert len((out / 'ok_s0' / 'calls.txt').read_text().splitlines()) == 1
    assert len((out / 'div_s1' / 'calls.txt').read_text().splitlines()) == 1
    assert len((out / 'bad_s0' / 'calls.txt').read_text().splitlines()) == 2
    with pytest.raises(SystemExit) as e:
        common.summarise(args, results)
    assert e.value.code == 1 and '2 failed (exit 2)' in capsys.readouterr().out


FAKE_PARALLEL = """
import glob, json, os, sys, time
a = dict(x[2:].split('=', 1) for x in sys.argv[1:])
d = os.path.join(a['out_dir'], a['name']); os.makedirs(d, exist_ok=True)
env = {k: os.environ.get(k) for k in ('CUDA_VISIBLE_DEVICES', 'OMP_NUM_THREADS')}
open(os.path.join(d, 'calls.txt'), 'a').write(json.dumps(env) + '\\n')
print('hello from', a['name'])
open(os.path.join(a['out_dir'], 'started_' + a['name']), 'w').close()
t0 = time.time()  # a barrier: the first two runs only finish once both have started, so one at a time never ends
while len(glob.glob(os.path.join(a['out_dir'], 'started_*'))) < 2:
    if time.time() - t0 > 60: sys.exit(4)
    time.sleep(0.05)
if a['name'].startswith('bad'): sys.exit(2)
json.dump({'name': a['name'], 'status': 'done', 'final': {'test_acc': 0.5}}, open(os.path.join(d, 'log.json'), 'w'))
"""


def test_parallel_runs_pinned_round_robin_with_own_output(tmp_path, monkeypatch, capsys):
    common, args = load_common(tmp_path, monkeypatch, FAKE_PARALLEL, '--seeds=2', '--parallel=2', '--devices=7,9')
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)  # a GPU run leaves the thread count alone: the user's would show
    grid = [('bad', {}), ('ok', {}), ('more', {})]
    results = common.run(args, grid)  # sequentially the first run would wait for a second one forever (exit 4)
    assert results == {'bad_s0': 'failed (exit 2)', 'ok_s0': 'done', 'more_s0': 'done',
                       'bad_s1': 'failed (exit 2)', 'ok_s1': 'done', 'more_s1': 'done'}
    assert list(results) == ['bad_s0', 'ok_s0', 'more_s0', 'bad_s1', 'ok_s1', 'more_s1']  # the grid's order
    out = tmp_path / 'fake'
    calls = {n: [json.loads(l) for l in (out / n / 'calls.txt').read_text().splitlines()] for n in results}
    assert {calls['bad_s0'][0]['CUDA_VISIBLE_DEVICES'], calls['ok_s0'][0]['CUDA_VISIBLE_DEVICES']} == {'7', '9'}
    assert all(c[0]['CUDA_VISIBLE_DEVICES'] in ('7', '9') and c[0]['OMP_NUM_THREADS'] is None for c in calls.values())
    train_out = (out / 'ok_s1' / 'train.out').read_text()  # the run's own output, not the terminal's
    assert train_out.startswith('=== ') and '--name=ok_s1' in train_out and 'hello from ok_s1' in train_out
    printed = capsys.readouterr().out
    assert 'hello from' not in printed
    finished = [l for l in printed.splitlines() if l.startswith('[')]
    assert len(finished) == 6 and sorted(l.split()[0] for l in finished) == sorted(f"[{i}/6]" for i in range(1, 7))
    assert any('fake/ok_s0: done, test acc 0.5000' in l and ', GPU ' in l for l in finished)
    # second pass: finished runs are skipped, failed ones retried, their output appended to the same file
    assert common.run(args, grid) == results
    assert len(calls['ok_s0']) == 1 and len((out / 'bad_s0' / 'calls.txt').read_text().splitlines()) == 2
    assert (out / 'bad_s0' / 'train.out').read_text().count('=== ') == 2


def test_parallel_on_the_cpu_splits_the_threads(tmp_path, monkeypatch):
    common, args = load_common(tmp_path, monkeypatch, FAKE_PARALLEL, '--parallel=2')
    devices = common.devices
    monkeypatch.setattr(common, 'devices', lambda args: [])  # as on a machine without GPUs
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    assert common.run(args, [('a', {}), ('b', {})]) == {'a_s0': 'done', 'b_s0': 'done'}
    env = json.loads((tmp_path / 'fake' / 'a_s0' / 'calls.txt').read_text())
    assert env['OMP_NUM_THREADS'] == str(max(1, os.cpu_count() // 2)) and env['CUDA_VISIBLE_DEVICES'] == os.environ.get('CUDA_VISIBLE_DEVICES')
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '3,5')  # --parallel without --devices: the visible GPUs
    assert devices(args) == ['3', '5']


def check_figures(paths):
    stems = {os.path.splitext(p)[0] for p in paths}
    assert paths and len(paths) == 2 * len(stems)
    for stem in stems:
        assert open(stem + '.png', 'rb').read(8) == b'\x89PNG\r\n\x1a\n' and os.path.getsize(stem + '.png') > 5000
        assert open(stem + '.pdf', 'rb').read(5) == b'%PDF-' and os.path.getsize(stem + '.pdf') > 1000
    return {os.path.basename(s) for s in stems}


def test_report_runs_every_plot_and_links_only_existing_figures(runs, tmp_path):
    path = report.main(runs, str(tmp_path / 'report'))
    fig_dir = tmp_path / 'report' / 'figures'
    stems = check_figures([str(p) for p in fig_dir.iterdir()])
    assert stems == {'curves_baseline', 'curves_distill', 'ablation_baseline', 'ablation_distill', 'pca_features',
                     'pca_patch_tokens', 'attention_maps', 'attention_distance'}
    text = open(path).read()
    links = re.findall(r'\]\((figures/[^)]+)\)', text)
    assert len(links) == 2 * len(stems) and all(os.path.exists(tmp_path / 'report' / l) for l in links)
    for s in ('baseline', 'distill'):
        assert os.path.getsize(tmp_path / 'report' / 'tables' / f"{s}.tex") > 0 and f"## {s}" in text
    # only logs, no checkpoints: no analysis figures, and none linked (a stale file on disk stays unlinked)
    logs_only = tmp_path / 'logs_only'
    shutil.copytree(os.path.join(runs, 'baseline'), logs_only / 'baseline', ignore=shutil.ignore_patterns('*.pt'))
    text = open(report.main(str(logs_only), str(tmp_path / 'report'))).read()
    links = re.findall(r'\]\((figures/[^)]+)\)', text)
    assert links and not any('pca' in l or 'attention' in l or 'distill' in l for l in links)


def test_slides_analysis_pages_from_checkpoints(runs, tmp_path):
    pages = {p['title']: p for p in slides.appendix(runs, str(tmp_path / 'slides.pdf'))}
    pca_page, attn_page = pages['PCA of features: ViT vs ResNet'], pages['Attention: how far each head looks']
    assert not pca_page['missing'] and not attn_page['missing'], (pca_page, attn_page)
    assert re.fullmatch(r'class separation of pooled test features: (ViT|ResNet) 0\.\d\d vs (ViT|ResNet) 0\.\d\d .*', pca_page['finding'])
    assert re.search(r'mean attention distance \d+\.\d px in its one layer', attn_page['finding'])  # smoke ViT: 1 block
    assert not pages['Baseline ViT']['missing'] and pages['Baseline ViT']['finding'].startswith('vit: val ')


def test_table_mean_and_std_over_seeds(runs, tmp_path):
    md = table.main(runs, str(tmp_path))['baseline']
    accs = [json.load(open(os.path.join(runs, 'baseline', f"vit_s{s}", 'log.json')))['final']['test_acc'] for s in (0, 1)]
    row = next(l for l in md.splitlines() if l.startswith('| vit '))
    assert f"{100 * np.mean(accs):.2f} ± {100 * np.std(accs, ddof=1):.2f}" in row and '| 2/2 |' in row


def test_colours_one_per_variant_across_studies(runs):
    runs_ = analysis.load_runs(runs)
    colour = style.colours(runs_)
    assert len(set(colour.values())) == len(colour) == len({r['variant'] for r in runs_})  # 'vit' in both studies: one colour


def test_analysis_images_are_a_mix_of_classes(runs):
    config = json.load(open(os.path.join(runs, 'baseline', 'vit_s0', 'log.json')))['config']
    x, y, raw, classes = analysis.test_images(config, 50)
    assert x.shape == (50, 3, 32, 32) and x.dtype == torch.float32 and raw.dtype == torch.uint8
    assert len(set(y.tolist())) >= 5 and len(classes) == 10  # not the first class only (sorted test sets)


def test_pca_sorted_by_explained_variance():
    g = np.random.default_rng(0)
    X = g.normal(size=(500, 6)) * np.array([5, 0.5, 3, 1, 0.1, 2])  # variances 25, 9, 4, 1, .25, .01
    proj, ratio = pca.pca(X, 3)
    assert np.all(np.diff(ratio) <= 0) and ratio.sum() <= 1 + 1e-9
    assert np.allclose(ratio, np.array([25, 9, 4]) / 39.26, atol=0.03)
    assert np.all(np.diff(proj.var(0)) <= 0)
    assert pca.pca(X, 6)[1].sum() == pytest.approx(1.0)


def test_attention_distance_compares_checkpoints(runs, tmp_path, monkeypatch, capsys):
    """--ckpt=A,B: the maps of A, the distances of both on one axis, one mean line and one finding per model,
    and each model's plotted per-layer means printed, to quote."""
    ckpts = sorted(glob.glob(os.path.join(runs, 'baseline', '*', 'ckpt_best.pt')))[:2]
    assert len(ckpts) == 2, ckpts
    names = [os.path.basename(os.path.dirname(c)) for c in ckpts]
    saved, found = {}, {}
    monkeypatch.setattr(style, 'save', lambda fig, out_dir, stem: saved.update({stem: fig}) or [stem])
    assert attention.main(runs, str(tmp_path), ','.join(ckpts), found=found) == ['attention_maps', 'attention_distance']
    ax = saved['attention_distance'].axes[0]
    means = [l.get_label() for l in ax.get_lines() if not l.get_label().startswith('uniform')]
    assert [re.sub(r' \((linear|conv|overlap|resnet18) patch embedding\)$', '', m) for m in means] == names, means
    assert [f.split(':')[0] for f in found['finding'].split('; ')[:2]] == names, found
    assert saved['attention_distance']._suptitle.get_text().endswith(f"{names[0]} vs {names[1]}")
    printed = [l for l in capsys.readouterr().out.splitlines() if 'mean attention distance per layer' in l]
    plotted = [l.get_ydata() for l in ax.get_lines() if not l.get_label().startswith('uniform')]
    assert [l.split(':')[0] for l in printed] == names, printed
    for line, y in zip(printed, plotted):
        assert f"per layer {', '.join(f'{v:.1f}' for v in y)} px" in line, (line, y)


def test_attention_distance_and_maps():
    cfg = vit.ViTConfig(img_size=16, patch_size=4, dim=32, depth=2, heads=2)
    T, n = cfg.n_prefix + cfg.grid ** 2, cfg.grid ** 2
    self_only = torch.eye(T).expand(1, 2, T, T)
    assert torch.allclose(attention.mean_distance(self_only, cfg), torch.zeros(2))
    uniform = torch.full((1, 2, T, T), 1.0 / T)
    rc = torch.tensor([(i // 4, i % 4) for i in range(n)], dtype=torch.float)
    expected = (torch.cdist(rc, rc) * 4).mean()
    assert torch.allclose(attention.mean_distance(uniform, cfg), expected.expand(2), atol=1e-5)
    maps = attention.attention_maps(vit.ViT(cfg), torch.randn(3, 3, 16, 16))
    assert len(maps) == 2 and maps[0].shape == (3, 2, T, T)
    assert torch.allclose(maps[1].sum(-1), torch.ones(3, 2, T), atol=1e-5)


def test_best_combination_is_chosen_on_validation(tmp_path):
    """exps/best.py --pick_from: per technique study the best mean val variant's swept flags; norm's high-lr
    stability runs are never candidates; a study with no logs adds nothing."""
    from test_slides import fake_log
    fake = [('ffn', 'gelu', dict(ffn='gelu'), [(0.50, 0.70), (0.52, 0.70)]),  # gelu wins on test only
            ('ffn', 'swiglu', dict(ffn='swiglu'), [(0.55, 0.40), (0.57, 0.40)]),
            ('norm', 'layernorm', dict(norm='layernorm', qk_norm=False), [(0.60, 0.5)]),
            ('norm', 'rmsnorm_qknorm', dict(norm='rmsnorm', qk_norm=True), [(0.58, 0.5)]),
            ('norm', 'rmsnorm_qknorm_highlr', dict(norm='rmsnorm', qk_norm=True, lr=1e-2), [(0.90, 0.9)])]
    for s, variant, flags, seeds in fake:
        (tmp_path / s).mkdir(exist_ok=True)
        for seed, (val, test) in enumerate(seeds):
            (tmp_path / s / f"{variant}_s{seed}.json").write_text(json.dumps(fake_log(f"{variant}_s{seed}", flags, seed, val, test)))
    r = study('best', '--smoke', '--list', '--out_dir=/nonexistent', f"--pick_from={tmp_path}")
    assert r.returncode == 0, r.stderr
    assert 'ffn: swiglu (val 56.00%, 2 seeds) -> ffn=swiglu' in r.stdout
    assert 'norm: layernorm (val 60.00%, 1 seed) -> norm=layernorm, qk_norm=False' in r.stdout
    assert f"pos_emb: no finished runs under {tmp_path}" in r.stdout
    best = next(l.split()[1:] for l in r.stdout.splitlines() if l.startswith('best_s0 '))
    assert {'--ffn=swiglu', '--norm=layernorm', '--qk_norm=False'} <= set(best) and not any(a.startswith('--lr=') for a in best)
