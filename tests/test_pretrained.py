"""--weights: torchvision's ViT maps into ours with the same numbers, positions resize over the patch grid, both
pretrained paths load and train a step through train.py from saved random state dicts (nothing downloads), and a
missing file or a model that does not fit stops with one line naming --weights."""
import json
import os

import pytest
import torch
import torchvision
from torchvision.models.vision_transformer import VisionTransformer

from conftest import run_train
import models
from vit import ViT, ViTConfig

SMALL = dict(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128)  # torchvision's names


def randomized(net, seed=0):
    """Every parameter random (torchvision zero-inits the head and the class token: a zero head would compare nothing),
    matrices at 1/sqrt(fan-in) so that activations keep their scale through the blocks, as in a trained model."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            std = p[0].numel() ** -0.5 if p.dim() >= 2 else 0.2
            p.copy_(p + std * torch.randn(p.shape, generator=g))
    return net.eval()


def ours_like(tv, img_size, num_classes=10):
    cfg = ViTConfig(img_size=img_size, patch_size=tv.patch_size, dim=tv.hidden_dim, depth=len(tv.encoder.layers),
                    heads=tv.encoder.layers[0].num_heads, mlp_ratio=tv.mlp_dim / tv.hidden_dim, num_classes=num_classes,
                    **models.VIT_AS_TORCHVISION)
    net = ViT(cfg).eval()
    net.load_state_dict(models.vit_from_torchvision(tv.state_dict(), cfg))  # strict: every tensor of ours is filled
    return net


@pytest.mark.parametrize('shape', ['small', 'vit_b_16'])
def test_torchvision_vit_maps_to_the_same_logits(shape):
    tv = VisionTransformer(**SMALL, num_classes=10) if shape == 'small' else torchvision.models.vit_b_16(num_classes=10)
    tv = randomized(tv)
    x = torch.randn(2, 3, tv.image_size, tv.image_size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = tv(x), ours_like(tv, tv.image_size)(x)
    diff = (want - got).abs().max().item()
    print(f"{shape}: max |logit difference| {diff:.2e}, logits std {want.std():.2f}")  # pytest -s shows the figure
    assert want.std() > 0.1 and diff < 1e-5


def test_layernorm_eps_is_what_makes_it_exact():
    """The test above can fail: with PyTorch's LayerNorm eps (1e-5, norm_eps=0) instead of torchvision's 1e-6 it does."""
    tv = randomized(VisionTransformer(**SMALL, num_classes=10))
    net = ours_like(tv, 32)
    for m in net.modules():
        if isinstance(m, torch.nn.LayerNorm):
            m.eps = 1e-5
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 0.01  # small activations: eps matters
    with torch.no_grad():
        assert (tv(x) - net(x)).abs().max() > 1e-5


def test_resize_pos_embed():
    g = torch.Generator().manual_seed(0)
    pos = torch.randn(1, 1 + 14 * 14, 8, generator=g)
    assert models.resize_pos_embed(pos, 1, 14) is pos  # same grid: untouched
    cols = torch.arange(14.0)[None, :, None].expand(14, 14, 8).reshape(1, 196, 8)  # each position = its column
    field = torch.cat([torch.full((1, 1, 8), -7.0), cols + torch.arange(8.0)], dim=1)  # channel c adds c
    out = models.resize_pos_embed(field, 1, 4).reshape(-1, 8)
    assert out.shape == (17, 8) and (out[0] == -7).all()  # the class token's position is kept
    grid = out[1:].reshape(4, 4, 8)
    assert torch.allclose(grid, grid[:1].expand(4, 4, 8), atol=1e-4)  # rows alike: rows and columns not swapped
    assert (grid[0, 1:, 0] > grid[0, :-1, 0]).all() and torch.allclose(grid[..., 3] - grid[..., 0], torch.tensor(3.0))
    # a model at another grid: positions resized, every other tensor as saved
    tv = randomized(VisionTransformer(**SMALL, num_classes=10))
    sd = models.vit_from_torchvision(tv.state_dict(), ViTConfig(img_size=64, patch_size=8, dim=64, depth=2, heads=4))
    assert sd['pos_embed'].shape == (1, 65, 64) and torch.equal(sd['blocks.1.attn.qkv.weight'], tv.state_dict()[
        'encoder.layers.encoder_layer_1.self_attention.in_proj_weight'])


def test_random_weights_build_torchvision_resnet50():
    net = models.build_model(dict(model='resnet50', weights='random', num_classes=10, in_chans=3, img_size=32))
    assert isinstance(net, models.imagenet_resnet_class()) and models.count_params(net) == 23_528_522  # 25,557,032 - 1000-class fc + 10-class
    assert net.features(torch.zeros(1, 3, 64, 64)).shape == (1, 2048)


def train(tmp_path, *args):
    return run_train('--dataset=synthetic', '--val_size=100', '--batch_size=50', '--max_steps=1', '--epochs=1',
                     '--workers=0', '--dtype=float32', f'--out_dir={tmp_path}', '--name=run', *args)


@pytest.mark.slow
def test_vit_weights_from_a_file_train_a_step(tmp_path):
    """A 1000-class torchvision ViT at 64 px (8x8 patches) into our 10-class ViT at 16 px (2x2): positions resized,
    a new zero head, one AdamW step (lr 1e-3) away from the saved weights."""
    tv = randomized(VisionTransformer(**{**SMALL, 'image_size': 64}))
    torch.save(tv.state_dict(), tmp_path / 'vit.pth')
    p = train(tmp_path, f'--weights={tmp_path}/vit.pth', '--img_size=16', '--patch_size=8', '--dim=64', '--depth=2',
              '--heads=4', '--mlp_ratio=2.0', '--patch_norm=False', '--norm_eps=1e-6', '--lr=1e-3', '--warmup_epochs=0')
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.load(open(tmp_path / 'run' / 'log.json'))['status'] == 'done'
    sd = torch.load(tmp_path / 'run' / 'ckpt_last.pt', weights_only=False)['model']
    saved = tv.state_dict()['encoder.layers.encoder_layer_1.mlp.3.weight']
    assert (sd['blocks.1.mlp.fc2.weight'] - saved).abs().max() < 1e-3 and saved.std() > 0.1  # loaded, not re-drawn
    assert sd['pos_embed'].shape == (1, 5, 64) and sd['head.weight'].abs().max() < 3e-3  # new head: 0 + one step


@pytest.mark.slow
def test_resnet50_imagenet_weights_from_the_hub_cache_train_a_step(tmp_path, monkeypatch):
    """--weights=imagenet reads torchvision's file from the torch.hub cache (TORCH_HOME): a random one saved there."""
    url = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url
    os.makedirs(tmp_path / 'hub' / 'checkpoints')
    tv = torchvision.models.resnet50()
    with torch.no_grad():
        tv.conv1.weight.add_(1.0)  # far from any init
    torch.save(tv.state_dict(), tmp_path / 'hub' / 'checkpoints' / os.path.basename(url))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    p = train(tmp_path, '--model=resnet50', '--weights=imagenet', '--optimizer=sgd', '--lr=1e-3', '--warmup_epochs=0')
    assert p.returncode == 0, p.stderr[-2000:]
    log = json.load(open(tmp_path / 'run' / 'log.json'))
    assert log['status'] == 'done' and log['model']['params'] == 23_528_522
    sd = torch.load(tmp_path / 'run' / 'ckpt_last.pt', weights_only=False)['model']
    assert (sd['conv1.weight'] - tv.conv1.weight).abs().max() < 1e-3 and sd['fc.weight'].shape == (10, 2048)


@pytest.mark.parametrize('args, want', [
    (['--model=resnet50', '--weights=/nonexistent/w.pth'], ['--weights=/nonexistent/w.pth: no such file', 'resnet50-0676ba61.pth']),
    (['--model=resnet18', '--weights=SD'], ['not a torchvision resnet18 state dict', 'missing: bn1.bias', 'unexpected: class_token']),
    (['--weights=SD'], ['--weights=SD', "torchvision's ViT needs", '--patch_size=8 --depth=2 --mlp_ratio=2.0', '--patch_norm=False']),
])
def test_bad_weights_one_line(tmp_path, args, want):
    torch.save(VisionTransformer(**SMALL).state_dict(), tmp_path / 'sd.pth')
    args = [a.replace('SD', str(tmp_path / 'sd.pth')) for a in args]
    p = run_train(*args, '--dataset=synthetic', f'--out_dir={tmp_path}')
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and 'Traceback' not in p.stderr, p.stderr
    for w in want:
        assert w.replace('SD', str(tmp_path / 'sd.pth')) in lines[0], lines[0]
