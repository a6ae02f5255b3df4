"""The benchmark runs in its tiny mode and writes a JSON whose numbers are consistent
(a smoke test of the tool, not a timed test of the model)."""
import json
import statistics
import os
import subprocess
import sys

import pytest

import techniques
from models import count_params, flops_per_image
from vit import PRESETS, ViT, ViTConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, 'bench.py')


def bench(tmp_path, *flags):
    out = tmp_path / 'bench.json'
    res = subprocess.run([sys.executable, BENCH, '--tiny=True', f'--out={out}', *flags], capture_output=True, text=True, cwd=tmp_path)
    return res, (json.loads(out.read_text()) if out.exists() else None)


def test_tiny_bench_writes_consistent_json(tmp_path):
    res, result = bench(tmp_path, '--pos_emb=rope2d', '--dtypes=float32,bfloat16')  # bf16 even where emulated
    assert res.returncode == 0, res.stderr
    model = ViT(ViTConfig(dim=32, depth=1, heads=2, pos_emb='rope2d'))
    assert result['params'] == count_params(model)
    assert result['flops_per_image'] == flops_per_image(model, (3, 32, 32))
    # forward + backward: the backward costs about twice the forward (the input needs no gradient)
    assert 2.2 < result['step_flops_per_image'] / result['flops_per_image'] < 3.1
    rows = result['results']
    assert [(r['mode'], r['dtype'], r['impl']) for r in rows] == [('eager', 'float32', 'ours'), ('eager', 'bfloat16', 'ours')]
    for r in rows:
        assert r['train_img_s'] > 0 and r['eval_img_s'] > 0 and r['peak_mem_mb'] > 0 and r['compile_s'] == 0
        limit = result['matmul_gflops'][r['dtype']] * 1e9 / result['step_flops_per_image']
        assert r['limit_img_s'] == pytest.approx(limit) and r['fraction_of_limit'] == pytest.approx(r['train_img_s'] / limit)
    assert 'eager' in res.stdout and 'of limit' in res.stdout


def test_a_recipe_gives_the_model_and_batch_and_fill_benches_a_preset(tmp_path):
    """A recipe gives the model and batch, its training flags skipped. --fill (on by default on CUDA: ViT-Base)
    benches a preset at fill_batch in a child, the preset's shape over the recipe's; on the CPU only when asked.
    (One bench for both: each is a few seconds of interpreter start-up.)"""
    recipe = tmp_path / 'recipe.py'
    recipe.write_text("dim = 48\nheads = 3\nbatch_size = 4\nlr = 2e-3\nwarmup_epochs = 3\naugment = 'trivialaugment'\n")
    res, result = bench(tmp_path, str(recipe), '--modes=eager', '--dtypes=float32', '--fill=minivit', '--fill_batch=4')
    assert res.returncode == 0, res.stderr
    assert result['params'] == count_params(ViT(ViTConfig(dim=48, depth=1, heads=3)))  # the recipe's shape over --tiny's
    assert result['config']['batch_size'] == 4 and result['config']['dim'] == 48
    assert result['gpu'] is None and 'mfu' not in result['results'][0]
    fill = result['fill']
    assert (fill['config']['dim'], fill['config']['depth'], fill['config']['heads'], fill['config']['batch_size']) == (96, 9, 12, 4)
    assert fill['params'] == count_params(ViT(ViTConfig(**PRESETS['minivit']))) and 'fill' not in fill
    assert '--fill: minivit preset at batch 4' in res.stdout
    recipe.write_text("dim = 48\nlearning_rate = 1e-3\n")  # train.py has no such flag either: still an error
    res, _ = bench(tmp_path, str(recipe))
    assert res.returncode != 0 and 'unknown flag --learning_rate' in res.stderr


def test_dtypes_auto_times_bf16_only_where_it_is_native(tmp_path):
    """Emulated bf16 (an AVX2 CPU) is ~11x slower than float32: the default leaves it out there."""
    res, result = bench(tmp_path, '--dim=16', '--heads=1')
    assert res.returncode == 0, res.stderr
    native = techniques.native_bf16('cpu')
    assert [r['dtype'] for r in result['results']] == ['float32'] + ['bfloat16'] * native


def test_data_only_mode(tmp_path):
    res, result = bench(tmp_path, '--data_only=True', '--cutmix=1.0', '--erasing=0.5', '--workers=0')
    assert res.returncode == 0, res.stderr
    assert result['data']['img_s'] > 0 and result['data']['cutmix'] == 1.0
    assert result['data']['img_s'] == pytest.approx(8 * result['data']['batches_per_s'])


def test_bad_flag_names_it(tmp_path):
    res, result = bench(tmp_path, '--modez=eager')
    assert res.returncode != 0 and result is None
    assert 'modez' in res.stderr and 'modes' in res.stderr and 'Traceback' not in res.stderr


def test_phases_per_variant_and_their_plot(tmp_path):
    """--phases: one row per variant x dtype whose phases are positive and add up to about the step, each
    variant really built with its flags; plots/phases.py stacks exactly those phases."""
    res, result = bench(tmp_path, '--phases=True', '--dtypes=float32,bfloat16')
    assert res.returncode == 0, res.stderr
    rows = result['results']
    assert [(r['variant'], r['dtype']) for r in rows] == [(v, d) for v in ('mha', 'mla', 'qk_norm', 'rope2d')
                                                          for d in ('float32', 'bfloat16')]
    tiny = dict(dim=32, depth=1, heads=2)
    flags = dict(mha={}, mla=dict(attn='mla', kv_rank=10), qk_norm=dict(qk_norm=True), rope2d=dict(pos_emb='rope2d'))
    for r in rows:
        assert r['flags'] == flags[r['variant']] and r['params'] == count_params(ViT(ViTConfig(**tiny, **r['flags'])))
        parts = [r[k] for k in ('data_ms', 'forward_ms', 'backward_ms', 'optimizer_ms')]
        assert all(p > 0 for p in parts)
        # every timed step's phases add up to its time (no phase counted twice or left out); the medians of the
        # parts need not add up to the median of the sums (a slow moment can hit a different phase in each step)
        assert len(r['per_step_ms']) == 3
        for *step_parts, total in r['per_step_ms']:
            assert sum(step_parts) == pytest.approx(total, rel=1e-9)
        assert r['step_ms'] == statistics.median(s[-1] for s in r['per_step_ms'])
        assert r['img_s'] == pytest.approx(8 / r['step_ms'] * 1e3)
    assert len({r['params'] for r in rows}) == 4
    sys.path.insert(0, os.path.join(ROOT, 'plots'))
    import phases
    fig = phases.figure(result)
    for ax, dtype in zip(fig.axes, ('float32', 'bfloat16')):
        sel = [r for r in rows if r['dtype'] == dtype]
        heights = [p.get_height() for p in ax.patches]
        bottoms = [p.get_y() for p in ax.patches]
        want = [r[k] for k, _ in phases.PHASES for r in sel]  # phase by phase, a bar per variant
        assert heights == pytest.approx(want)
        tops = [b + h for b, h in zip(bottoms, heights)][-len(sel):]  # the optimizer's bars end at the sum
        assert tops == pytest.approx([sum(r[k] for k, _ in phases.PHASES) for r in sel])
    res, _ = bench(tmp_path, '--phases=True', '--variants=mha,gqa')
    assert res.returncode != 0 and 'gqa' in res.stderr and 'Traceback' not in res.stderr
