"""configs/*.py: each is a file of plain assignments that train.py accepts, and builds the model it states."""
import json
import os

import pytest
import torch
import torchvision

from conftest import ROOT, run_train

PARAMS = {'cpu10.py': 1_276_522, 'minivit.py': 674_890, 'vit_cifar.py': 6_268_810, 'poorvits.py': 3_588_682,
          'finetune_resnet50.py': 23_528_522,  # torchvision's ResNet-50, 10-class head
          'finetune_vit_b16.py': 85_658_890}  # ViT-B/16 at the test's 32 px (2x2 patches; at 224 px: 85,806,346)
# the fine-tunes start from a saved random torchvision state dict of the full-size model (nothing downloads) and
# run at 32 px: a ViT-B/16 step at 224 px would take minutes here
PRETRAINED = {'finetune_resnet50.py': 'resnet50', 'finetune_vit_b16.py': 'vit_b_16'}
CONFIGS = sorted(f for f in os.listdir(os.path.join(ROOT, 'configs')) if f.endswith('.py'))


def read(name):
    namespace = {}
    exec(open(os.path.join(ROOT, 'configs', name)).read(), {}, namespace)
    return namespace


def test_every_config_is_listed():
    assert set(CONFIGS) == set(PARAMS)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_trains_and_builds_stated_model(name, tmp_path):
    """One step on synthetic data with the file's model and optimiser; the data-side flags are overridden
    only where synthetic data needs it (small batches, no worker processes)."""
    args = [f'configs/{name}', '--dataset=synthetic', '--val_size=100', '--batch_size=50',
            '--max_steps=1', '--time_limit=0', '--workers=0', f'--out_dir={tmp_path}', '--name=run']
    if name in PRETRAINED:
        torch.save(getattr(torchvision.models, PRETRAINED[name])().state_dict(), tmp_path / 'weights.pth')
        args += [f'--weights={tmp_path}/weights.pth', '--img_size=32']
    p = run_train(*args)  # in this process: no interpreter start-up
    assert p.returncode == 0, p.stderr[-2000:]
    log = json.load(open(tmp_path / 'run' / 'log.json'))
    assert log['status'] == 'done'
    for key, value in read(name).items():
        if key not in ('batch_size', 'workers', 'time_limit', 'weights', 'img_size'):  # the ones this test overrides
            assert log['config'][key] == value, key
    assert log['model']['params'] == PARAMS[name]


def test_minivit_schedule_matches_reference_steps():
    """The reference: 250 epochs of 3 passes x 50,000 images at batch 512 = 292 steps each, 73,000 steps,
    2,920 of warmup. Ours: one pass over the 45,000 images val_size leaves per epoch."""
    c = read('minivit.py')
    steps_per_epoch = (50_000 - 5_000) // c['batch_size']
    total = c['epochs'] * steps_per_epoch
    assert abs(total - 73_000) / 73_000 < 0.002
    assert abs(total * c['warmup_epochs'] / c['epochs'] - 2_920) / 2_920 < 0.02
