"""Builds any `--model` from a flat config dict, loads the models train.py saved, and starts one from
torchvision's ImageNet weights (--weights).

train.py, the benchmark, distillation (teacher) and the analysis plots all build models here.
"""
import dataclasses
import functools
import math
import os
from collections import OrderedDict

import torch
import torch.nn.functional as F

import resnet
from vit import ViT, ViTConfig

MODELS = ('vit',) + tuple(resnet.BUILDERS)


def vit_config(config):
    """The ViTConfig fields of a flat config dict (train.py globals or a checkpoint's config)."""
    return ViTConfig(**{f.name: config[f.name] for f in dataclasses.fields(ViTConfig) if f.name in config})


def build_model(config):
    """config needs `model`, `num_classes`, `in_chans`, `img_size` and, for ViTs, the ViT fields. With `weights`
    set, a ResNet is torchvision's ImageNet architecture (the one its weights fit), not the CIFAR one."""
    if config['model'] == 'vit':
        return ViT(vit_config(config))
    if config.get('weights') and config['model'] in IMAGENET_RESNETS:
        return imagenet_resnet(config['model'], config['num_classes'])
    if config['model'] in resnet.BUILDERS:
        return resnet.BUILDERS[config['model']](config['num_classes'], config['in_chans'])
    raise ValueError(f"model={config['model']!r} is not one of {', '.join(MODELS)}")


def compile_model(net):
    """torch.compile, in place. A ViT's blocks share one forward, so compiling block by block (regional
    compilation) generates its code once for all of them: the same step speed as compiling the whole model,
    at about 3/4 of the cold compile time on this CPU (README, Speed). state_dict keys stay unchanged."""
    if not hasattr(net, 'blocks'):
        return torch.compile(net)
    for block in net.blocks:
        block.compile()
    return net


def load_model(path, device='cpu'):
    """The model a train.py checkpoint holds, rebuilt from the config saved with it.
    Raises ValueError naming the file when it is not a readable checkpoint."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=False)
        model = build_model(ckpt['config'])
        model.load_state_dict(ckpt['model'])
    except FileNotFoundError:
        raise ValueError(f"checkpoint {path!r} does not exist") from None
    except Exception as e:
        raise ValueError(f"checkpoint {path!r} is not a readable train.py checkpoint ({type(e).__name__}: {e})") from None
    return model.to(device), ckpt['config']


def load_resnet_stem(net, path, device='cpu'):
    """--stem_init: copy the stem and stages of a train.py resnet18 checkpoint into the patch embedding of a
    patch_embed=resnet18 ViT (BatchNorm statistics included; the 1x1 projection keeps its init). ValueError
    naming the file when it is not a resnet18 or does not fit (other input channels)."""
    resnet_net, cfg = load_model(path, device)
    if cfg.get('model') != 'resnet18':
        raise ValueError(f"stem_init {path!r} holds a model={cfg.get('model')} checkpoint; the stem needs a resnet18 one")
    cnn = net.patch_embed[:2]  # stem and stages, named as in resnet.ResNet
    source = torch.nn.Sequential(OrderedDict(stem=resnet_net.stem, stages=resnet_net.stages[:len(cnn.stages)]))
    try:
        cnn.load_state_dict(source.state_dict())
    except RuntimeError as e:
        why = ' '.join(str(e).split())
        raise ValueError(f"stem_init {path!r} (trained with in_chans={cfg.get('in_chans')}) does not fit this "
                         f"stem: {why[:300]}") from None


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def flops_per_image(model, img_shape):
    """Forward FLOPs for one image, counted by torch.utils.flop_counter (matmuls, convs, SDPA)."""
    from torch.utils.flop_counter import FlopCounterMode
    was_training = model.training
    model.eval()
    x = torch.zeros(1, *img_shape, device=next(model.parameters()).device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    model.train(was_training)
    return counter.get_total_flops()


# ----------------------------------------------------------------------------- pretrained weights (--weights)
# torchvision's ImageNet-1k weights per --model, IMAGENET1K_V1: for the ResNets the classic recipe (ResNet-50 76.1%
# top-1, the weights most transfer papers fine-tuned); for the ViT, vit_b_16 (81.1%). Any other torchvision state dict
# of these architectures loads from a file (--weights=PATH), e.g. IMAGENET1K_V2 saved on a machine with internet.
IMAGENET = {'resnet18': 'ResNet18_Weights', 'resnet34': 'ResNet34_Weights', 'resnet50': 'ResNet50_Weights',
            'vit': 'ViT_B_16_Weights'}
IMAGENET_RESNETS = {'resnet18': ('BasicBlock', [2, 2, 2, 2]), 'resnet34': ('BasicBlock', [3, 4, 6, 3]),
                    'resnet50': ('Bottleneck', [3, 4, 6, 3])}  # torchvision.models.resnet's block, layers
# the input normalisation those weights were trained with; train.py uses it for every --weights run
IMAGENET_MEAN, IMAGENET_STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
# how our ViT must be configured to compute what torchvision's VisionTransformer computes (pre-norm blocks, exact
# GELU, LayerNorm eps 1e-6, qkv biases, learned positions that include the class token's, head on the class token)
VIT_AS_TORCHVISION = dict(patch_embed='linear', patch_init='default', patch_norm=False, norm='layernorm', norm_eps=1e-6,
                          ffn='gelu', attn='mha', qk_norm=False, pos_emb='learned', cls_pos=True, pool='cls', n_cls=1,
                          n_reg=0, dist_token=False, layerscale=0.0, bias=True, head_dim=0)


@functools.cache
def imagenet_resnet_class():
    """torchvision's ImageNet ResNet (7x7 stride-2 stem and max-pool, made for 224 px), with the features() that
    the analysis reads, as resnet.ResNet has. Built on first use: importing torchvision pulls in torch._dynamo,
    which would double the start-up time of every train.py that never needs it."""
    import torchvision

    class ImageNetResNet(torchvision.models.ResNet):
        def features(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            return torch.flatten(self.avgpool(self.layer4(self.layer3(self.layer2(self.layer1(x))))), 1)
    return ImageNetResNet


def imagenet_resnet(model, num_classes=1000):
    import torchvision
    block, layers = IMAGENET_RESNETS[model]
    return imagenet_resnet_class()(getattr(torchvision.models.resnet, block), layers, num_classes=num_classes)


def weights_file(model, weights):
    """The state-dict file that --weights names: PATH itself, or for 'imagenet' torchvision's file in the torch.hub
    cache (downloaded there if missing and the internet is reachable). ValueError naming --weights otherwise."""
    if model not in IMAGENET:
        raise ValueError(f"--weights loads torchvision's ImageNet architectures: --model must be one of "
                         f"{', '.join(IMAGENET)}, not {model}")
    import torchvision  # here, not at the top: see imagenet_resnet_class
    url = getattr(torchvision.models, IMAGENET[model]).IMAGENET1K_V1.url
    if weights != 'imagenet':
        if not os.path.isfile(weights):
            raise ValueError(f"--weights={weights}: no such file; it takes a saved torchvision state dict "
                             f"(torch.save(model.state_dict(), PATH); torchvision's own for --model={model}: {url}) or imagenet")
        return weights
    path = os.path.join(torch.hub.get_dir(), 'checkpoints', os.path.basename(url))
    if not os.path.isfile(path):
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            torch.hub.download_url_to_file(url, path, progress=False)
        except Exception as e:  # offline: URLError; a read-only cache: OSError
            raise ValueError(f"--weights=imagenet: {path} is missing and {url} cannot be downloaded here "
                             f"({type(e).__name__}); put that file at that path, or pass --weights=PATH") from None
    return path


def read_weights(config):
    """The state dict --weights names, checked against the config before any data loads (ValueError naming --weights)."""
    path = weights_file(config['model'], config['weights'])
    try:
        sd = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:
        raise ValueError(f"--weights={path}: not a readable state dict ({type(e).__name__}: {' '.join(str(e).split())[:200]})") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ValueError(f"--weights={path}: holds a {type(sd).__name__}, not a state dict (a dict of tensors: model.state_dict())")
    if config['model'] != 'vit':
        # BatchNorm counters are optional: the V1 files predate them (BatchNorm adds them when it loads)
        want = {k for k in imagenet_resnet(config['model']).state_dict() if not k.endswith('num_batches_tracked')}
        if want - set(sd) or {k for k in sd if not k.endswith('num_batches_tracked')} - want:
            raise ValueError(f"--weights={path}: not a torchvision {config['model']} state dict (missing: "
                             f"{', '.join(sorted(want - set(sd)))[:150]}; unexpected: {', '.join(sorted(set(sd) - want))[:150]})")
        return sd
    fc1 = next((v for k, v in sd.items() if k.endswith(('.mlp.0.weight', '.mlp.linear_1.weight'))), None)
    if 'conv_proj.weight' not in sd or fc1 is None:
        raise ValueError(f"--weights={path}: not a torchvision VisionTransformer state dict (no conv_proj.weight or mlp.0.weight)")
    dim, _, patch = sd['conv_proj.weight'].shape[:3]
    want = dict(VIT_AS_TORCHVISION, dim=dim, patch_size=patch, depth=sum(k.endswith('.ln_1.weight') for k in sd),
                mlp_ratio=fc1.shape[0] / dim)
    if dim in (768, 1024, 1280):  # torchvision's B, L, H: heads 64 wide (a state dict does not say how its width splits)
        want['heads'] = dim // 64
    bad = {k: v for k, v in want.items() if config[k] != v}
    if bad:
        raise ValueError(f"--weights={config['weights']}: torchvision's ViT needs " + ' '.join(f"--{k}={v}" for k, v in bad.items())
                         + " (configs/finetune_vit_b16.py sets them for vit_b_16)")
    return sd


def resize_pos_embed(pos, n_prefix, grid):
    """Learned positions (1, n_prefix + g*g, dim) for a grid x grid patch grid: the patch part resampled bicubically
    over its 2-D grid (antialiased, as timm does, so that shrinking 14x14 to 2x2 averages rather than picks), the
    prefix tokens' positions kept. Same grid: returned unchanged."""
    old = math.isqrt(pos.shape[1] - n_prefix)
    if old == grid:
        return pos
    patches = pos[:, n_prefix:].reshape(1, old, old, -1).permute(0, 3, 1, 2).float()
    patches = F.interpolate(patches, size=(grid, grid), mode='bicubic', antialias=True, align_corners=False)
    return torch.cat([pos[:, :n_prefix], patches.permute(0, 2, 3, 1).reshape(1, grid * grid, -1).to(pos.dtype)], dim=1)


def vit_from_torchvision(sd, cfg):
    """A torchvision VisionTransformer state dict as our ViT's (cfg as VIT_AS_TORCHVISION says): the same numbers,
    tests/test_pretrained.py. Positions are resized to cfg's grid; the head is kept only if its classes match."""
    out = {'patch_embed.weight': sd['conv_proj.weight'], 'patch_embed.bias': sd['conv_proj.bias'],
           'cls_token': sd['class_token'], 'pos_embed': resize_pos_embed(sd['encoder.pos_embedding'], 1, cfg.grid),
           'norm.weight': sd['encoder.ln.weight'], 'norm.bias': sd['encoder.ln.bias']}
    # in_proj stacks q, k, v (each heads x head width, heads contiguous) like our fused qkv; mlp.0/3 were linear_1/2
    names = {'ln_1.': 'norm1.', 'ln_2.': 'norm2.', 'self_attention.in_proj_': 'attn.qkv.', 'self_attention.out_proj.': 'attn.proj.',
             'mlp.0.': 'mlp.fc1.', 'mlp.3.': 'mlp.fc2.', 'mlp.linear_1.': 'mlp.fc1.', 'mlp.linear_2.': 'mlp.fc2.'}
    layer = 'encoder.layers.encoder_layer_'
    for key, value in sd.items():
        i, _, rest = key.removeprefix(layer).partition('.')
        old = next((o for o in names if rest.startswith(o)), None)
        if key.startswith(layer) and old:
            out[f"blocks.{i}.{names[old]}{rest[len(old):]}"] = value
    if sd.get('heads.head.weight') is not None and sd['heads.head.weight'].shape[0] == cfg.num_classes:
        out['head.weight'], out['head.bias'] = sd['heads.head.weight'], sd['heads.head.bias']
    return out


def load_weights(net, sd):
    """Load a read_weights state dict into a built model. The head (ResNet fc, ViT head) loads when its classes
    match, else it starts at zero, as the ViT paper fine-tunes. ValueError when the state dict does not fit."""
    head = 'head' if isinstance(net, ViT) else 'fc'
    if isinstance(net, ViT):
        used = {k for k in sd if k.startswith('encoder.layers.') or k in ('conv_proj.weight', 'conv_proj.bias', 'class_token',
                'encoder.pos_embedding', 'encoder.ln.weight', 'encoder.ln.bias', 'heads.head.weight', 'heads.head.bias')}
        if used != set(sd):
            raise ValueError(f"--weights: parts of this ViT state dict have no place in ours: {', '.join(sorted(set(sd) - used))[:300]}")
        sd = vit_from_torchvision(sd, net.cfg)
    elif sd.get('fc.weight') is not None and sd['fc.weight'].shape != net.fc.weight.shape:
        sd = {k: v for k, v in sd.items() if not k.startswith('fc.')}  # ImageNet's 1000 classes: a new head
    try:
        missing, unexpected = net.load_state_dict(sd, strict=False)
    except RuntimeError as e:  # shapes differ
        raise ValueError(f"--weights: does not fit this model: {' '.join(str(e).split())[:400]}") from None
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    if unexpected or set(missing) - {f'{head}.weight', f'{head}.bias'}:
        raise ValueError(f"--weights: does not fit this model (missing: {', '.join(missing)[:200]}; "
                         f"unexpected: {', '.join(unexpected)[:200]})")
    if missing:
        with torch.no_grad():
            getattr(net, head).weight.zero_()
            getattr(net, head).bias.zero_()
