"""Distillation from a ResNet-18 teacher (trained first, seed 0, same budget): the ViT alone, soft
(KL at temperature distill_tau) and hard (DeiT: a distillation token learns the teacher's labels)."""
import os

import common

args = common.parse('distill')
teacher = common.run(args, [('teacher_resnet18', dict(model='resnet18'))], seeds=1)
ckpt = os.path.join(args.out_dir, 'distill', 'teacher_resnet18_s0', 'ckpt_best.pt')
grid = [('vit', {}),
        ('soft', dict(teacher=ckpt, distill='soft', distill_alpha=0.5, distill_tau=3.0)),
        ('hard', dict(teacher=ckpt, distill='hard', dist_token=True, distill_alpha=0.5))]
common.summarise(args, teacher, common.run(args, grid))
