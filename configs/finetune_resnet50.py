# ResNet-50 from torchvision's ImageNet-1k weights (IMAGENET1K_V1: 76.13% ImageNet top-1, the classic recipe), fine-tuned
# on CIFAR-10 upsampled to 224 px, on one GPU: `python train.py configs/finetune_resnet50.py` (--weights=PATH offline).
# Literature: Kornblith, Shlens & Le, "Do Better ImageNet Models Transfer Better?" (CVPR 2019, arXiv:1805.08974),
# fine-tune ImageNet networks at their input resolution with SGD (Nesterov momentum) and a tuned learning rate and
# weight decay; their fine-tuning table gives ResNet-50 96.8% on CIFAR-10 (quoted without the paper at hand: check
# it before a slide uses it). Not run yet (README, Results).
# Upsample, or adapt the stem? Not measured here (no GPU run yet); from the literature: upsampling to the weights'
# resolution is what the transfer papers that report CIFAR numbers do (Kornblith et al.; BiT resizes small images to
# 160 and crops 128; ViT and DeiT use 224-384), because every pretrained filter, the 7x7 stride-2 stem and the
# max-pool included, then sees objects at about the scale it learned. Adapting the stem (3x3 stride 1, no max-pool,
# 32 px input) costs ~3x fewer FLOPs per image but starts the stem from scratch and feeds the pretrained stages
# features at another scale and with other statistics, and no paper we know reports it matching the upsampled
# fine-tune. Per GPU-minute, a lower resolution (--img_size=128, ~3x cheaper than 224) is the first thing to measure.
model = 'resnet50'
weights = 'imagenet'    # torchvision's architecture (7x7 stem, max-pool) with a new zero-initialised 10-class head
img_size = 224          # 32 -> 224 when the data loads (bilinear, antialiased); 60,000 images take 9 GB
batch_size = 128
optimizer = 'sgd'       # Nesterov, momentum 0.9, as Kornblith et al.
lr = 0.01
min_lr = 0.0
weight_decay = 1e-4     # coupled L2 (SGD); matrices and conv kernels only
grad_clip = 0.0
label_smoothing = 0.0
epochs = 10             # 3,510 steps (45,000 images / 128)
warmup_epochs = 1       # 351 steps: the new head settles before the pretrained layers move much
