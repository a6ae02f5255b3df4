"""Builds any `--model` from a flat config dict, and loads the models train.py saved.

train.py, the benchmark, distillation (teacher) and the analysis plots all build models here.
"""
import dataclasses
from collections import OrderedDict

import torch

import resnet
from vit import ViT, ViTConfig

MODELS = ('vit',) + tuple(resnet.BUILDERS)


def vit_config(config):
    """The ViTConfig fields of a flat config dict (train.py globals or a checkpoint's config)."""
    return ViTConfig(**{f.name: config[f.name] for f in dataclasses.fields(ViTConfig) if f.name in config})


def build_model(config):
    """config needs `model`, `num_classes`, `in_chans`, `img_size` and, for ViTs, the ViT fields."""
    if config['model'] == 'vit':
        return ViT(vit_config(config))
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
