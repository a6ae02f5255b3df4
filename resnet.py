"""CIFAR ResNets (He et al. 2016, as adapted for 32x32 inputs: 3x3 stem, no max-pool).

`model.features(x)` returns the pooled penultimate features (the PCA study reads them).
"""
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in, c, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.shortcut = shortcut(c_in, c, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in, c, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.conv3 = nn.Conv2d(c, 4 * c, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * c)
        self.shortcut = shortcut(c_in, 4 * c, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return F.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


def shortcut(c_in, c_out, stride):
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=10, in_chans=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_chans, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        stages, c_in = [], 64
        for i, n in enumerate(layers):
            c = 64 * 2 ** i
            for j in range(n):
                stages.append(block(c_in, c, 2 if (i > 0 and j == 0) else 1))
                c_in = c * block.expansion
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(c_in, num_classes)

    def features(self, x):
        return F.adaptive_avg_pool2d(self.stages(self.stem(x)), 1).flatten(1)

    def forward(self, x):
        return self.fc(self.features(x))


def resnet18(num_classes=10, in_chans=3):
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_chans)


def resnet34(num_classes=10, in_chans=3):
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, in_chans)


def resnet50(num_classes=10, in_chans=3):
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_chans)


BUILDERS = {'resnet18': resnet18, 'resnet34': resnet34, 'resnet50': resnet50}
