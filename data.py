"""Datasets as uint8 tensors, a fixed validation split, and batches augmented on the device.

Every dataset becomes a dict of uint8 (N, C, H, W) image tensors and int64 labels. CIFAR-sized data
sits whole on the training device; crop, flip and normalisation run there on whole batches.
"""
import os

import torch
import torch.nn.functional as F

DATASETS = ('cifar10', 'cifar100', 'imagefolder', 'synthetic')
VAL_SPLIT_SEED = 0  # fixed, so every run of every seed validates on the same images


class DataError(Exception):
    """Missing or malformed data; train.py prints the message without a traceback."""


def load_dataset(name, data_dir):
    """Returns dict(train_x, train_y, test_x, test_y, classes) with uint8 NCHW images."""
    if name not in DATASETS:
        raise DataError(f"dataset={name!r} is not one of {', '.join(DATASETS)}")
    if name == 'synthetic':
        return synthetic()
    if name == 'imagefolder':
        return imagefolder(data_dir)
    return torchvision_cifar(name, data_dir)


def torchvision_cifar(name, data_dir):
    from torchvision import datasets
    cls = datasets.CIFAR10 if name == 'cifar10' else datasets.CIFAR100
    try:
        splits = [cls(data_dir, train=t, download=True) for t in (True, False)]
    except Exception as e:  # no network, a read-only folder, a broken archive
        raise DataError(f"could not load {name} from data_dir={data_dir!r} ({e}). torchvision downloads it "
                        f"there when online; offline, copy the python-version archive there, or use "
                        f"dataset=imagefolder with data_dir pointing at train/ and test/ class folders") from None
    out = {'classes': list(splits[0].classes)}
    for split, ds in zip(('train', 'test'), splits):
        out[f'{split}_x'] = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        out[f'{split}_y'] = torch.tensor(ds.targets, dtype=torch.long)
    return out


def imagefolder(data_dir):
    """Any data_dir/{train,test}/<class>/<image> tree. Decoded once, then cached next to the data as
    a uint8 tensor file (decoding 60k JPEGs takes a minute; loading the cache well under a second)."""
    cache = os.path.join(data_dir, 'vitlab_cache.pt')
    if os.path.exists(cache) and os.path.getmtime(cache) >= max(
            os.path.getmtime(os.path.join(data_dir, s)) for s in ('train', 'test')):
        return torch.load(cache)
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes
    from PIL import Image
    from torchvision.transforms.v2.functional import pil_to_tensor
    out = {}
    for split in ('train', 'test'):
        root = os.path.join(data_dir, split)
        if not os.path.isdir(root):
            raise DataError(f"data_dir={data_dir!r} has no {split}/ folder; expected {split}/<class>/<image> "
                            f"(the shared CIFAR-10 copy unpacks to .../cifar10, see README)")
        classes, _ = find_classes(root)
        if split == 'test' and classes != out['classes']:
            raise DataError(f"train/ and test/ in {data_dir!r} have different class folders: "
                            f"{sorted(set(classes) ^ set(out['classes']))}")
        out['classes'] = classes
        images, labels = [], []
        for label, c in enumerate(classes):
            for f in sorted(os.listdir(os.path.join(root, c))):
                if not f.lower().endswith(IMG_EXTENSIONS):
                    continue
                path = os.path.join(root, c, f)
                try:
                    with Image.open(path) as im:  # PIL: torchvision.io's decoders are deprecated
                        images.append(pil_to_tensor(im))
                except Exception as e:
                    raise DataError(f"cannot decode image {path}: {e}") from None
                labels.append(label)
        if not images:
            raise DataError(f"no images found under {root}/<class>/ (extensions: {', '.join(IMG_EXTENSIONS)})")
        shapes = {tuple(im.shape) for im in images}
        if len(shapes) > 1:
            raise DataError(f"images under {root} differ in shape {sorted(shapes)[:4]}; resize them to one size first")
        out[f'{split}_x'] = torch.stack(images)
        out[f'{split}_y'] = torch.tensor(labels)
    if out['train_x'].shape[1:] != out['test_x'].shape[1:]:
        raise DataError(f"train images are {tuple(out['train_x'].shape[1:])} but test images are "
                        f"{tuple(out['test_x'].shape[1:])} in {data_dir!r}")
    try:
        torch.save(out, cache + '.tmp')
        os.replace(cache + '.tmp', cache)
    except OSError:
        pass  # read-only data folder: decode again next time
    return out


def synthetic(n_train=600, n_test=200, n_classes=10, size=32, seed=0):
    """Small data with real class structure, for tests: each class is a fixed random low-frequency
    pattern; images are that pattern plus noise and a random shift, so a model can learn it."""
    g = torch.Generator().manual_seed(seed)
    templates = F.interpolate(torch.rand(n_classes, 3, 4, 4, generator=g), size=size, mode='bilinear')

    def draw(n):
        y = torch.arange(n) % n_classes
        x = templates[y] + 0.35 * torch.randn(n, 3, size, size, generator=g)
        x = torch.roll(x, shifts=int(torch.randint(-2, 3, (1,), generator=g)), dims=3)
        return (x.clamp(0, 1) * 255).to(torch.uint8), y
    train_x, train_y = draw(n_train)
    test_x, test_y = draw(n_test)
    return dict(train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y,
                classes=[f'class{i}' for i in range(n_classes)])


def split_train_val(x, y, val_size, subset=0):
    """Hold out val_size training images (fixed seed); optionally keep only `subset` of the rest."""
    if not 0 <= val_size < len(x):
        raise DataError(f"val_size={val_size} must be in [0, {len(x)}) for this dataset ({len(x)} training images)")
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(VAL_SPLIT_SEED))
    val_idx, train_idx = perm[:val_size], perm[val_size:]
    if subset:
        if not 0 < subset <= len(train_idx):
            raise DataError(f"subset={subset} must be in [1, {len(train_idx)}] (training images left after val_size)")
        train_idx = train_idx[:subset]
    return (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx])


def channel_stats(x):
    """Per-channel mean and std of uint8 images, in [0, 1] units."""
    x = x[:10000].float() / 255
    return x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))


def random_crop_flip(x, pad=4):
    """Pad-`pad` random crop and horizontal flip, one draw per image, on whole uint8 batches."""
    B, C, H, W = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (B,), device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (B,), device=x.device)
    rows = (dy[:, None] + torch.arange(H, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(W, device=x.device))[:, None, None, :]
    out = padded[torch.arange(B, device=x.device)[:, None, None, None], torch.arange(C, device=x.device)[None, :, None, None], rows, cols]
    flip = torch.rand(B, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


class Loader:
    """Iterates over (images, labels) batches of a uint8 tensor kept on `device`.

    train=True: reshuffle each epoch, drop the last partial batch, crop and flip.
    Images come out normalised float32 (autocast casts them as the model needs)."""

    def __init__(self, x, y, batch_size, device, mean, std, train=False, crop_flip=True, seed=0):
        self.x, self.y = x.to(device), y.to(device)
        self.batch_size, self.train, self.crop_flip = batch_size, train, crop_flip
        self.mean = mean.to(device)[None, :, None, None]
        self.std = std.to(device)[None, :, None, None]
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def __len__(self):
        n = len(self.x)
        return n // self.batch_size if self.train else -(-n // self.batch_size)

    def normalize(self, x):
        return (x.float() / 255 - self.mean) / self.std

    def __iter__(self):
        n = len(self.x)
        order = torch.randperm(n, device=self.x.device, generator=self.generator) if self.train else None
        for i in range(len(self)):
            sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
            idx = order[sl] if order is not None else sl
            x, y = self.x[idx], self.y[idx]
            if self.train and self.crop_flip:
                x = random_crop_flip(x)
            yield self.normalize(x), y
