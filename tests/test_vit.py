"""Every vit.py flag does what it claims. Tiny models (dim 32-64, depth 1-2, img 16) keep this fast."""
import copy
import itertools
import math
import random

import pytest
import torch
import torch.nn.functional as F

import models
from models import compile_model, count_params, flops_per_image
import vit
from techniques import whiten_patch_embed
from vit import MLP, PRESETS, Attention, ViT, ViTConfig, apply_rope, positions

TINY = dict(img_size=16, patch_size=4, dim=32, depth=1, heads=2, num_classes=5)

# one entry per non-default flag value (plus the baseline): each must build, run and train
FLAG_VALUES = [{}, dict(head_dim=12), dict(heads=3, head_dim=8), dict(ffn='swiglu'), dict(norm='rmsnorm'),
               dict(qk_norm=True), dict(patch_embed='overlap'), dict(patch_embed='conv'),
               *[dict(pos_emb=p) for p in ('none', 'learned', 'sincos1d', 'sincos2d', 'rope1d', 'rope2d')],
               dict(cls_pos=False), dict(pool='mean'), dict(n_cls=3), dict(n_reg=2), dict(dist_token=True),
               dict(layerscale=0.1), dict(dropout=0.2), dict(attn_dropout=0.2), dict(drop_path=0.3, depth=2),
               dict(attn='mla', kv_rank=8), dict(attn='mla', q_rank=8, kv_rank=8), dict(patch_init='whiten'),
               dict(patch_norm=False), dict(patch_embed='overlap', patch_norm=False), dict(patch_init='whiten', patch_norm=False),
               dict(init='trunc_normal'), dict(pos_std=0.02), dict(bias=False), dict(mlp_ratio=2.0),
               dict(patch_embed='resnet18'), dict(check_attention=True),
               *[dict(norm_eps=1e-6)] * ('norm_eps' in vit.config_fields())]  # a field that is landing in vit.py
SHAPE = ('img_size', 'in_chans', 'num_classes', 'patch_size', 'dim', 'depth', 'heads')  # TINY sets them


def test_the_sweep_holds_every_non_default_value():
    """Every choice and every bool of ViTConfig off its default, and every number at another value, is swept above
    (a default that changes would otherwise leave its old value untested)."""
    swept = {(k, v) for kw in FLAG_VALUES for k, v in kw.items()}
    for name, default in vit.config_fields().items():
        if name in SHAPE:
            continue
        values = vit.CHOICES.get(name, (not default,) if isinstance(default, bool) else None)
        if values is None:  # a number: some other value
            assert any(k == name and v != default for k, v in swept), f"no sweep entry sets {name} off {default!r}"
        else:
            missing = [v for v in values if v != default and (name, v) not in swept]
            assert not missing, f"the sweep never sets {name} to {missing}"


def fwd_bwd(cfg, batch=2):
    torch.manual_seed(0)
    model = ViT(cfg).train()
    x = torch.randn(batch, cfg.in_chans, cfg.img_size, cfg.img_size)
    if cfg.patch_init == 'whiten':
        whiten_patch_embed(model, x)
    outs = tuple(o for o in model(x, heads=True) if o is not None)  # dist_token: the class and distillation heads
    for o in outs:
        assert o.shape == (batch, cfg.num_classes) and torch.isfinite(o).all()
    sum(o.square().mean() for o in outs).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    return model


@pytest.mark.parametrize('kw', FLAG_VALUES, ids=lambda kw: ','.join(f'{k}={v}' for k, v in kw.items()) or 'baseline')
def test_every_flag_value_trains(kw):
    fwd_bwd(ViTConfig(**{**TINY, **kw}))


# pairwise grid: every pair of values of two different flags appears in at least one config
GRID = dict(head_dim=[0, 12], ffn=['gelu', 'swiglu'], norm=['layernorm', 'rmsnorm'], qk_norm=[False, True],
            patch_embed=['linear', 'overlap', 'conv'],
            pos_emb=['none', 'learned', 'sincos1d', 'sincos2d', 'rope1d', 'rope2d'], cls_pos=[True, False],
            pool=['cls', 'mean'], n_cls=[1, 2], n_reg=[0, 2], dist_token=[False, True], layerscale=[0.0, 0.1],
            drop_path=[0.0, 0.2], attn=['mha', 'mla'])


def pairwise_configs(grid, seed=0, candidates=30):
    """Greedy covering set: repeatedly keep the random candidate that covers the most uncovered pairs."""
    names, rng = list(grid), random.Random(seed)
    todo = {((a, va), (b, vb)) for a, b in itertools.combinations(names, 2) for va in grid[a] for vb in grid[b]}
    chosen = []
    while todo:
        (a, va), (b, vb) = min(todo, key=str)  # seed each config with one uncovered pair so every round progresses
        best, best_cov = None, set()
        for _ in range(candidates):
            c = {n: rng.choice(grid[n]) for n in names}
            c[a], c[b] = va, vb
            cov = {((x, c[x]), (y, c[y])) for x, y in itertools.combinations(names, 2)} & todo
            if len(cov) > len(best_cov):
                best, best_cov = c, cov
        chosen.append(best)
        todo -= best_cov
    return chosen


def test_pairwise_grid():
    configs = pairwise_configs(GRID)
    assert len(configs) < 60  # far fewer than the full product (2^11 * 3 * 6)
    for c in configs:
        mla = dict(kv_rank=8, q_rank=8) if c['attn'] == 'mla' else {}
        fwd_bwd(ViTConfig(**{**TINY, 'depth': 2, **c, **mla}))


# ----------------------------------------------------------------------------- positions

def rope_logit(q, k, angles, i, j):
    cos, sin = angles.cos(), angles.sin()
    return (apply_rope(q, cos[i], sin[i]) * apply_rope(k, cos[j], sin[j])).sum()


def test_rope1d_logit_depends_only_on_offset():
    cfg = ViTConfig(**TINY, pos_emb='rope1d', cls_pos=False)
    angles = positions(cfg)[1]  # token 1 + n is patch n at 1-D position n
    torch.manual_seed(0)
    q, k = torch.randn(cfg.hd), torch.randn(cfg.hd)
    base = rope_logit(q, k, angles, 1 + 2, 1 + 5)
    for shift in (1, 4, 8):
        torch.testing.assert_close(rope_logit(q, k, angles, 1 + 2 + shift, 1 + 5 + shift), base, atol=1e-5, rtol=1e-5)
    assert (rope_logit(q, k, angles, 1 + 2, 1 + 6) - base).abs() > 1e-3  # another offset: another logit


def test_rope2d_logit_depends_only_on_2d_offset():
    cfg = ViTConfig(**{**TINY, 'dim': 64}, pos_emb='rope2d', cls_pos=False)
    g, angles = cfg.grid, positions(cfg)[1]
    tok = lambda r, c: 1 + r * g + c  # noqa: E731  (one cls token first)
    torch.manual_seed(0)
    q, k = torch.randn(cfg.hd), torch.randn(cfg.hd)
    base = rope_logit(q, k, angles, tok(0, 1), tok(2, 0))  # offset (+2, -1)
    for dr, dc in ((1, 0), (0, 2), (1, 1)):
        shifted = rope_logit(q, k, angles, tok(0 + dr, 1 + dc), tok(2 + dr, 0 + dc))
        torch.testing.assert_close(shifted, base, atol=1e-5, rtol=1e-5)
    # the row and column offsets both matter: transposing the offset changes the logit
    assert (rope_logit(q, k, angles, tok(1, 0), tok(0, 2)) - base).abs() > 1e-3


@pytest.mark.parametrize('pos_emb', ['rope1d', 'rope2d'])
@pytest.mark.parametrize('cls_pos', [True, False])
def test_rope_angles_of_prefix_and_patches(cls_pos, pos_emb):
    """The prefix tokens (cls, 2 registers) are never rotated; the patches count from 1 with cls_pos (the prefix
    has position 0 of its own) and from 0 without (the prefix shares patch 0's). Closed form per token."""
    cfg = ViTConfig(**TINY, pos_emb=pos_emb, n_reg=2, cls_pos=cls_pos)
    angles, off, pairs = positions(cfg)[1], int(cls_pos), cfg.hd // 2
    assert angles.shape == (3 + 16, pairs) and (angles[:3] == 0).all()
    for n in (0, 5, 15):  # patch n: row n // 4, col n % 4
        if pos_emb == 'rope1d':
            want = (n + off) * 100.0 ** (-torch.arange(pairs).float() / pairs)
        else:
            f = 100.0 ** (-torch.arange(pairs // 2).float() / (pairs // 2))
            want = torch.cat([(n // 4 + off) * f, (n % 4 + off) * f])
        torch.testing.assert_close(angles[3 + n], want)


@pytest.mark.parametrize('cls_pos', [True, False])
def test_sincos_buffers_match_closed_form(cls_pos):
    D, off = 32, int(cls_pos)
    m1 = ViT(ViTConfig(**TINY, pos_emb='sincos1d', cls_pos=cls_pos, n_reg=1))
    m2 = ViT(ViTConfig(**TINY, pos_emb='sincos2d', cls_pos=cls_pos, n_reg=1))
    for m in (m1, m2):
        assert 'pos_embed' in dict(m.named_buffers()) and 'pos_embed' not in dict(m.named_parameters())
        assert m.pos_embed.shape == (1, 2 + 16, D)
    t1, t2 = m1.pos_embed[0], m2.pos_embed[0]
    for n in (0, 5, 15):  # patch n (row n // 4, col n % 4) is token 2 + n
        p = n + off
        for i in (0, 3, D // 2 - 1):
            w = 10000 ** (-i / (D // 2))
            assert math.isclose(t1[2 + n, i], math.sin(p * w), abs_tol=1e-5)
            assert math.isclose(t1[2 + n, D // 2 + i], math.cos(p * w), abs_tol=1e-5)
        r, c = n // 4 + off, n % 4 + off
        for i in (0, 2, D // 4 - 1):  # quarters: sin(row), cos(row), sin(col), cos(col)
            w = 10000 ** (-i / (D // 4))
            got = [t2[2 + n, q * D // 4 + i].item() for q in range(4)]
            want = [math.sin(r * w), math.cos(r * w), math.sin(c * w), math.cos(c * w)]
            assert all(math.isclose(a, b, abs_tol=1e-5) for a, b in zip(got, want))
    # prefix tokens: position 0 (sin 0 = 0, cos 0 = 1) with cls_pos, nothing without
    want_prefix = torch.cat([torch.zeros(D // 2), torch.ones(D // 2)]) if cls_pos else torch.zeros(D)
    torch.testing.assert_close(t1[:2], want_prefix.expand(2, D))


@pytest.mark.parametrize('pos_emb', vit.CHOICES['pos_emb'])
@pytest.mark.parametrize('cls_pos', [True, False])
def test_positions_give_every_token_a_row_and_the_prefix_none_without_cls_pos(pos_emb, cls_pos):
    """positions() alone decides what each token gets; the model adds exactly that (learned: its trained table placed
    by positions(), which leaves the prefix rows zero without cls_pos)."""
    cfg = ViTConfig(**TINY, pos_emb=pos_emb, cls_pos=cls_pos, n_reg=2, dist_token=True)
    model = ViT(cfg)
    add, angles = positions(cfg, model.pos_embed if pos_emb == 'learned' else None)
    for table, kinds in ((add, ('learned', 'sincos1d', 'sincos2d')), (angles, ('rope1d', 'rope2d'))):
        assert (table is not None) == (pos_emb in kinds)
        if table is not None:
            rows = table.reshape(-1, 4 + 16, table.shape[-1])[0]  # add: (1, T, dim); angles: (T, hd/2)
            # the prefix (cls, dist, 2 registers) gets nothing without cls_pos; with it, place 0 (rope: a zero angle)
            assert bool((rows[:4] == 0).all()) == (not cls_pos or pos_emb.startswith('rope'))
    with torch.no_grad():
        x = torch.randn(2, 3, 16, 16)
        tokens = model.token_norm(model.patch_embed(model.pixel_norm(x)).flatten(2).transpose(1, 2))
        tokens = torch.cat([model.cls_token.expand(2, -1, -1), model.dist.expand(2, -1, -1), model.reg_token.expand(2, -1, -1), tokens], 1)
        seen = []
        model.blocks[0].register_forward_pre_hook(lambda m, args: seen.append(args))
        model.features(x)
        want = tokens if add is None else tokens + add
        torch.testing.assert_close(seen[0][0], want, atol=0, rtol=0)
        assert (seen[0][1] is None) == (angles is None)
        if angles is not None:
            torch.testing.assert_close(seen[0][1], (angles.cos(), angles.sin()), atol=0, rtol=0)


@pytest.mark.parametrize('dist', [False, True])
def test_forward_returns_one_tensor_and_heads_the_pair(dist):
    """forward(x) is the logits tensor in training and eval (with a distillation token, the mean of both heads);
    forward(x, heads=True) is always (class logits, distillation logits or None)."""
    torch.manual_seed(0)
    model, x = ViT(ViTConfig(**TINY, dist_token=dist)), torch.randn(3, 3, 16, 16)
    for training in (True, False):
        model.train(training)
        logits, dist_logits = model(x, heads=True)
        out = model(x)
        assert isinstance(out, torch.Tensor) and out.shape == (3, 5)
        assert (dist_logits is not None) == dist
        torch.testing.assert_close(out, logits if not dist else (logits + dist_logits) / 2, atol=0, rtol=0)


# ----------------------------------------------------------------------------- tokens

@pytest.mark.parametrize('n_cls,n_reg,dist', [(1, 0, False), (2, 3, False), (1, 4, True), (3, 1, True)])
def test_sequence_length(n_cls, n_reg, dist):
    cfg = ViTConfig(**TINY, n_cls=n_cls, n_reg=n_reg, dist_token=dist)
    h = ViT(cfg).features(torch.randn(2, 3, 16, 16))
    assert h.shape == (2, 16 + n_cls + n_reg + int(dist), 32)


@pytest.mark.parametrize('pool', ['cls', 'mean'])
def test_registers_do_not_reach_the_head(pool):
    cfg = ViTConfig(**{**TINY, 'depth': 2}, n_cls=2, n_reg=3, dist_token=True, pool=pool)
    torch.manual_seed(0)
    model, x = ViT(cfg).eval(), torch.randn(2, 3, 16, 16)
    ref = model(x)
    with torch.no_grad():
        ref_full = model.head(model.pool(model.features(x)))
    reg = slice(cfg.n_cls + 1, cfg.n_prefix)

    def perturb(module, inputs, out):
        out = out.clone()
        out[:, reg] += 10 * torch.randn_like(out[:, reg])
        return out
    with torch.no_grad():
        handle = model.blocks[-1].register_forward_hook(perturb)
        full = model.head(model.pool(model.features(x)))  # features(): the last block outputs every row
        torch.testing.assert_close(full, ref_full, atol=0, rtol=0)  # last block: registers are dropped
        handle.remove()
        handle = model.blocks[0].register_forward_hook(perturb)  # earlier: registers are attended to
        assert (model(x) - ref).abs().max() > 1e-4
        handle.remove()


# ----------------------------------------------------------------------------- parameters

def closed_form_params(cfg):
    """Parameter count of a linear-patch, GELU, LayerNorm, MHA ViT (the baseline and the presets)."""
    D, K, N, h = cfg.dim, cfg.num_classes, cfg.grid ** 2, int(cfg.mlp_ratio * cfg.dim)
    patch = cfg.in_chans * cfg.patch_size ** 2 * D + D
    patch += (2 * cfg.in_chans * cfg.patch_size ** 2 + 2 * D) if cfg.patch_norm else 0  # LayerNorm gains and biases
    tokens = cfg.n_prefix * D + ((N + cfg.n_prefix) * D if cfg.pos_emb == 'learned' else 0)
    block = 2 * 2 * D + (3 * D * D + 3 * D) + (D * D + D) + (D * h + h) + (h * D + D)
    head = cfg.n_cls * D * K + K
    return patch + tokens + cfg.depth * block + 2 * D + head


def test_baseline_params_closed_form():
    cfg = ViTConfig()
    assert count_params(ViT(cfg)) == closed_form_params(cfg) == 2_694_058
    assert closed_form_params(ViTConfig(patch_norm=False)) == 2_693_578


def test_presets_dims_and_params():
    expected = dict(tiny=(192, 12, 3), small=(384, 12, 6), base=(768, 12, 12), large=(1024, 24, 16),
                    huge=(1280, 32, 16), minivit=(96, 9, 12))
    assert set(PRESETS) == set(expected)
    for name, (dim, depth, heads) in expected.items():
        cfg = ViTConfig(**PRESETS[name])
        assert (cfg.dim, cfg.depth, cfg.heads, cfg.patch_size) == (dim, depth, heads, 4)
        with torch.device('meta'):  # no memory or init time for the 632M-parameter huge
            model = ViT(cfg)
        assert count_params(model) == closed_form_params(cfg)
        assert len(model.blocks) == depth and model.blocks[0].attn.heads == heads
    # ViT-B at patch 4 on 32x32 with 10 classes: 86.6M (ViT-B/16 on ImageNet) less the smaller patch
    # projection, position table and head
    assert 85e6 < closed_form_params(ViTConfig(**PRESETS['base'])) < 86e6


def test_minivit_params():
    cfg = ViTConfig(**PRESETS['minivit'])
    assert (cfg.n_cls, cfg.pos_emb, cfg.mlp_ratio) == (2, 'sincos2d', 2.0)
    # the reference's qkv, fc1 and fc2 linears have no bias: 9 blocks x (3 x 96 + 192 + 96) = 5,184 fewer
    assert count_params(ViT(ViTConfig(**PRESETS['minivit'], patch_norm=False))) == 680_074
    # the reference has no patch norms (patch_norm adds 2 x 48 + 2 x 96 = 288), configs/minivit.py switches them off
    assert count_params(ViT(ViTConfig(**PRESETS['minivit'], patch_norm=False, bias=False))) == 674_890


def test_bias_false_drops_exactly_qkv_fc1_fc2_biases():
    model = ViT(ViTConfig(**TINY, bias=False))
    no_bias = {n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and m.bias is None}
    assert no_bias == {'blocks.0.attn.qkv', 'blocks.0.mlp.fc1', 'blocks.0.mlp.fc2'}


def test_init_and_pos_std():
    """trunc_normal: every linear/conv weight has std 0.02; torch: PyTorch's kaiming-uniform default, whose
    std is 1/sqrt(3 fan_in); the learned position table has std pos_std either way."""
    torch.manual_seed(0)
    cfg = dict(TINY, dim=64)
    vit_init, torch_init = ViT(ViTConfig(**cfg, init='trunc_normal', pos_std=0.02)), ViT(ViTConfig(**cfg))
    w1, w2 = vit_init.blocks[0].mlp.fc1.weight, torch_init.blocks[0].mlp.fc1.weight
    assert abs(w1.std().item() - 0.02) < 0.002
    assert abs(w2.std().item() - 1 / math.sqrt(3 * 64)) < 0.004
    assert vit_init.blocks[0].mlp.fc1.bias.abs().max() == 0 and torch_init.blocks[0].mlp.fc1.bias.abs().max() > 0
    assert abs(vit_init.pos_embed.std().item() - 0.02) < 0.003 and abs(torch_init.pos_embed.std().item() - 0.88) < 0.05  # N(0,1) cut at +-2


def test_patch_norm_normalises_each_patch_and_each_token():
    torch.manual_seed(0)
    model = ViT(ViTConfig(**TINY))
    x = 3 * torch.randn(2, 3, 16, 16) + 1
    patches = F.unfold(model.pixel_norm(x), 4, stride=4)  # (B, C*p*p, L): each column one patch
    assert torch.allclose(patches.mean(1), torch.zeros(2, 16), atol=1e-5)
    assert torch.allclose(patches.var(1, unbiased=False), torch.ones(2, 16), atol=1e-3)
    # the layout round trip keeps pixels in place: without the norm's centring, a patch is unchanged
    model.pixel_norm.norm.weight.data.fill_(2.0)
    assert torch.allclose(F.unfold(model.pixel_norm(x), 4, stride=4), 2 * patches, atol=1e-5)
    tokens = model.token_norm(model.patch_embed(model.pixel_norm(x)).flatten(2).transpose(1, 2))
    assert torch.allclose(tokens.mean(-1), torch.zeros(2, 16), atol=1e-5)
    overlap = ViT(ViTConfig(**TINY, patch_norm=True, patch_embed='overlap'))  # no pixel patches: token norm only
    assert isinstance(overlap.pixel_norm, torch.nn.Identity) and isinstance(overlap.token_norm, torch.nn.LayerNorm)


@pytest.mark.parametrize('dim,ratio', [(192, 4.0), (96, 2.0), (48, 4.0), (256, 3.0)])
def test_swiglu_params_match_gelu(dim, ratio):
    base = dict(dim=dim, heads=2, mlp_ratio=ratio)
    gelu, swiglu = (count_params(MLP(ViTConfig(**base, ffn=f))) for f in ('gelu', 'swiglu'))
    assert abs(swiglu - gelu) / gelu < 0.02


@pytest.mark.parametrize('norm,q_rank,kv_rank', [('layernorm', 0, 32), ('rmsnorm', 48, 32), ('layernorm', 16, 8)])
def test_mla_params_formula_and_below_mha(norm, q_rank, kv_rank):
    D, H, hd = 192, 3, 64
    inner, nw = H * hd, 2 if norm == 'layernorm' else 1  # a LayerNorm has weight and bias, RMSNorm weight only
    cfg = ViTConfig(dim=D, heads=H, norm=norm, attn='mla', q_rank=q_rank, kv_rank=kv_rank)
    q = (D * q_rank + nw * q_rank + q_rank * inner + inner) if q_rank else (D * inner + inner)
    kv = D * kv_rank + nw * kv_rank + kv_rank * 2 * inner + 2 * inner
    mla = count_params(Attention(cfg))
    assert mla == q + kv + inner * D + D
    assert mla < count_params(Attention(ViTConfig(dim=D, heads=H, norm=norm)))


# ----------------------------------------------------------------------------- attention

@pytest.mark.parametrize('norm', ['layernorm', 'rmsnorm'])
@pytest.mark.parametrize('attn', ['mha', 'mla'])
def test_qk_norm_unit_rms_per_head(norm, attn):
    mla = dict(kv_rank=8) if attn == 'mla' else {}
    rms = {}

    def grab(name):
        return lambda m, i, out: rms.__setitem__(name, out.float().square().mean(-1).sqrt())
    for qk_norm in (True, False):
        model = ViT(ViTConfig(**TINY, norm=norm, attn=attn, qk_norm=qk_norm, pos_emb='rope2d', **mla))
        a = model.blocks[0].attn
        a.q_norm.register_forward_hook(grab('q'))
        a.k_norm.register_forward_hook(grab('k'))
        model.features(torch.randn(2, 3, 16, 16))  # every query row (forward() keeps only the class rows of the last block)
        for name in 'qk':
            assert rms[name].shape == (2, 2, 17)  # (batch, heads, tokens): one RMS per head and token
            close = torch.allclose(rms[name], torch.ones_like(rms[name]), atol=1e-2)
            assert close == qk_norm  # without qk_norm the init's small weights give RMS far from 1


@pytest.mark.parametrize('kw', [{}, dict(pos_emb='rope2d', qk_norm=True, n_reg=2),
                                dict(attn='mla', q_rank=8, kv_rank=8, head_dim=12, heads=3)])
def test_explicit_attention_matches_sdpa(kw, monkeypatch):
    torch.manual_seed(0)
    model, x = ViT(ViTConfig(**{**TINY, 'depth': 2, **kw})).eval(), torch.randn(2, 3, 16, 16)
    monkeypatch.setattr(vit, 'SDPA_ON_CPU', True)  # the CPU otherwise takes the explicit path too
    probs = []
    with torch.no_grad():
        ref = model(x)
        monkeypatch.setattr(vit, 'SDPA_ON_CPU', False)
        out = model(x)
        for b in model.blocks:
            b.attn.register_forward_hook(lambda m, args, _: probs.append(m.explicit(*args)[1][3]))
        model.features(x)  # every query row (forward() computes only the class rows in the last block)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    assert len(probs) == len(model.blocks)
    for p in probs:
        assert p.shape[-2:] == (17 + kw.get('n_reg', 0),) * 2 and (p >= 0).all()
        torch.testing.assert_close(p.sum(-1), torch.ones(p.shape[:-1]), atol=1e-5, rtol=0)


@pytest.mark.parametrize('kw', [{}, dict(n_cls=2, dist_token=True, n_reg=2, pos_emb='rope2d', qk_norm=True),
                                dict(attn='mla', q_rank=8, kv_rank=8, layerscale=0.1, drop_path=0.2)])
def test_last_block_class_rows_only_changes_nothing(kw):
    """forward() computes only the class rows in the last block; logits and gradients must equal the
    full computation's (features() of every token, then the same head)."""
    torch.manual_seed(0)
    model, x = ViT(ViTConfig(**{**TINY, 'depth': 2, **kw})), torch.randn(4, 3, 16, 16)
    torch.manual_seed(1)  # same drop_path masks in both passes
    out = tuple(o for o in model(x, heads=True) if o is not None)
    grads = torch.autograd.grad(sum(o.sum() for o in out), list(model.parameters()), allow_unused=True)
    torch.manual_seed(1)
    h = model.features(x)
    ref = (model.head(model.pool(h)),) + ((model.head_dist(h[:, model.cfg.n_cls]),) if model.cfg.dist_token else ())
    ref_grads = torch.autograd.grad(sum(o.sum() for o in ref), list(model.parameters()), allow_unused=True)
    for o, r in zip(out, ref, strict=True):
        torch.testing.assert_close(o, r, atol=1e-5, rtol=1e-5)
    for g, r in zip(grads, ref_grads):
        assert (g is None) == (r is None) or torch.count_nonzero(g if r is None else r) == 0
        if g is not None and r is not None:
            torch.testing.assert_close(g, r, atol=1e-5, rtol=1e-4)


def test_class_rows_only_cut_the_flops():
    """Baseline FLOPs equal the closed form with a last block that has one query row (the counter sees the
    fused qkv matmul over every token, then the class row alone through attention, proj and MLP)."""
    T, d, n = 65, 192, 64  # tokens, width, patches
    block = 2 * T * 12 * d * d + 4 * T * T * d
    last = 2 * T * 3 * d * d + 4 * T * d + 2 * 9 * d * d
    expected = 2 * n * 48 * d + 5 * block + last + 2 * d * 10
    assert flops_per_image(ViT(ViTConfig()), (3, 32, 32)) == expected
    assert expected < 0.88 * (2 * n * 48 * d + 6 * block)  # 12.5% fewer than all rows


# ----------------------------------------------------------------------------- whitening

@pytest.mark.parametrize('dim', [32, 64])  # fewer and more channels than a patch has values (3*4*4 = 48)
def test_whitening_decorrelates_fitted_patches(dim):
    torch.manual_seed(0)
    # correlated pixels: smooth images (upsampled 4x4 noise) with shared colour, plus a little noise
    x = F.interpolate(torch.randn(50, 1, 4, 4), size=16, mode='bilinear') * torch.tensor([1.0, 0.8, 0.5]).view(1, 3, 1, 1)
    x = x + 0.1 * torch.randn(50, 3, 16, 16) + 0.3
    model = ViT(ViTConfig(**{**TINY, 'dim': dim}, patch_init='whiten', patch_norm=False))  # raw pixel patches
    k = whiten_patch_embed(model, x)  # 50 images x 16 patches = 800 < n_patches: fitted on all of them
    assert k == min(dim, 48)
    with torch.no_grad():
        tokens = model.patch_embed(x).flatten(2).transpose(1, 2).flatten(0, 1)[:, :k]  # (patches, k)
    cov = torch.cov(tokens.T)
    # tolerance 0.02: eps=1e-4 in the whitening shrinks each variance to l / (l + 1e-4); the smallest
    # eigenvalue here is >= 0.01 (the added noise), so the diagonal is >= 0.99; off-diagonals are rounding
    assert (cov - torch.eye(k)).abs().max() < 0.02
    assert tokens.mean(0).abs().max() < 1e-4  # the bias centres the patches too
    raw = torch.cov(F.unfold(x, 4, stride=4).transpose(1, 2).flatten(0, 1).T)
    assert (raw - torch.eye(48)).abs().max() > 0.5  # the data really was correlated


# ----------------------------------------------------------------------------- compile, errors

RICH = dict(pos_emb='rope2d', n_reg=2, n_cls=2, qk_norm=True, ffn='swiglu', norm='rmsnorm', attn='mla',
            q_rank=8, kv_rank=8, layerscale=0.1)


def test_compile_model_cpu():
    """train.py's compile (block by block, in place) gives the eager logits and gradients, also through
    the last block's class-rows-only path, and keeps the state_dict keys that checkpoints use. One model with
    the block's options on (inductor takes ~40 s a model on a 2-core CPU); the baseline differs from it only in
    LayerNorm, GELU and a learned position table, standard ops for inductor."""
    torch.manual_seed(0)
    eager = ViT(ViTConfig(**dict(TINY, depth=2), **RICH))
    compiled = copy.deepcopy(eager)
    keys = list(compiled.state_dict())
    assert compile_model(compiled) is compiled and list(compiled.state_dict()) == keys
    x = torch.randn(2, 3, 16, 16)
    out, ref = compiled(x), eager(x)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    out.square().sum().backward()
    ref.square().sum().backward()
    for p, q in zip(compiled.parameters(), eager.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize('kw,flags', [
    (dict(img_size=32, patch_size=5), 'patch_size'),
    (dict(dim=32, heads=3), 'heads'),
    (dict(dim=30, heads=2, pos_emb='rope1d'), 'rope1d'),
    (dict(dim=30, heads=3, pos_emb='rope2d'), 'rope2d'),
    (dict(dim=32, heads=2, head_dim=7, pos_emb='rope1d'), 'head width 7'),
    (dict(attn='mla'), 'kv_rank'),
    (dict(q_rank=8), 'q_rank'),
    (dict(patch_init='whiten', patch_embed='conv'), 'patch_init'),
    (dict(patch_embed='resnet18', img_size=48, patch_size=16), 'patch_size=16 must be 1, 2, 4 or 8'),
    (dict(pos_emb='rope3d'), 'pos_emb'),
    (dict(heads=0), 'heads'),
    (dict(n_cls=0), 'n_cls'),
    (dict(n_reg=-1), 'n_reg'),
    (dict(drop_path=1.0), 'drop_path'),
    (dict(mlp_ratio=0), 'mlp_ratio'),
])
def test_invalid_combinations_name_the_flags(kw, flags):
    with pytest.raises(ValueError, match=flags):
        ViTConfig(**kw)


# ----------------------------------------------------------------------------- ResNet-18 stem

@pytest.mark.parametrize('p,stages,channels', [(1, 1, 64), (2, 2, 128), (4, 3, 256), (8, 4, 512)])
def test_resnet18_stem_stride_sets_the_token_grid(p, stages, channels):
    """patch_size picks how many ResNet-18 stages the stem keeps: stride p, so (32/p)^2 tokens, and the
    positions (learned table, 2D RoPE) follow the same grid."""
    for pos in ('learned', 'rope2d'):
        model = ViT(ViTConfig(patch_embed='resnet18', patch_size=p, dim=32, depth=1, heads=2, pos_emb=pos))
        assert len(model.patch_embed.stages) == 2 * stages and model.patch_embed.proj.in_channels == channels
        with torch.no_grad():
            assert model.patch_embed(torch.randn(2, 3, 32, 32)).shape == (2, 32, 32 // p, 32 // p)
            assert model.features(torch.randn(2, 3, 32, 32)).shape == (2, 1 + (32 // p) ** 2, 32)
        if pos == 'learned':
            assert model.pos_embed.shape == (1, 1 + (32 // p) ** 2, 32)
        else:
            assert model.rope_cos.shape[0] == 1 + (32 // p) ** 2
    # the baseline's token count at patch 4; the CNN keeps the ResNet's init (first conv: std 1/sqrt(3*27) = 0.11, not 0.02)
    assert ViTConfig(patch_embed='resnet18').grid ** 2 == ViTConfig().grid ** 2 == 64
    assert ViT(ViTConfig(patch_embed='resnet18', dim=32, depth=1, heads=2)).patch_embed.stem[0].weight.std() > 0.08


def resnet_checkpoint(path, **config):
    config = {'model': 'resnet18', 'num_classes': 10, 'in_chans': 3, 'img_size': 32, **config}
    torch.manual_seed(1)
    net = models.build_model(config)
    for m in net.modules():  # trained-looking BatchNorm statistics, so that copying them is visible
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
    torch.save({'model': net.state_dict(), 'config': config}, path)
    return net


def test_stem_init_copies_a_resnet18_and_names_bad_checkpoints(tmp_path):
    res = resnet_checkpoint(tmp_path / 'r18.pt').eval()
    model = ViT(ViTConfig(patch_embed='resnet18', dim=32, depth=1, heads=2)).eval()
    proj = model.patch_embed.proj.weight.clone()
    models.load_resnet_stem(model, str(tmp_path / 'r18.pt'))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():  # the stem computes exactly the ResNet's first three stages
        torch.testing.assert_close(model.patch_embed[:2](x), res.stages[:6](res.stem(x)), atol=0, rtol=0)
    assert torch.equal(model.patch_embed.proj.weight, proj)  # the projection is new: not touched
    resnet_checkpoint(tmp_path / 'r34.pt', model='resnet34')
    resnet_checkpoint(tmp_path / 'gray.pt', in_chans=1)
    torch.save({'model': model.state_dict(), 'config': dict(model='vit', patch_embed='resnet18', dim=32, depth=1, heads=2)},
               tmp_path / 'vit.pt')
    for name, message in (('r34.pt', 'model=resnet34'), ('vit.pt', 'model=vit'), ('gray.pt', 'in_chans=1.*does not fit'),
                          ('missing.pt', 'does not exist')):
        with pytest.raises(ValueError, match=message):
            models.load_resnet_stem(model, str(tmp_path / name))


# ----------------------------------------------------------------------------- attention checks

CHECKED = dict(TINY, depth=2, check_attention=True)


def test_attention_checks_pass_on_a_sound_model_and_cost_nothing_when_off(monkeypatch):
    calls = []
    real = vit.check_attention
    monkeypatch.setattr(vit, 'check_attention', lambda *a: calls.append(a[0].name) or real(*a))
    monkeypatch.setattr(vit, 'SDPA_ON_CPU', True)  # checks take the explicit path even where SDPA would run
    x = torch.randn(2, 3, 16, 16)
    for kw in ({}, dict(pos_emb='rope2d', n_reg=2, qk_norm=True), dict(attn='mla', kv_rank=8, pool='mean')):
        torch.manual_seed(0)
        off = ViT(ViTConfig(**{**CHECKED, **kw, 'check_attention': False}))
        ref = off(x)
        assert calls == []  # off: the check is never reached
        on = ViT(ViTConfig(**{**CHECKED, **kw}))
        on.load_state_dict(off.state_dict())
        with torch.autocast('cpu', dtype=torch.bfloat16):
            on(x)
        torch.testing.assert_close(on(x), ref, atol=1e-5, rtol=1e-5)  # checks change nothing
        assert calls == ['block 0', 'block 1'] * 2
        calls.clear()


def test_attention_check_names_the_block_and_head_of_a_broken_softmax(monkeypatch):
    model, x = ViT(ViTConfig(**CHECKED)), torch.randn(2, 3, 16, 16)
    real, seen = torch.Tensor.softmax, []

    def broken(t, dim):  # block 1's head 1 loses 10% of its probability mass
        out = real(t, dim)
        seen.append(1)
        if len(seen) == 2:
            out = out.clone()
            out[:, 1] *= 0.9
        return out
    monkeypatch.setattr(torch.Tensor, 'softmax', broken)
    with pytest.raises(AssertionError, match=r'block 1 head 1: softmax row \d+ of image 0 sums to 0\.9'):
        model(x)
    monkeypatch.undo()
    with torch.no_grad():
        model.blocks[0].attn.qkv.weight[32 + 16] = float("nan")  # q, k, v of width 32 each: a key channel of head 1
    with pytest.raises(AssertionError, match='block 0 head 1: k has 34 NaN'):  # 2 images x 17 tokens
        model(x)
    model = ViT(ViTConfig(**CHECKED))
    model.blocks[1].attn.heads = 4  # a wrong reshape: 4 heads of width 8 where the config says 2 of 16
    model.blocks[1].attn.hd = 8
    with pytest.raises(AssertionError, match=r'block 1: .* has shape'):
        model(x)
