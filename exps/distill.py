"""Distillation from a ResNet-18 teacher (trained first, seed 0): the ViT alone, soft (KL at temperature
distill_tau) and hard (DeiT: a distillation token learns the teacher's labels). The teacher gets the
study's budget unless --teacher_time_limit=MINUTES gives it more: at a short budget a ResNet-18 trails
the ViT it should teach (2 CPU-minutes: 37% vs 56%), and a weaker teacher only measures the harm."""
import os

import common

args = common.parse('distill')
teacher_flags = dict(model='resnet18')
if 'teacher_time_limit' in args.extra:  # not a train.py flag: the teacher's own --time_limit
    teacher_flags['time_limit'] = args.extra.pop('teacher_time_limit')
teacher = common.run(args, [('teacher_resnet18', teacher_flags)], seeds=1)
ckpt = os.path.join(args.out_dir, 'distill', 'teacher_resnet18_s0', 'ckpt_best.pt')
grid = [('vit', {}),
        ('soft', dict(teacher=ckpt, distill='soft', distill_alpha=0.5, distill_tau=3.0)),
        ('hard', dict(teacher=ckpt, distill='hard', dist_token=True, distill_alpha=0.5))]
common.summarise(args, teacher, common.run(args, grid))
