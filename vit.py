"""A Vision Transformer for small images where every variant is a ViTConfig field.

Read top to bottom: config and presets, position helpers, attention, MLP, block, model.
Token order inside the model: [cls * n_cls, dist?, reg * n_reg, patches].
"""
import math
from collections import OrderedDict
from dataclasses import dataclass, field, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

import configurator
import resnet


def flag(default, allowed, meaning):
    """A ViTConfig field, which is also a flag of train.py and bench.py: its default, its allowed values (a choice
    tuple, 'bool', or a numeric range such as '>= 1' or 'in [0, 1)', see configurator.parse_range) and its meaning,
    which ViTConfig checks and train.py's --help and docs/flags.md show."""
    return field(default=default, metadata={'allowed': allowed, 'meaning': meaning})


@dataclass
class ViTConfig:
    img_size: int = flag(32, '>= 1', "input side (train.py: from the data)")
    in_chans: int = flag(3, '>= 1', "input channels (train.py: from the data)")
    num_classes: int = flag(10, '>= 1', "classes (train.py: from the data)")
    patch_size: int = flag(4, '>= 1', "patch side; must divide img_size")
    dim: int = flag(192, '>= 1', "width")
    depth: int = flag(6, '>= 1', "blocks")
    heads: int = flag(3, '>= 1', "attention heads")
    head_dim: int = flag(0, '>= 0', "per-head width; 0 = dim // heads")
    mlp_ratio: float = flag(4.0, '> 0', "FFN hidden width / dim (swiglu: times 2/3, so parameters match)")
    ffn: str = flag('gelu', ('gelu', 'swiglu'), "feed-forward kind")
    norm: str = flag('layernorm', ('layernorm', 'rmsnorm'), "every normalisation layer")
    qk_norm: bool = flag(False, 'bool', "normalise q and k per head before the dot product")
    patch_embed: str = flag('linear', ('linear', 'overlap', 'conv', 'resnet18'),
                            "strided conv; overlapping conv (kernel > stride); conv stem then patchify; "
                            "the first stages of the CIFAR ResNet-18")
    pos_emb: str = flag('learned', ('none', 'learned', 'sincos1d', 'sincos2d', 'rope1d', 'rope2d'),
                        "how position enters (sincos: fixed; rope: rotary on q and k; 2d: half the channels per axis)")
    cls_pos: bool = flag(True, 'bool', "prefix tokens (cls, dist, registers) get a position too")
    pool: str = flag('cls', ('cls', 'mean'), "what the head reads")
    n_cls: int = flag(1, '>= 1', "CLS tokens, concatenated for the head")
    n_reg: int = flag(0, '>= 0', "register tokens, dropped before the head")
    layerscale: float = flag(0.0, '>= 0', "0 = off, else the init value of the per-channel gain on each residual branch")
    attn: str = flag('mha', ('mha', 'mla'), "full attention or multi-head latent attention (low-rank q and kv)")
    q_rank: int = flag(0, '>= 0', "MLA: 0 = full-rank queries")
    kv_rank: int = flag(0, '>= 0', "MLA: width of the shared key/value latent (mla needs it)")
    dropout: float = flag(0.0, 'in [0, 1)', "dropout on embeddings and residual branches")
    attn_dropout: float = flag(0.0, 'in [0, 1)', "dropout on attention probabilities")
    drop_path: float = flag(0.0, 'in [0, 1)', "stochastic depth, linear over depth up to this rate")
    patch_init: str = flag('default', ('default', 'whiten'), "whiten: the patch projection from the data's patch covariance")
    dist_token: bool = flag(False, 'bool', "DeiT distillation token and head")
    # init, pos_std, patch_norm: the defaults learn fastest at small budgets (exps/recipe.py, README)
    init: str = flag('torch', ('torch', 'trunc_normal'),
                     "weights: PyTorch's default init, or the ViT paper's truncated normal (std 0.02)")
    pos_std: float = flag(1.0, '>= 0', "init std of learned position embeddings (vit-pytorch's; the ViT paper's: 0.02)")
    patch_norm: bool = flag(True, 'bool', "LayerNorm on each patch's pixels before the projection (linear only) "
                                          "and on the tokens after")
    bias: bool = flag(True, 'bool', "biases on the qkv, fc1 and fc2 linears (minivit's reference has none)")
    norm_eps: float = flag(0.0, '>= 0', "epsilon of every norm layer; 0 = PyTorch's default (LayerNorm 1e-5); "
                                        "torchvision's and timm's ViTs: 1e-6")
    check_attention: bool = flag(False, 'bool', "debugging: assert shapes, no NaN, softmax rows >= 0 summing to 1, "
                                                "in every attention (host syncs; nothing when off)")

    def __post_init__(self):
        """Stop impossible configs here, naming the flag, so no half-built model ever runs."""
        check_fields(vars(self))
        if self.patch_embed == 'resnet18' and self.patch_size not in (1, 2, 4, 8):
            raise ValueError(f"patch_embed=resnet18 strides by its stages (2 per stage after the first): patch_size={self.patch_size} "
                             f"must be 1, 2, 4 or 8 (4: stem + 3 stages, the baseline's 64 tokens at 32x32)")
        if self.img_size % self.patch_size:
            raise ValueError(f"patch_size={self.patch_size} must divide img_size={self.img_size}")
        if self.head_dim == 0 and self.dim % self.heads:
            raise ValueError(f"heads={self.heads} does not divide dim={self.dim}; set head_dim to choose the per-head width")
        hd = self.head_dim or self.dim // self.heads
        if self.pos_emb == 'rope1d' and hd % 2:
            raise ValueError(f"pos_emb=rope1d rotates pairs of channels: head width {hd} (dim/heads or head_dim) must be even")
        if self.pos_emb == 'rope2d' and hd % 4:
            raise ValueError(f"pos_emb=rope2d splits the rotated pairs between rows and columns: head width {hd} must be a multiple of 4")
        if self.attn == 'mla' and self.kv_rank == 0:
            raise ValueError("attn=mla needs kv_rank > 0 (the width of the key/value latent)")
        if self.attn == 'mha' and (self.q_rank or self.kv_rank):
            raise ValueError("q_rank and kv_rank only apply to attn=mla")
        if self.patch_init == 'whiten' and self.patch_embed != 'linear':
            raise ValueError("patch_init=whiten needs patch_embed=linear (it whitens raw pixel patches)")

    @property
    def hd(self):
        return self.head_dim or self.dim // self.heads

    @property
    def n_prefix(self):
        return self.n_cls + int(self.dist_token) + self.n_reg

    @property
    def grid(self):
        return self.img_size // self.patch_size


# The ViT paper's widths, depths and heads at the CIFAR patch size; minivit is a small CIFAR model
# whose reference reports 674,890 parameters (ours: see tests/test_vit.py).
PRESETS = {
    'tiny': dict(dim=192, depth=12, heads=3),
    'small': dict(dim=384, depth=12, heads=6),
    'base': dict(dim=768, depth=12, heads=12),
    'large': dict(dim=1024, depth=24, heads=16),
    'huge': dict(dim=1280, depth=32, heads=16),
    'minivit': dict(dim=96, depth=9, heads=12, mlp_ratio=2.0, n_cls=2, pos_emb='sincos2d', patch_size=4),
}


def config_fields():
    return {f.name: f.default for f in fields(ViTConfig)}


FLAGS = [(f.name, f.default, f.metadata['allowed'], f.metadata['meaning']) for f in fields(ViTConfig)]  # train.py's rows
CHOICES = {name: allowed for name, _, allowed, _ in FLAGS if isinstance(allowed, tuple)}


def check_fields(values):
    """Each ViTConfig field in `values` against its allowed values: a ConfigError (a ValueError) in one line that
    names the flag, the value and what is allowed. ViTConfig checks its fields here, and train.py, for any model,
    before it knows the image size."""
    for f in fields(ViTConfig):
        if f.name in values:
            configurator.check(f.name, values[f.name], f.default, f.metadata['allowed'])


# ----------------------------------------------------------------------------- positions

def sincos(pos, width, theta=10000.0):
    """Transformer sinusoid: [sin(p w_i), cos(p w_i)] with w_i = theta^(-i/(width/2))."""
    freqs = theta ** (-torch.arange(width // 2).float() / (width // 2))
    angles = pos[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def positions(cfg, learned=None):
    """What position each token gets, decided here alone for every pos_emb and cls_pos. With cls_pos the prefix tokens
    share place 0 and the patches count from 1; without, the patches count from 0 and the prefix gets nothing: a zero
    vector, a zero angle (RoPE turns place 0 by a zero angle too: there cls_pos only moves the patches). A place is the
    reading order (1d) or (row, column) (2d: half the channels each). Returns (add, angles), a row per token or None:
    add (1, T, dim) is summed onto the tokens, a sinusoid of the place (sincos) or each carrying token's own row of the
    trained table `learned` (learned; without the table: its initial value, zeros); angles (T, hd/2) turn q and k (rope)."""
    skip = 0 if cfg.cls_pos else cfg.n_prefix  # the leading tokens that carry no position
    if cfg.pos_emb == 'none':
        return None, None
    if cfg.pos_emb == 'learned':
        if learned is None:
            return torch.zeros(1, cfg.n_prefix - skip + cfg.grid ** 2, cfg.dim), None
        return (F.pad(learned, (0, 0, skip, 0)) if skip else learned), None
    g, off, pairs, theta = cfg.grid, int(cfg.cls_pos), cfg.hd // 2, 100.0  # rope: theta=100 suits grids of tens of places
    r, c = torch.meshgrid(torch.arange(g), torch.arange(g), indexing='ij')
    index, rows, cols = (torch.cat([torch.zeros(cfg.n_prefix), p.flatten() + off]).float() for p in (torch.arange(g * g), r, c))
    if cfg.pos_emb == 'sincos1d':
        table = sincos(index, cfg.dim)
    elif cfg.pos_emb == 'sincos2d':
        table = torch.cat([sincos(rows, cfg.dim // 2), sincos(cols, cfg.dim // 2)], dim=1)
    elif cfg.pos_emb == 'rope1d':
        table = index[:, None] * theta ** (-torch.arange(pairs).float() / pairs)[None]
    else:
        freqs = theta ** (-torch.arange(pairs // 2).float() / (pairs // 2))[None]
        table = torch.cat([rows[:, None] * freqs, cols[:, None] * freqs], dim=1)
    table[:skip] = 0
    if cfg.pos_emb.startswith('rope'):
        return None, table
    return F.pad(table, (0, cfg.dim - table.shape[1]))[None], None  # odd dims: last channel carries no position


def apply_rope(x, cos, sin):
    """Rotate channel pairs (i, i + hd/2) of x (B, H, T, hd) by the precomputed angles."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


# ----------------------------------------------------------------------------- layers

# CUDA takes SDPA (fused flash / memory-efficient kernels). At CIFAR's 65 tokens the CPU is faster with
# three explicit ops: SDPA's CPU flash backward alone took 30% of a step (bench.py, see README).
SDPA_ON_CPU = False


def make_norm(cfg, width):
    eps = {'eps': cfg.norm_eps} if cfg.norm_eps else {}  # 0: each norm's own default, so older models stay bit-identical
    return nn.LayerNorm(width, **eps) if cfg.norm == 'layernorm' else nn.RMSNorm(width, **eps)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.heads, self.hd, inner = cfg.heads, cfg.hd, cfg.heads * cfg.hd
        self.attn_dropout = cfg.attn_dropout
        if cfg.attn == 'mha':
            self.qkv = nn.Linear(cfg.dim, 3 * inner, bias=cfg.bias)  # fused: one matmul for q, k and v
        else:
            # Multi-head latent attention (DeepSeek-V2): keys and values are up-projected from one
            # shared low-rank latent, queries optionally from their own. Kept: the down/up projections
            # and the latent norms. Left out: the decoupled RoPE key and the KV-cache weight absorption,
            # which only pay off for autoregressive decoding.
            self.q_down = nn.Sequential(nn.Linear(cfg.dim, cfg.q_rank, bias=False), make_norm(cfg, cfg.q_rank)) if cfg.q_rank else nn.Identity()
            self.q_up = nn.Linear(cfg.q_rank or cfg.dim, inner)
            self.kv_down = nn.Sequential(nn.Linear(cfg.dim, cfg.kv_rank, bias=False), make_norm(cfg, cfg.kv_rank))
            self.kv_up = nn.Linear(cfg.kv_rank, 2 * inner)
        self.q_norm, self.k_norm = (make_norm(cfg, cfg.hd) if cfg.qk_norm else nn.Identity() for _ in 'qk')
        self.proj = nn.Linear(inner, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.name = 'attention'  # ViT names it 'block i' for check_attention's messages
        self.expect = (cfg.heads, cfg.hd)  # check_attention's shapes come from the config, not from the code it checks

    def heads_qkv(self, x, rope, rows):
        """q (B, heads, rows, hd) of the first `rows` tokens, k and v (B, heads, T, hd) of all of them."""
        B, T, _ = x.shape
        if hasattr(self, 'qkv'):
            q, k, v = self.qkv(x).chunk(3, dim=-1)
        else:
            q = self.q_up(self.q_down(x))
            k, v = self.kv_up(self.kv_down(x)).chunk(2, dim=-1)
        q, k, v = (t.view(B, T, self.heads, self.hd).transpose(1, 2) for t in (q, k, v))
        q, k = self.q_norm(q[:, :, :rows]), self.k_norm(k)
        if rope is not None:
            q, k = apply_rope(q, *(r[:rows] for r in rope)), apply_rope(k, *rope)
        return q, k, v

    def merge(self, y):
        return self.drop(self.proj(y.transpose(1, 2).reshape(y.shape[0], y.shape[2], self.heads * self.hd)))

    def forward(self, x, rope=None, rows=None):
        """rows: only the first `rows` tokens query (all tokens still give keys and values)."""
        if x.device.type == 'cpu' and not SDPA_ON_CPU:
            return self.explicit(x, rope, rows)[0]
        q, k, v = self.heads_qkv(x, rope, rows)
        return self.merge(F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_dropout if self.training else 0.0))

    def explicit(self, x, rope=None, rows=None):
        """(forward()'s output, (q, k, v, probs, y)) in three explicit ops: the CPU's path, and the only one with the
        probabilities, which check_attention and the attention maps read."""
        q, k, v = self.heads_qkv(x, rope, rows)
        probs = (q @ k.transpose(-2, -1) / math.sqrt(self.hd)).softmax(dim=-1)
        y = F.dropout(probs, self.attn_dropout if self.training else 0.0, self.training) @ v
        return self.merge(y), (q, k, v, probs, y)


class CheckedAttention(Attention):
    """check_attention=True: a subclass, so that the checks cost an ordinary model nothing, not even a test."""

    def forward(self, x, rope=None, rows=None):
        out, inner = self.explicit(x, rope, rows)
        check_attention(self, x, rows, *inner)
        return out


def check_attention(attn, x, rows, q, k, v, probs, y):
    """check_attention=True: shapes as the config says, no NaN or inf, softmax rows >= 0 that sum to 1 (to 1e-4 in
    float32, 1e-2 in bf16/fp16). Raises AssertionError naming the block and head. Each test reads a value on the
    host (a device sync), so this is a debugging flag, off by default."""
    (B, T), (H, hd) = x.shape[:2], attn.expect
    Tq = T if rows is None else min(rows, T)  # queries: every token, or the first `rows` (forward()'s last block)
    want = {'q': (B, H, Tq, hd), 'k': (B, H, T, hd), 'v': (B, H, T, hd), 'softmax': (B, H, Tq, T), 'output': (B, H, Tq, hd)}
    for (what, shape), t in zip(want.items(), (q, k, v, probs, y)):
        if tuple(t.shape) != shape:
            raise AssertionError(f"check_attention: {attn.name}: {what} has shape {tuple(t.shape)}, expected {shape} "
                                 f"(batch, heads, tokens, head width) for input {tuple(x.shape)}")
    for what, t in zip(want, (q, k, v, probs, y)):
        bad = ~torch.isfinite(t)
        if bad.any():
            b, h = bad.nonzero()[0, :2].tolist()
            raise AssertionError(f"check_attention: {attn.name} head {h}: {what} has {int(bad.sum())} NaN/inf values (first in image {b})")
    tol = 1e-4 if probs.dtype == torch.float32 else 1e-2
    sums = probs.float().sum(-1)
    bad = ((sums - 1).abs() > tol) | (probs < 0).any(-1)
    if bad.any():
        b, h, r = bad.nonzero()[0].tolist()
        raise AssertionError(f"check_attention: {attn.name} head {h}: softmax row {r} of image {b} sums to "
                             f"{sums[b, h, r].item():.6f} (min {probs[b, h, r].min().item():.3g}), not 1 with entries >= 0")


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        hidden = int(cfg.mlp_ratio * cfg.dim)
        self.swiglu = cfg.ffn == 'swiglu'
        if self.swiglu:  # three matrices instead of two: 2/3 of the width keeps the parameters equal
            hidden = int(round(hidden * 2 / 3))
        self.fc1 = nn.Linear(cfg.dim, 2 * hidden if self.swiglu else hidden, bias=cfg.bias)
        self.fc2 = nn.Linear(hidden, cfg.dim, bias=cfg.bias)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x):
        h = self.fc1(x)
        if self.swiglu:
            gate, up = h.chunk(2, dim=-1)
            return self.drop(self.fc2(F.silu(gate) * up))
        return self.drop(self.fc2(F.gelu(h)))


class LayerScale(nn.Module):
    def __init__(self, width, init):
        super().__init__()
        self.gamma = nn.Parameter(init * torch.ones(width))

    def forward(self, x):
        return x * self.gamma


def drop_path(x, p, training):
    """Stochastic depth: drop the whole residual branch for a random subset of samples."""
    if p == 0.0 or not training:
        return x
    keep = x.new_empty(x.shape[0], 1, 1).bernoulli_(1 - p)
    return x * keep / (1 - p)


class Block(nn.Module):
    def __init__(self, cfg, drop_path_rate):
        super().__init__()
        self.norm1, self.attn = make_norm(cfg, cfg.dim), (CheckedAttention if cfg.check_attention else Attention)(cfg)
        self.norm2, self.mlp = make_norm(cfg, cfg.dim), MLP(cfg)
        scale = (lambda: LayerScale(cfg.dim, cfg.layerscale)) if cfg.layerscale else nn.Identity
        self.ls1, self.ls2 = scale(), scale()
        self.drop_path = drop_path_rate

    def forward(self, x, rope=None, rows=None):
        out = x[:, :rows]
        out = out + drop_path(self.ls1(self.attn(self.norm1(x), rope, rows)), self.drop_path, self.training)
        return out + drop_path(self.ls2(self.mlp(self.norm2(out))), self.drop_path, self.training)


class PatchPixelNorm(nn.Module):
    """patch_norm: LayerNorm over each p x p x C pixel patch (vit-pytorch's norm before the patch projection),
    done in image layout so the projection that follows stays a strided conv."""

    def __init__(self, cfg):
        super().__init__()
        self.p = cfg.patch_size
        self.norm = nn.LayerNorm([cfg.in_chans, self.p, self.p])

    def forward(self, x):
        (B, C, H, W), p = x.shape, self.p
        patches = x.view(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)  # (B, gh, gw, C, p, p)
        return self.norm(patches).permute(0, 3, 1, 4, 2, 5).reshape(B, C, H, W)


def make_patch_embed(cfg):
    p = cfg.patch_size
    if cfg.patch_embed == 'resnet18':
        # resnet.py's CIFAR ResNet-18 (3x3 stem, no max-pool), cut after stage log2(p) + 1: every stage after the
        # first halves the side, so the stride is p and the token grid img/p, as for the other embeddings. p=4
        # (stem + 3 stages, 256 channels) gives the baseline's 8x8 = 64 tokens at 32x32, so attention costs the
        # same and only the embedding differs. A 1x1 conv projects the channels to dim.
        n = int(math.log2(p)) + 1
        cnn = resnet.ResNet(resnet.BasicBlock, [2] * n, in_chans=cfg.in_chans)  # resnet18's first n stages
        return nn.Sequential(OrderedDict(stem=cnn.stem, stages=cnn.stages, proj=nn.Conv2d(64 * 2 ** (n - 1), cfg.dim, 1)))
    if cfg.patch_embed == 'linear':  # a strided conv is exactly a linear map of each patch
        return nn.Conv2d(cfg.in_chans, cfg.dim, p, stride=p)
    if cfg.patch_embed == 'overlap':  # kernel p + 2*pad > stride p, padded so the grid stays img/p
        pad = (p + 1) // 2
        return nn.Conv2d(cfg.in_chans, cfg.dim, p + 2 * pad, stride=p, padding=pad)
    width = max(cfg.dim // 4, 16)  # 'conv': a small CNN stem at full resolution, then patchify
    return nn.Sequential(
        nn.Conv2d(cfg.in_chans, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.GELU(),
        nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.GELU(),
        nn.Conv2d(width, cfg.dim, p, stride=p))


# ----------------------------------------------------------------------------- model

class ViT(nn.Module):
    def __init__(self, cfg: ViTConfig):
        super().__init__()
        self.cfg = cfg
        self.pixel_norm = PatchPixelNorm(cfg) if cfg.patch_norm and cfg.patch_embed == 'linear' else nn.Identity()
        self.patch_embed = make_patch_embed(cfg)
        self.token_norm = make_norm(cfg, cfg.dim) if cfg.patch_norm else nn.Identity()
        self.cls_token = nn.Parameter(torch.zeros(1, cfg.n_cls, cfg.dim))
        self.dist = nn.Parameter(torch.zeros(1, 1, cfg.dim)) if cfg.dist_token else None
        self.reg_token = nn.Parameter(torch.zeros(1, cfg.n_reg, cfg.dim)) if cfg.n_reg else None
        add, angles = positions(cfg)
        if cfg.pos_emb == 'learned':
            self.pos_embed = nn.Parameter(add)
        else:  # fixed (sincos) or None: a buffer, not a parameter
            self.register_buffer('pos_embed', add, persistent=False)
        self.register_buffer('rope_cos', None if angles is None else angles.cos(), persistent=False)
        self.register_buffer('rope_sin', None if angles is None else angles.sin(), persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        rates = [cfg.drop_path * i / max(cfg.depth - 1, 1) for i in range(cfg.depth)]  # linear over depth
        self.blocks = nn.ModuleList(Block(cfg, r) for r in rates)
        for i, block in enumerate(self.blocks):
            block.attn.name = f"block {i}"
        self.norm = make_norm(cfg, cfg.dim)
        self.head = nn.Linear(cfg.n_cls * cfg.dim if cfg.pool == 'cls' else cfg.dim, cfg.num_classes)
        self.head_dist = nn.Linear(cfg.dim, cfg.num_classes) if cfg.dist_token else None
        if cfg.init == 'trunc_normal':
            self.apply(self._init)
        for p in (self.cls_token, self.dist, self.reg_token):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)
        if cfg.pos_emb == 'learned':
            nn.init.trunc_normal_(self.pos_embed, std=cfg.pos_std)  # cut at +-2 (absolute), as timm
        if cfg.patch_embed == 'resnet18' and cfg.init == 'trunc_normal':  # the CNN keeps a resnet18's init (PyTorch's default)
            for m in self.patch_embed[:2].modules():
                if isinstance(m, nn.Conv2d):
                    m.reset_parameters()

    @staticmethod
    def _init(m):
        """ViT paper: truncated-normal weights, zero biases."""
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def features(self, x, last_rows=None):
        """Output tokens after the final norm: (B, n_prefix + patches, dim), or only the first
        `last_rows` of them, which the last block then computes alone."""
        cfg = self.cfg
        x = self.token_norm(self.patch_embed(self.pixel_norm(x)).flatten(2).transpose(1, 2))
        prefix = [t.expand(x.shape[0], -1, -1) for t in (self.cls_token, self.dist, self.reg_token) if t is not None]
        x = torch.cat(prefix + [x], dim=1)
        add = positions(cfg, self.pos_embed)[0] if cfg.pos_emb == 'learned' else self.pos_embed  # learned: trained, so placed anew
        if add is not None:
            x = x + add.to(x.dtype)
        x = self.drop(x)
        rope = None if self.rope_cos is None else (self.rope_cos, self.rope_sin)
        for i, block in enumerate(self.blocks):
            x = block(x, rope, last_rows if i == len(self.blocks) - 1 else None)
        return self.norm(x)

    def pool(self, h):
        """What the head reads from the output tokens; the PCA study uses it as the image feature."""
        if self.cfg.pool == 'mean':
            return h[:, self.cfg.n_prefix:].mean(dim=1)
        return h[:, :self.cfg.n_cls].flatten(1)

    def forward(self, x, heads=False):
        """Logits (B, classes): with a distillation token, the mean of both heads' (DeiT's prediction), in training too.
        heads=True: (class logits, distillation logits or None), for the losses that train each head (train_loss)."""
        # pool=cls reads only the class (and distillation) tokens, so the last block computes just those
        # rows: the patch rows' queries, attention output and MLP there never reach the loss (-12.5% FLOPs at depth 6)
        cls_rows = self.cfg.n_cls + int(self.cfg.dist_token)
        h = self.features(x, cls_rows if self.cfg.pool == 'cls' else None)
        logits = self.head(self.pool(h))
        dist_logits = None if self.head_dist is None else self.head_dist(h[:, self.cfg.n_cls])
        if heads:
            return logits, dist_logits
        return logits if dist_logits is None else (logits + dist_logits) / 2

