"""Trunk: models' shapes and gradients, a two-step train.py run whose log has every schema key,
imagefolder loading, data split, on-device augmentation and a helpful unknown-flag error."""
import json
import os

import pytest
import torch

import data
import resnet
from models import build_model, count_params
from vit import ViT, ViTConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_VIT = ['--dim=32', '--depth=1', '--heads=2']


from conftest import run_train  # train.py in this process: no interpreter start-up per run


def test_vit_forward_backward_shapes():
    model = ViT(ViTConfig(num_classes=7))
    x = torch.randn(3, 3, 32, 32, requires_grad=True)
    logits = model(x)
    assert logits.shape == (3, 7)
    logits.sum().backward()
    assert x.grad.shape == x.shape and all(p.grad is not None for p in model.parameters())
    assert model.features(x).shape == (3, 1 + 64, 192)


@pytest.mark.parametrize('name', ['resnet18', 'resnet34', 'resnet50'])
def test_resnet_shapes_and_features(name):
    model = resnet.BUILDERS[name](num_classes=100)
    x = torch.randn(2, 3, 32, 32)
    assert model(x).shape == (2, 100)
    width = 2048 if name == 'resnet50' else 512
    feats = model.features(x)
    assert feats.shape == (2, width)
    torch.testing.assert_close(model.fc(feats), model(x))  # features are exactly what the head reads


def test_resnet_param_counts():
    # the CIFAR ResNets as in the widely used kuangliu/pytorch-cifar: 11.17M, 21.28M, 23.52M parameters
    counts = [count_params(resnet.BUILDERS[n]()) for n in ('resnet18', 'resnet34', 'resnet50')]
    assert counts == [11173962, 21282122, 23520842]


def test_build_model_rejects_unknown():
    with pytest.raises(ValueError, match='resnet18'):
        build_model({'model': 'resnet19', 'num_classes': 10, 'in_chans': 3})


def test_val_split_is_fixed_and_disjoint():
    x = torch.arange(100).view(100, 1, 1, 1).to(torch.uint8)
    y = torch.arange(100)
    (tx, ty), (vx, vy) = data.split_train_val(x, y, 20)
    (tx2, _), (vx2, _) = data.split_train_val(x, y, 20, subset=30)
    assert len(vx) == 20 and len(tx) == 80 and len(tx2) == 30
    assert torch.equal(vx, vx2)  # the same val images whatever the subset
    assert not set(ty.tolist()) & set(vy.tolist())
    with pytest.raises(data.DataError, match='val_size'):
        data.split_train_val(x, y, 100)


def test_random_crop_flip_is_a_shifted_window():
    x = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    out = data.random_crop_flip(x, pad=2)
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):  # every output is one of the 2 x 25 crops of its own padded input
        crops = [padded[i, :, dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], c) or torch.equal(out[i], c.flip(2)) for c in crops)
    assert not torch.equal(out, x)


def test_loader_normalises_and_covers_epoch():
    x = torch.randint(0, 256, (50, 3, 4, 4), dtype=torch.uint8)
    y = torch.arange(50)
    mean, std = data.channel_stats(x)
    train = data.Loader(x, y, 16, 'cpu', mean, std, train=True)
    labels = torch.cat([b for _, b in train])
    assert len(labels) == 48 and len(set(labels.tolist())) == 48  # drop_last, no repeats
    test = data.Loader(x, y, 16, 'cpu', mean, std)
    xb = torch.cat([a for a, _ in test])
    assert len(xb) == 50
    torch.testing.assert_close(xb.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)


def write_folder(root, shape=(3, 12, 12), classes=('cat', 'dog', 'eel'), per_class=4):
    from PIL import Image
    for split in ('train', 'test'):
        for i, c in enumerate(classes):
            os.makedirs(os.path.join(root, split, c))
            for j in range(per_class):
                img = torch.full(shape[1:] + shape[:1], 40 * i + j, dtype=torch.uint8).squeeze(-1)
                Image.fromarray(img.numpy()).save(os.path.join(root, split, c, f'{j}.png'))


def test_imagefolder_loads_infers_shape_and_caches(tmp_path):
    write_folder(str(tmp_path), shape=(1, 12, 12))
    ds = data.load_dataset('imagefolder', str(tmp_path))
    assert ds['classes'] == ['cat', 'dog', 'eel']
    assert ds['train_x'].shape == (12, 1, 12, 12) and ds['train_x'].dtype == torch.uint8  # grayscale throughout: one channel
    assert ds['train_y'].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert ds['train_x'][5, :, 0, 0].tolist() == [41]  # class 1, image 1
    assert len([f for f in os.listdir(tmp_path) if f.startswith('vitlab_cache_')]) == 1
    again = data.load_dataset('imagefolder', str(tmp_path))
    assert torch.equal(again['test_x'], ds['test_x'])


def test_train_two_steps_writes_complete_log(tmp_path):
    r = run_train('--dataset=synthetic', '--val_size=100', '--max_steps=2', '--batch_size=16', *TINY_VIT,
                  f'--out_dir={tmp_path}', '--name=smoke')
    assert r.returncode == 0, r.stderr
    log = json.load(open(tmp_path / 'smoke' / 'log.json'))
    assert set(log) >= {'name', 'status', 'config', 'model', 'env', 'history', 'final'}
    assert log['status'] == 'done' and log['name'] == 'smoke'
    assert set(log['model']) == {'params', 'flops_per_image'} and log['model']['params'] > 0
    assert set(log['env']) >= {'torch', 'device', 'git_commit'}
    assert log['config']['dim'] == 32 and log['config']['lr'] == 1e-3
    (h,) = log['history']
    assert set(h) >= {'epoch', 'step', 'lr', 'train_loss', 'train_acc', 'val_loss', 'val_acc', 'epoch_time_s', 'img_per_s'}
    assert h['step'] == 2 and 0 <= h['val_acc'] <= 1
    assert set(log['final']) >= {'test_acc', 'test_loss', 'best_val_acc', 'best_epoch', 'train_time_s', 'peak_mem_mb'}
    assert os.path.exists(tmp_path / 'smoke' / 'ckpt_best.pt') and os.path.exists(tmp_path / 'smoke' / 'ckpt_last.pt')


def test_train_resnet_on_imagefolder(tmp_path):
    write_folder(str(tmp_path / 'data'))
    r = run_train('--model=resnet18', '--dataset=imagefolder', f'--data_dir={tmp_path / "data"}', '--val_size=3',
                  '--batch_size=4', '--max_steps=2', f'--out_dir={tmp_path}', '--name=rn')
    assert r.returncode == 0, r.stderr
    log = json.load(open(tmp_path / 'rn' / 'log.json'))
    assert log['config']['num_classes'] == 3 and log['config']['img_size'] == 12
    assert log['model']['params'] == count_params(resnet.resnet18(num_classes=3))


def test_unknown_flag_names_it_and_suggests(tmp_path):
    r = run_train('--detph=3', f'--out_dir={tmp_path}')
    assert r.returncode == 2
    assert r.stderr.strip() == 'error: unknown flag --detph; did you mean --depth?'


def test_learns_synthetic_data(tmp_path):
    """A short run must beat chance (10%) by a clear margin on data with real class structure."""
    r = run_train('--dataset=synthetic', '--val_size=100', '--epochs=4', '--batch_size=32', '--dim=64', '--depth=2',
                  '--heads=2', '--warmup_epochs=1', f'--out_dir={tmp_path}', '--name=learn')
    assert r.returncode == 0, r.stderr
    log = json.load(open(tmp_path / 'learn' / 'log.json'))
    assert log['final']['test_acc'] > 0.5
    assert log['history'][-1]['train_loss'] < log['history'][0]['train_loss']
