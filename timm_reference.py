"""Reference run: train.py exactly as it is (data, schedule, optimizer, budget, log), but with timm's
VisionTransformer built from the same flags in place of vit.py's ViT. Needs `pip install timm`.

    python timm_reference.py --time_limit=10 --dataset=imagefolder --data_dir=/tmp/data/cifar10 --name=timm_vit
"""
import os
import runpy
import sys

from timm.models.vision_transformer import VisionTransformer

import models

models.build_model = lambda c: VisionTransformer(
    img_size=c['img_size'], patch_size=c['patch_size'], in_chans=c['in_chans'], num_classes=c['num_classes'],
    embed_dim=c['dim'], depth=c['depth'], num_heads=c['heads'], mlp_ratio=c['mlp_ratio'])
sys.argv[0] = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'train.py')
runpy.run_path(sys.argv[0], run_name='__main__')
