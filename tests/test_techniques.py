"""Training techniques: augment policies, random erasing, mixup/cutmix, repeated augmentation, Lion, EMA,
distillation losses, and a two-step train.py run with each technique."""
import json
import math
import multiprocessing
import os
import random

import pytest
import torch
import torch.nn.functional as F

import conftest
import data
import models
import techniques

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ['--dataset=synthetic', '--val_size=100', '--batch_size=16', '--max_steps=2', '--dim=32', '--depth=1', '--heads=2']


def run_train(*args):
    return conftest.run_train(*TINY, *args)  # in this process: no interpreter start-up per run


@pytest.mark.parametrize('name', ['autoaugment', 'randaugment', 'trivialaugment'])
def test_policy_keeps_shape_dtype_and_draws_per_image(name):
    image = data.synthetic(n_train=10, n_test=1)['train_x'][:1]
    x = image.repeat(64, 1, 1, 1)  # 64 copies of one image: a per-image policy gives many different results
    batches = data.PolicyBatches(x, torch.arange(64), data.make_policy(name))
    out, y = batches[(123, torch.arange(64))]
    assert out.shape == x.shape and out.dtype == torch.uint8 and torch.equal(y, torch.arange(64))
    changed = [not torch.equal(o, image[0]) for o in out]
    assert sum(changed) >= 16, f"{name} left {64 - sum(changed)} of 64 images unchanged"
    assert len({o.numpy().tobytes() for o in out}) >= 8  # not one op for the whole batch
    assert torch.equal(batches[(123, torch.arange(64))][0], out)  # the per-batch seed fixes the draw
    assert not torch.equal(batches[(124, torch.arange(64))][0], out)


def test_color_jitter_strength_and_per_image_draws():
    assert data.make_policy('none', 0.0) is None
    steps = data.make_policy('autoaugment', 0.4).transforms  # the policy first, then the jitter
    assert [type(t).__name__ for t in steps] == ['AutoAugment', 'ColorJitter']
    jitter = steps[1]
    assert jitter.brightness == jitter.contrast == jitter.saturation == pytest.approx((0.6, 1.4))
    assert jitter.hue == pytest.approx((-0.1, 0.1))
    image = data.synthetic(n_train=10, n_test=1)['train_x'][:1]
    x = image.repeat(64, 1, 1, 1)
    for s in (0.1, 0.4):
        out, _ = data.PolicyBatches(x, torch.arange(64), data.make_policy('none', s))[(5, torch.arange(64))]
        assert len({o.numpy().tobytes() for o in out}) == 64  # a draw per image
        # brightness scales the mean by a factor in [1 - s, 1 + s]; contrast and saturation keep it, hue and
        # clipping move it a little: the means spread over more than s, and stay within 1.5 s
        ratio = out.float().mean((1, 2, 3)) / image.float().mean()
        assert ratio.max() - ratio.min() > s and ((ratio - 1).abs() < 1.5 * s).all(), (s, ratio.min(), ratio.max())
    ds = data.synthetic(n_train=64, n_test=1)
    mean, std = data.channel_stats(ds['train_x'])
    batches = [[x for x, _ in data.Loader(ds['train_x'], ds['train_y'], 16, 'cpu', mean, std, train=True, crop_flip=False,
                                          workers=0, color_jitter=cj)] for cj in (0.4, 0.4, 0.0)]
    assert all(torch.equal(a, b) for a, b in zip(batches[0], batches[1]))  # seeded: a run is reproducible
    assert not any(torch.equal(a, c) for a, c in zip(batches[0], batches[2]))  # without an augment policy too


def test_loader_with_policy_in_worker_yields_normalised_batches():
    ds = data.synthetic(n_train=64, n_test=1)
    mean, std = data.channel_stats(ds['train_x'])
    kwargs = dict(train=True, augment='autoaugment', erasing=0.5, cutmix=1.0, crop_flip=False)
    plain = data.Loader(ds['train_x'], ds['train_y'], 16, 'cpu', mean, std, train=True, crop_flip=False)
    loader = data.Loader(ds['train_x'], ds['train_y'], 16, 'cpu', mean, std, workers=1, **kwargs)
    batches = list(loader)
    assert len(batches) == 4
    for x, y in batches:
        assert x.shape == (16, 3, 32, 32) and x.dtype == torch.float32
        assert y.shape == (16, 10) and torch.allclose(y.sum(1), torch.ones(16))
    # same seed, same order: the augmented epoch differs from the plain one
    assert not torch.equal(torch.cat([x for x, _ in batches]), torch.cat([x for x, _ in plain]))
    # one worker process or none: the same augmented images (per-batch seeds); erasing/mixing use the torch RNG
    torch.manual_seed(0)
    a = [x for x, _ in data.Loader(ds['train_x'], ds['train_y'], 16, 'cpu', mean, std, workers=1, train=True, augment='autoaugment')]
    torch.manual_seed(0)
    b = [x for x, _ in data.Loader(ds['train_x'], ds['train_y'], 16, 'cpu', mean, std, workers=0, train=True, augment='autoaugment')]
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    rate_batches, rate_images = data.measure_rate(loader, n_batches=3, warmup=1)
    assert rate_images == pytest.approx(16 * rate_batches) and rate_batches > 0


def test_random_erasing_fills_one_rectangle_per_image():
    torch.manual_seed(0)
    x = torch.zeros(200, 3, 32, 32)
    out = data.random_erasing(x, p=1.0)
    assert out.shape == x.shape
    fractions = []
    for o in out:
        changed = (o != 0).any(0)
        rows, cols = changed.any(1).nonzero(), changed.any(0).nonzero()
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert changed.sum() == box  # the erased pixels form one full rectangle
        assert torch.equal(changed, torch.zeros_like(changed).index_fill(0, rows[:, 0], True) & torch.zeros_like(changed).index_fill(1, cols[:, 0], True))
        fractions.append(changed.float().mean().item())
    assert 0.01 < min(fractions) and max(fractions) < 0.45  # area 2%-33% of the image, up to rounding and clipping
    assert torch.equal(data.random_erasing(x, p=0.0), x)
    half = data.random_erasing(x, p=0.5)
    assert 60 < (half != 0).flatten(1).any(1).sum() < 140


def test_mixup_targets_sum_to_one_and_match_lambda():
    x = torch.randn(8, 3, 4, 4)
    y = F.one_hot(torch.arange(8), 8).float()
    out, t = data.mixup(x, y, 0.3)
    torch.testing.assert_close(out, 0.3 * x + 0.7 * x.flip(0))
    torch.testing.assert_close(t.sum(1), torch.ones(8))
    assert torch.allclose(t[0, 0], torch.tensor(0.3)) and torch.allclose(t[0, 7], torch.tensor(0.7))


@pytest.mark.parametrize('lam', [0.1, 0.5, 0.9])
def test_cutmix_targets_match_the_pasted_area(lam):
    x = torch.arange(8.0)[:, None, None, None].expand(8, 3, 16, 16)  # image i is the constant i
    y = F.one_hot(torch.arange(8), 8).float()
    for seed in range(20):
        out, t = data.cutmix(x, y, lam, random.Random(seed))
        torch.testing.assert_close(t.sum(1), torch.ones(8))
        for i in range(8):
            pasted = (out[i] == 7 - i).float().mean()  # pixels that came from the partner (reversed batch)
            assert torch.allclose(t[i, 7 - i], pasted) and torch.allclose(t[i, i], 1 - pasted)
            assert ((out[i] == i) | (out[i] == 7 - i)).all()
    assert 0 < t[0, 7] < 1


def test_mix_switches_per_batch_and_respects_mix_prob(monkeypatch):
    calls = []
    monkeypatch.setattr(data, 'mixup', lambda x, y, lam: calls.append('mixup') or (x, y))
    monkeypatch.setattr(data, 'cutmix', lambda x, y, lam, rng: calls.append('cutmix') or (x, y))
    x, y = torch.zeros(4, 3, 8, 8), torch.eye(4)
    loader = data.Loader(x.to(torch.uint8), torch.arange(4), 4, 'cpu', torch.zeros(3), torch.ones(3), train=True,
                         mixup=0.8, cutmix=1.0, mix_prob=0.5, mix_switch_prob=0.5)
    rng = random.Random(0)
    for _ in range(1000):
        loader.mix(x, y, rng)
    assert 400 < len(calls) < 600  # mix_prob
    assert 0.4 < calls.count('cutmix') / len(calls) < 0.6  # mix_switch_prob
    calls.clear()
    loader.mixup, loader.mix_prob = 0.0, 1.0
    for _ in range(50):
        loader.mix(x, y, rng)
    assert calls == ['cutmix'] * 50


def test_repeat_aug_yields_each_index_k_times_per_epoch():
    g = torch.Generator().manual_seed(0)
    for k in (1, 2, 3):
        order = data.epoch_order(24, k, g)
        assert len(order) == 24
        counts = torch.bincount(order, minlength=24)
        assert set(counts.tolist()) == ({0, k} if k > 1 else {1}) and (counts == k).sum() == 24 // k
        assert (order.view(-1, k) == order.view(-1, k)[:, :1]).all()  # the k copies are adjacent (same batch)
    # through the Loader: labels are the image ids, so they count the images of an epoch
    loader = data.Loader(torch.zeros(24, 3, 8, 8, dtype=torch.uint8), torch.arange(24), 6, 'cpu', torch.zeros(3),
                         torch.ones(3), train=True, repeat_aug=3)
    for _ in range(2):
        seen = torch.cat([y for _, y in loader])
        assert len(seen) == 24 and set(torch.bincount(seen, minlength=24).tolist()) == {0, 3}


def test_lion_step_equals_hand_computed_update():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = techniques.Lion([p], lr=0.1, betas=(0.9, 0.99), weight_decay=0.5)
    p.grad = torch.tensor([0.3, -0.2, 0.0])
    opt.step()
    # m0 = 0: update = sign(0.1 * g) = (1, -1, 0); p = p * (1 - 0.1 * 0.5) - 0.1 * update; m = 0.01 * g
    torch.testing.assert_close(p.data, torch.tensor([1.0 * 0.95 - 0.1, -2.0 * 0.95 + 0.1, 0.5 * 0.95]))
    torch.testing.assert_close(opt.state[p]['exp_avg'], torch.tensor([0.003, -0.002, 0.0]))
    p.grad = torch.tensor([-0.001, 1.0, -0.1])
    before = p.data.clone()
    opt.step()
    # c = 0.9 * m + 0.1 * g = (0.0026, 0.0982, -0.01): the momentum keeps the first sign positive
    torch.testing.assert_close(p.data, before * 0.95 - 0.1 * torch.tensor([1.0, 1.0, -1.0]))
    torch.testing.assert_close(opt.state[p]['exp_avg'], 0.99 * torch.tensor([0.003, -0.002, 0.0]) + 0.01 * p.grad)


def test_optimizers_decay_only_matrices():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    for name, cls in [('adamw', torch.optim.AdamW), ('lion', techniques.Lion), ('sgd', torch.optim.SGD)]:
        opt = techniques.build_optimizer(name, net, 1e-3, 0.05)
        assert type(opt) is cls
        assert [g['weight_decay'] for g in opt.param_groups] == [0.05, 0.0]
        assert [len(g['params']) for g in opt.param_groups] == [1, 3]
    assert opt.defaults['nesterov'] and opt.defaults['momentum'] == 0.9


def test_ema_update_equals_its_formula():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    ema = techniques.make_ema(net)
    old = {k: v.clone() for k, v in ema.state_dict().items()}
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    net(torch.randn(8, 3))  # moves the BatchNorm statistics
    for step, d in [(1000, 0.99), (0, 0.1)]:  # warm-up: d = min(decay, (1 + step) / (10 + step))
        techniques.ema_update(ema, net, 0.99, step)
        new = ema.state_dict()
        for k, v in net.state_dict().items():
            if v.is_floating_point():
                torch.testing.assert_close(new[k], d * old[k] + (1 - d) * v)
            else:
                assert torch.equal(new[k], v)
        old = {k: v.clone() for k, v in new.items()}
    assert not any(p.requires_grad for p in ema.parameters()) and not ema.training


def test_soft_distillation_loss_equals_formula():
    s = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    t = torch.tensor([[1.0, 1.5, -0.5], [2.0, -1.0, 0.5]])
    y = torch.tensor([0, 2])
    tau, alpha = 2.0, 0.3
    ps, pt = torch.softmax(s / tau, 1), torch.softmax(t / tau, 1)
    kl = (pt * (pt.log() - ps.log())).sum(1).mean() * tau ** 2
    torch.testing.assert_close(techniques.soft_distill_loss(s, t, tau), kl)
    ce = -torch.log_softmax(s, 1)[torch.arange(2), y].mean()
    torch.testing.assert_close(techniques.train_loss(s, y, 0.0, t, 'soft', alpha, tau), (1 - alpha) * ce + alpha * kl)
    # with a distillation token the KD term is on the second head
    d = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    kl_d = techniques.soft_distill_loss(d, t, tau)
    assert not torch.allclose(kl_d, kl)
    torch.testing.assert_close(techniques.train_loss(s, y, 0.0, t, 'soft', alpha, tau, dist_logits=d), (1 - alpha) * ce + alpha * kl_d)


def test_hard_distillation_loss_equals_formula():
    cls = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    dist = torch.tensor([[0.2, 0.1, 0.4], [1.0, -2.0, 0.0]])
    t = torch.tensor([[1.0, 1.5, -0.5], [2.0, -1.0, 0.5]])  # teacher argmax: 1, 0
    y = torch.tensor([0, 2])
    ce_cls = -torch.log_softmax(cls, 1)[torch.arange(2), y].mean()
    ce_dist = -torch.log_softmax(dist, 1)[torch.arange(2), torch.tensor([1, 0])].mean()
    torch.testing.assert_close(techniques.train_loss(cls, y, 0.0, t, 'hard', 0.5, dist_logits=dist), 0.5 * ce_cls + 0.5 * ce_dist)
    # no distillation, a distillation token: both heads learn the labels
    ce_dist_y = -torch.log_softmax(dist, 1)[torch.arange(2), y].mean()
    torch.testing.assert_close(techniques.train_loss(cls, y, 0.0, dist_logits=dist), (ce_cls + ce_dist_y) / 2)


def test_label_smoothing_with_soft_targets_matches_timm():
    # timm smooths each one-hot (off = s / C, on = 1 - s + off) before mixing; train.py gives the mixed
    # targets to cross_entropy(label_smoothing=s): the same loss
    logits = torch.randn(4, 5)
    a, b, lam, s = torch.tensor([0, 1, 2, 3]), torch.tensor([4, 3, 2, 1]), 0.7, 0.1
    smooth = lambda idx: F.one_hot(idx, 5).float() * (1 - s) + s / 5
    timm = -(((lam * smooth(a) + (1 - lam) * smooth(b))) * torch.log_softmax(logits, 1)).sum(1).mean()
    mixed = lam * F.one_hot(a, 5).float() + (1 - lam) * F.one_hot(b, 5).float()
    torch.testing.assert_close(techniques.train_loss(logits, mixed, s), timm)


def test_teacher_that_does_not_fit_the_data_is_named(tmp_path):
    config = dict(model='vit', num_classes=5, img_size=32, in_chans=3, dim=32, depth=1, heads=2)
    path = str(tmp_path / 'teacher.pt')
    torch.save({'model': models.build_model(config).state_dict(), 'config': config}, path)
    with pytest.raises(ValueError, match=r'teacher\.pt.*num_classes=5.*num_classes=10'):
        techniques.load_teacher(path, 'cpu', 10, 32, 3)
    teacher = techniques.load_teacher(path, 'cpu', 5, 32, 3)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())


def check_done(out_dir, name):
    with open(os.path.join(out_dir, name, 'log.json')) as f:
        log = json.load(f)
    assert log['status'] == 'done', log
    assert math.isfinite(log['history'][-1]['train_loss'])
    return log


@pytest.mark.parametrize('flags', [
    ['--augment=autoaugment', '--color_jitter=0.4', '--erasing=0.25', '--mixup=0.8', '--cutmix=1.0', '--repeat_aug=2'],
    ['--augment=randaugment', '--workers=0', '--cutmix=1.0', '--optimizer=sgd', '--weight_decay=5e-4'],
    ['--augment=trivialaugment', '--mixup=0.2', '--optimizer=lion', '--lr=1e-4'],
    ['--ema=0.99', '--dist_token=True'],
])
def test_two_step_run_with_techniques(tmp_path, flags):
    r = run_train(f'--out_dir={tmp_path}', '--name=t', *flags)
    assert r.returncode == 0, r.stderr[-2000:]
    log = check_done(tmp_path, 't')
    for f in flags:
        name, value = f[2:].split('=')
        assert str(log['config'][name]) == value or log['config'][name] == float(value)
    if '--ema=0.99' in flags:
        assert {'ema_val_acc', 'ema_val_loss'} <= log['history'][0].keys()
        ckpt = torch.load(tmp_path / 't' / 'ckpt_last.pt', weights_only=False)
        assert ckpt['ema'] is not None and ckpt['weights'] == 'raw'  # ckpt_last keeps the raw weights for resume
        assert log['final']['test_weights'] in ('ema', 'raw')


def test_a_run_stops_its_policy_workers(tmp_path):
    """The policy's DataLoader workers end with the run (data.Loader.close), not at some later garbage collection,
    where each worker's join waited out torch's 5 s timeout (10 s at the next in-process run)."""
    before = set(multiprocessing.active_children())
    r = run_train(f'--out_dir={tmp_path}', '--name=t', '--augment=trivialaugment', '--workers=2')
    assert r.returncode == 0, r.stderr[-2000:]
    assert set(multiprocessing.active_children()) <= before


def test_distillation_runs_and_bad_combinations_stop(tmp_path):
    r = run_train(f'--out_dir={tmp_path}', '--name=teacher')
    assert r.returncode == 0, r.stderr[-2000:]
    teacher = str(tmp_path / 'teacher' / 'ckpt_best.pt')
    for name, flags in [('soft', ['--distill=soft', '--distill_tau=2.0']),
                        ('hard', ['--distill=hard', '--dist_token=True'])]:
        r = run_train(f'--out_dir={tmp_path}', f'--name={name}', f'--teacher={teacher}', *flags)
        assert r.returncode == 0, r.stderr[-2000:]
        check_done(tmp_path, name)
    r = run_train(f'--out_dir={tmp_path}', '--name=bad', f'--teacher={teacher}', '--distill=hard')
    assert r.returncode == 2 and 'dist_token=True' in r.stderr and 'Traceback' not in r.stderr
    r = run_train(f'--out_dir={tmp_path}', '--name=bad', '--distill=soft')
    assert r.returncode == 2 and '--teacher' in r.stderr
    r = run_train(f'--out_dir={tmp_path}', '--name=bad', f'--teacher={tmp_path}/missing.pt', '--distill=soft')
    assert r.returncode == 2 and 'missing.pt' in r.stderr
    r = run_train(f'--out_dir={tmp_path}', '--name=bad', '--ema=1.0')
    assert r.returncode == 2 and '--ema=1.0 must be float in [0, 1)' in r.stderr
    r = run_train(f'--out_dir={tmp_path}', '--name=bad', '--color_jitter=1.5')
    assert r.returncode == 2 and '--color_jitter=1.5 must be float in [0, 1]' in r.stderr


def test_resnet_stem_init_and_freeze(tmp_path):
    """--stem_init copies a resnet18 checkpoint into the stem; --stem_freeze_epochs=N keeps it exactly (weights
    and BatchNorm statistics, across evaluate()'s net.train()) for N epochs, then trains it."""
    config = dict(model='resnet18', num_classes=10, in_chans=3, img_size=32)
    ckpt = str(tmp_path / 'r18.pt')
    torch.save({'model': models.build_model(config).state_dict(), 'config': config}, ckpt)
    resnet_state = torch.load(ckpt)['model']
    hybrid = ['--patch_embed=resnet18', '--patch_size=2', '--subset=16', '--epochs=2', f'--stem_init={ckpt}']  # 1 step per epoch
    for freeze in (2, 1):
        r = run_train(f'--out_dir={tmp_path}', f'--name=f{freeze}', *hybrid, f'--stem_freeze_epochs={freeze}')
        assert r.returncode == 0, r.stderr[-2000:]
        assert len(check_done(tmp_path, f'f{freeze}')['history']) == 2
        state = torch.load(tmp_path / f'f{freeze}' / 'ckpt_last.pt', weights_only=False)['model']
        stem = {k[len('patch_embed.'):]: v for k, v in state.items() if k.startswith(('patch_embed.stem.', 'patch_embed.stages.'))}
        assert len(stem) == sum(k.startswith(('stem.', 'stages.0.', 'stages.1.', 'stages.2.', 'stages.3.')) for k in resnet_state)
        same = {k: torch.equal(v, resnet_state[k]) for k, v in stem.items()}
        if freeze == 2:  # frozen for the whole run: every weight and running statistic as loaded
            assert all(same.values()), [k for k, ok in same.items() if not ok]
        else:  # trained in the second epoch: weights and statistics moved
            assert not same['stem.0.weight'] and not same['stages.0.bn1.running_mean']
    r = run_train(f'--out_dir={tmp_path}', '--name=bad', f'--stem_init={ckpt}')
    assert r.returncode == 2 and '--patch_embed=resnet18' in r.stderr
    r = run_train(f'--out_dir={tmp_path}', '--name=bad', *hybrid[:-1], f'--stem_init={tmp_path}/f1/ckpt_best.pt')
    assert r.returncode == 2 and 'model=vit' in r.stderr and 'resnet18' in r.stderr and 'Traceback' not in r.stderr
    r = run_train(f'--out_dir={tmp_path}', '--name=bad', *hybrid, '--stem_freeze_epochs=-1')
    assert r.returncode == 2 and '--stem_freeze_epochs=-1 must be int >= 0' in r.stderr
