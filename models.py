"""Builds any `--model` from a flat config dict, and loads the models train.py saved.

train.py, the benchmark, distillation (teacher) and the analysis plots all build models here.
"""
import dataclasses

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
