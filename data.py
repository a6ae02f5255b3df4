"""Datasets as uint8 tensors, a fixed validation split, and batches augmented on the device.

Every dataset becomes a dict of uint8 (N, C, H, W) image tensors and int64 labels. CIFAR-sized data
sits whole on the training device; crop, flip, normalisation, random erasing and mixup/cutmix run there
on whole batches. Per-image policies (AutoAugment, ...) run in DataLoader worker processes on the host
uint8 tensor and are prefetched, so they overlap the model step (see Loader).
"""
import math
import os
import random
import time

import torch
import torch.nn.functional as F

DATASETS = ('cifar10', 'cifar100', 'imagefolder', 'synthetic')
# imagefolder: the files taken as images (torchvision's IMG_EXTENSIONS and .gif; importing torchvision to read
# its list would add ~1 s to every cached load)
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.pgm', '.bmp', '.tif', '.tiff', '.webp', '.gif')
VAL_SPLIT_SEED = 0  # fixed, so every run of every seed validates on the same images


class DataError(Exception):
    """Missing or malformed data; train.py prints the message without a traceback."""


def load_dataset(name, data_dir, img_size=0):
    """Returns dict(train_x, train_y, test_x, test_y, classes, skipped) with uint8 NCHW images; img_size > 0:
    every image resized (shorter side) and center-cropped to img_size x img_size. `skipped`: the files that
    could not be read (imagefolder)."""
    if name not in DATASETS:
        raise DataError(f"dataset={name!r} is not one of {', '.join(DATASETS)}")
    if name == 'imagefolder':
        return imagefolder(data_dir, img_size)
    ds = synthetic() if name == 'synthetic' else torchvision_cifar(name, data_dir)
    if img_size and ds['train_x'].shape[-2:] != (img_size, img_size):
        check_memory(len(ds['train_x']) + len(ds['test_x']), (3, img_size, img_size), f"{name} at img_size={img_size}")
        ds['train_x'], ds['test_x'] = resize_crop(ds['train_x'], img_size), resize_crop(ds['test_x'], img_size)
    return dict(ds, skipped=[])


def resize_crop(x, size, chunk=1000):
    """uint8 images (N, C, H, W): shorter side resized to `size` (bilinear, antialiased), then the center crop."""
    from torchvision.transforms.v2 import functional as TF
    out = torch.empty(len(x), x.shape[1], size, size, dtype=torch.uint8)
    for i in range(0, len(x), chunk):
        out[i:i + chunk] = TF.center_crop(TF.resize(x[i:i + chunk], size, antialias=True), size)
    return out


def available_memory():
    """Bytes of host memory available now (Linux MemAvailable), or None where unknown."""
    try:
        with open('/proc/meminfo') as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith('MemAvailable:'))
    except (OSError, StopIteration, ValueError):
        return None


def check_memory(n_images, shape, what, device='cpu'):
    """DataError with the estimate, before the images are decoded or copied, when n_images uint8 images of
    `shape` will not fit: on the host twice the data (the train/val split copies it) in the memory available
    now; on a GPU, where the loaders keep every image, the data in its free memory."""
    need = n_images * math.prod(shape)
    if torch.device(device).type == 'cuda':
        free, factor, where = torch.cuda.mem_get_info(torch.device(device))[0], 1, f"{device} memory is free"
    else:
        free, factor, where = available_memory(), 2, "memory is available"
    if free is not None and factor * need > free:
        raise DataError(f"{what}: {n_images:,} images of {'x'.join(map(str, shape))} are {need / 2**30:.1f} GiB as uint8"
                        + (f" ({factor * need / 2**30:.1f} GiB while the train/val split copies them)" if factor > 1 else '')
                        + f" but {free / 2**30:.1f} GiB of {where}; pass a smaller --img_size or use fewer images")


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


def make_jpeg(out_dir, data_dir='data', name='cifar10'):
    """torchvision's CIFAR-10 (or -100) written as the JPEG image folder the committed results were measured on:
    out_dir/{train,test}/<class>/NNNN.jpg, NNNN counting each class's images from 0 in torchvision's order,
    encoded by PIL at quality 75 with 4:2:0 chroma subsampling (the shared copy's JPEG headers are byte for byte
    the ones these settings write). Returns the number of images written."""
    from PIL import Image
    if os.path.exists(os.path.join(out_dir, 'train')) or os.path.exists(os.path.join(out_dir, 'test')):
        raise DataError(f"{out_dir!r} already has a train/ or test/ folder; remove it or pick another folder")
    ds = torchvision_cifar(name, data_dir)
    n = 0
    for split in ('train', 'test'):
        counts = [0] * len(ds['classes'])
        for c in ds['classes']:
            os.makedirs(os.path.join(out_dir, split, c))
        for img, label in zip(ds[f'{split}_x'].permute(0, 2, 3, 1).numpy(), ds[f'{split}_y'].tolist()):
            path = os.path.join(out_dir, split, ds['classes'][label], f'{counts[label]:04d}.jpg')
            Image.fromarray(img).save(path, 'JPEG', quality=75, subsampling=2)  # subsampling 2 = 4:2:0
            counts[label] += 1
            n += 1
    return n


CACHE_VERSION = 3  # bump when decoding changes what a cache holds (2: RGB, img_size, unreadable files skipped;
#                   3: a folder that is grayscale throughout keeps one channel)


def list_images(data_dir):
    """{split: (classes, [(path, label)])} for data_dir/{train,test}/<class>/**/<image>, sorted (subfolders
    of a class folder belong to it, as in torchvision's ImageFolder; hidden files and folders are not
    images), and the modification times of the folders, which change when a file is added, removed or renamed."""
    out, mtimes = {}, []
    for split in ('train', 'test'):
        root = os.path.join(data_dir, split)
        if not os.path.isdir(root):
            raise DataError(f"data_dir={data_dir!r} has no {split}/ folder; expected {split}/<class>/<image> "
                            f"(the shared CIFAR-10 copy unpacks to .../cifar10, see README)")
        classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith('.'))
        if split == 'test' and classes != out['train'][0]:
            raise DataError(f"train/ and test/ in {data_dir!r} have different class folders: "
                            f"{sorted(set(classes) ^ set(out['train'][0]))}")
        files, seen = [], set()
        for label, c in enumerate(classes):
            for folder, subfolders, names in os.walk(os.path.join(root, c), followlinks=True):
                if os.path.realpath(folder) in seen:  # a symlink back up the tree: os.walk would list it again and again
                    subfolders[:] = []
                    continue
                seen.add(os.path.realpath(folder))
                subfolders[:] = sorted(d for d in subfolders if not d.startswith('.'))
                mtimes.append(os.stat(folder).st_mtime_ns)
                files += [(folder + os.sep + f, label) for f in sorted(names)  # (join: 3x slower for 60k files)
                          if f.lower().endswith(IMAGE_EXTENSIONS) and f[0] != '.']  # ._x.jpg: macOS metadata
        if not files:
            raise DataError(f"no images found under {root}/<class>/ (extensions: {', '.join(IMAGE_EXTENSIONS)})")
        out[split] = (classes, files)
    return out, mtimes


def cache_path(data_dir, img_size, files, mtimes):
    """data_dir/vitlab_cache_<hash>.pt, the hash over everything that changes the decoded tensors: the
    folder, img_size, the file list, the folders' modification times and the decoder's version. (A file
    rewritten in place under the same name changes none of them: delete the cache files then.)"""
    import hashlib
    h = hashlib.sha1(f"{CACHE_VERSION}\0{os.path.realpath(data_dir)}\0{img_size}\0{mtimes}".encode())
    for split in ('train', 'test'):
        h.update('\0'.join(p[len(data_dir):].lstrip(os.sep) for p, _ in files[split][1])
                 .encode(errors='surrogateescape'))  # relative paths; names that are not UTF-8 too
    return os.path.join(data_dir, f'vitlab_cache_{h.hexdigest()[:16]}.pt')


def read_cache(path):
    """The cached dataset, or None when there is none or it cannot be read (it is then decoded again)."""
    try:
        out = torch.load(path, mmap=True)  # no copy: the pages come straight from the file (cache)
        out['train_x'], out['train_y'], out['test_x'], out['test_y'], out['classes'], out['skipped']
        return out
    except Exception:  # missing, truncated, garbage, another format
        return None


GRAY_MODES = ('1', 'L', 'LA', 'La', 'I', 'I;16', 'I;16B', 'I;16L', 'F')  # PIL modes without colour


def decode(path, img_size):
    """One image file as uint8 (C, H, W): C = 1 for a grayscale mode (16-bit and alpha included), else 3 (RGB:
    palette, RGBA with alpha dropped as torchvision's ImageFolder does, CMYK, ...); img_size > 0: shorter side
    resized, then center-cropped."""
    from PIL import Image
    from torchvision.transforms.v2 import functional as TF
    with Image.open(path) as im:  # PIL: torchvision.io's decoders are deprecated
        if img_size:
            im.draft('RGB', (img_size, img_size))  # JPEG: decode big photos at 1/2, 1/4 or 1/8 scale, still >= img_size
        if im.mode in ('I;16', 'I;16B', 'I;16L', 'I'):  # 16-bit grayscale: 'L' would clip it, keep the high byte
            im = im.convert('I').point(lambda v: v / 256)
        if im.mode in GRAY_MODES:
            im = im.convert('L')
        elif im.mode != 'RGB':
            im = im.convert('RGBA' if im.mode in ('P', 'PA') else 'RGB').convert('RGB')  # palette: via RGBA, no warning
        if img_size and im.size != (img_size, img_size):
            im = TF.center_crop(TF.resize(im, img_size), img_size)
        return TF.pil_to_tensor(im)


def to_rgb(x):
    """uint8 grayscale (..., 1, H, W) as three equal channels; (..., 3, H, W) as it is."""
    return x.expand(*x.shape[:-3], 3, *x.shape[-2:]).contiguous() if x.shape[-3] == 1 else x


def imagefolder(data_dir, img_size=0):
    """Any data_dir/{train,test}/<class>/<image> tree, of any mix of sizes, modes and formats PIL reads, as 8-bit
    images: one channel when every image of both splits is grayscale (MNIST-like sets train with in_chans=1),
    else RGB for all (a grayscale image among colour ones gets three equal channels). img_size > 0: resized (shorter
    side) and center-cropped to img_size x img_size; 0: every image must have the same size. A file that
    cannot be read is skipped and listed in 'skipped'. Decoded once, then cached next to the data as a
    uint8 tensor file (CIFAR-10's 60k JPEGs: 6-8 s to decode on a 2-core AMD EPYC CPU, 0.07 s from the cache)."""
    from PIL import Image
    files, mtimes = list_images(data_dir)
    n = sum(len(f) for _, f in files.values())
    for path, _ in files['train'][1][:20]:  # the memory estimate needs one image size: the first readable image's
        try:
            with Image.open(path) as im:
                size = im.size
            break
        except Exception:
            continue
    else:
        size = (0, 0)  # none of them opens: the decode below reports it
    if img_size:
        size = (img_size, img_size)
    check_memory(n, (3, size[1], size[0]), f"imagefolder {data_dir!r}" + (f" at img_size={img_size}" if img_size else ''))
    cache = cache_path(data_dir, img_size, files, mtimes)
    out = read_cache(cache)
    if out is None and img_size:  # the native-size cache serves img_size too when its images are that size already
        out = read_cache(cache_path(data_dir, 0, files, mtimes))
        if out is not None and (out['train_x'].shape[-2:] != size or out['test_x'].shape[-2:] != size):
            out = None
    if out is not None:
        return out
    out = {'classes': files['train'][0], 'skipped': []}
    for split in ('train', 'test'):
        x, labels, first = None, [], None
        for path, label in files[split][1]:
            try:
                im = decode(path, img_size)
            except Exception as e:  # skip, and say so (train.py logs the list): one bad file must not stop a run
                why = f"{os.path.relpath(path, data_dir)} ({type(e).__name__}: {e})"[:300]
                out['skipped'].append(why.encode(errors='backslashreplace').decode())  # printable, even a non-UTF-8 name
                continue
            if x is None:  # allocated once: no list of tensors to stack, which would need twice the memory
                x, first = torch.empty((len(files[split][1]),) + im.shape, dtype=torch.uint8), path
            elif im.shape[0] != x.shape[1]:  # grayscale so far and now a colour image, or the other way round
                x, im = to_rgb(x), to_rgb(im)
            if im.shape != x.shape[1:]:
                raise DataError(f"images differ in size: {first} is {x.shape[3]}x{x.shape[2]}, {path} is "
                                f"{im.shape[2]}x{im.shape[1]}; pass --img_size=N to resize (shorter side) and "
                                f"center-crop every image to N x N")
            x[len(labels)] = im
            labels.append(label)
        if x is None:
            raise DataError(f"none of the {len(files[split][1])} image files under {data_dir}/{split}/ can be read: "
                            f"{out['skipped'][-1]}")
        out[f'{split}_x'] = x[:len(labels)].clone() if len(labels) < len(x) else x
        out[f'{split}_y'] = torch.tensor(labels)
        present = set(labels)
        empty = [c for i, c in enumerate(files[split][0]) if i not in present]
        if split == 'train' and empty:  # a class the model could never learn (a test class may be absent)
            raise DataError(f"class folder(s) {', '.join(f'train/{c}/' for c in empty)} in {data_dir!r} hold no readable "
                            f"image; add images or remove the folder")
    if out['train_x'].shape[1] != out['test_x'].shape[1]:  # one split grayscale throughout, the other not
        out['train_x'], out['test_x'] = to_rgb(out['train_x']), to_rgb(out['test_x'])
    if out['train_x'].shape[1:] != out['test_x'].shape[1:]:
        raise DataError(f"train images are {tuple(out['train_x'].shape[1:])} but test images are "
                        f"{tuple(out['test_x'].shape[1:])} in {data_dir!r}; pass --img_size=N to resize them all")
    try:
        tmp = f"{cache}.{os.getpid()}.tmp"  # own name: runs started at once on the same folder each write theirs
        torch.save(out, tmp)
        os.replace(tmp, cache)
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


def val_count(val_size, n, n_classes):
    """How many of n training images val_size holds out: 'auto' = 10%, at least one per class, at most 5000
    (CIFAR-10: 5000 of 50,000) and never all; an int is a count; a float in (0, 1), a share (at least one)."""
    if val_size == 'auto':
        return max(0, min(max(round(0.1 * n), n_classes), 5000, n - 1))
    k = max(1, round(val_size * n)) if isinstance(val_size, float) else val_size
    if not 0 <= k < n:
        raise DataError(f"val_size={val_size!r} holds out {k} of the {n} training images and leaves none to train on; "
                        f"pass a smaller count, a share such as 0.1, or auto")
    return k


def split_train_val(x, y, val_size, subset=0):
    """Hold out val_size training images (val_count; fixed seed); optionally keep only `subset` of the rest."""
    k = val_count(val_size, len(x), int(y.max()) + 1 if len(y) else 0)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(VAL_SPLIT_SEED))
    val_idx, train_idx = perm[:k], perm[k:]
    if subset:
        if not 0 < subset <= len(train_idx):
            raise DataError(f"subset={subset} must be in [1, {len(train_idx)}] (training images left after val_size)")
        train_idx = train_idx[:subset]
    return (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx])


def channel_stats(x):
    """Per-channel mean and std of uint8 images, in [0, 1] units. A channel that never varies (a blank one) gets std
    1: it is only centred, where dividing by its std of 0 would turn every pixel into inf or nan."""
    x = x[:10000].float() / 255
    std = x.std(dim=(0, 2, 3))
    return x.mean(dim=(0, 2, 3)), torch.where(std > 0, std, 1.0)


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


def random_erasing(x, p, scale=(0.02, 1 / 3), ratio=(0.3, 3.3)):
    """Random erasing (Zhong et al.) on a whole normalised batch, one draw per image: with probability p,
    a rectangle of area `scale` x H x W and log-uniform aspect `ratio` becomes N(0, 1) noise (timm's
    'pixel' mode, which DeiT uses). Boxes are clipped to the image instead of torchvision's retry loop."""
    B, C, H, W = x.shape
    area = torch.empty(B, device=x.device).uniform_(*scale) * H * W
    aspect = torch.empty(B, device=x.device).uniform_(math.log(ratio[0]), math.log(ratio[1])).exp()
    h = (area * aspect).sqrt().round().clamp(1, H)
    w = (area / aspect).sqrt().round().clamp(1, W)
    top = (torch.rand(B, device=x.device) * (H - h + 1)).floor()
    left = (torch.rand(B, device=x.device) * (W - w + 1)).floor()
    r = torch.arange(H, device=x.device)[None, :]
    c = torch.arange(W, device=x.device)[None, :]
    in_rows = (r >= top[:, None]) & (r < (top + h)[:, None])
    in_cols = (c >= left[:, None]) & (c < (left + w)[:, None])
    box = in_rows[:, :, None] & in_cols[:, None, :] & (torch.rand(B, device=x.device) < p)[:, None, None]
    return torch.where(box[:, None], torch.randn_like(x), x)


def mixup(x, y, lam):
    """Mixup with the reversed batch: x and soft targets y (B, classes) blend by lam."""
    return lam * x + (1 - lam) * x.flip(0), lam * y + (1 - lam) * y.flip(0)


def cutmix(x, y, lam, rng):
    """CutMix with the reversed batch, one box per batch (timm): a box of area ~(1 - lam) is pasted
    from the partner image; lam is then corrected to the area actually kept after clipping."""
    H, W = x.shape[-2:]
    cut = math.sqrt(1 - lam)
    ch, cw = int(H * cut), int(W * cut)
    cy, cx = rng.randrange(H), rng.randrange(W)
    y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, H)
    x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, W)
    out = x.clone()
    out[..., y0:y1, x0:x1] = x.flip(0)[..., y0:y1, x0:x1]
    lam = 1 - (y1 - y0) * (x1 - x0) / (H * W)
    return out, lam * y + (1 - lam) * y.flip(0)


def epoch_order(n, repeat_aug, generator):
    """The image indices of one epoch. repeat_aug=k (DeiT's repeated augmentation): n/k random images,
    each k times in a row (so the copies share a batch and get different augmentations); length stays n."""
    order = torch.randperm(n, device=generator.device, generator=generator)
    if repeat_aug > 1:
        order = order[:-(-n // repeat_aug)].repeat_interleave(repeat_aug)[:n]
    return order


AUGMENTS = ('none', 'autoaugment', 'randaugment', 'trivialaugment')


def make_policy(name, color_jitter=0.0):
    """The per-image torchvision.transforms.v2 policy for `augment`, on uint8 CHW tensors, then colour jitter
    of strength s = color_jitter: brightness, contrast and saturation factors in [1 - s, 1 + s], hue shifted by up
    to s/4 of the colour wheel (torchvision's ColorJitter, the four in random order per image). None: nothing to do."""
    if name not in AUGMENTS:
        raise DataError(f"augment={name!r} is not one of {', '.join(AUGMENTS)}")
    if name == 'none' and not color_jitter:  # returns before importing torchvision: seconds of start-up saved
        return None
    from torchvision.transforms import v2
    jitter = v2.ColorJitter(color_jitter, color_jitter, color_jitter, color_jitter / 4) if color_jitter else None
    policy = {'none': None,
              'autoaugment': v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10),  # the learned CIFAR-10 policy
              'randaugment': v2.RandAugment(),  # 2 ops, magnitude 9 (of 31)
              'trivialaugment': v2.TrivialAugmentWide()}[name]
    steps = [t for t in (policy, jitter) if t is not None]
    return v2.Compose(steps) if steps else None


class PolicyBatches(torch.utils.data.Dataset):
    """A DataLoader dataset whose items are whole batches: (seed, indices) -> the policy applied to each
    image on its own (its own ops and magnitudes), uint8 in and out. Runs in DataLoader worker processes.
    The per-batch seed makes the augmentation the same whatever the number of workers, and on resume."""

    def __init__(self, x, y, policy):
        self.x, self.y, self.policy = x, y, policy

    def __getitem__(self, item):
        seed, idx = item
        with torch.random.fork_rng(devices=[]):  # with workers=0 this runs in the main process
            torch.manual_seed(seed)
            return torch.stack([self.policy(im) for im in self.x[idx]]), self.y[idx]


class EpochPlan:
    """The (seed, indices) items of the current epoch. The DataLoader iterates it in the main process,
    so one persistent DataLoader (workers started once) serves every epoch."""
    items = ()

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


class Loader:
    """Iterates over (images, labels) batches of a uint8 tensor kept on `device`.

    train=True: reshuffle each epoch, drop the last partial batch, then augment:
      1. augment != 'none' or color_jitter: a per-image torchvision policy (AutoAugment, ...), then colour
         jitter, in `workers` DataLoader processes over the host uint8 tensor, prefetching batches while the model steps;
      2. on the device, on whole batches: pad-crop and flip, normalise, random erasing, mixup/cutmix.
    Images come out normalised float32 (autocast casts them as the model needs). Labels are int64, or
    soft targets (batch, num_classes) float32 when mixup or cutmix is on.

    Under torchrun (world_size > 1) batch_size is the global batch. Every rank draws the same epoch order
    (same generator), builds and augments the whole global batch alike (same RNG state) and keeps its
    1/world_size part: the ranks' parts are disjoint, and together they are exactly the batch one process
    would train on, whatever the number of ranks (so a run resumes on another number of ranks). The
    redundant on-device work is a few elementwise kernels over the batch; the per-image policy on the host
    is costly, so each rank's workers run it on the rank's own part (seeded per rank) and the parts are
    gathered (with a policy, a run's draws thus depend on the number of ranks). Evaluation:
    each rank takes every world_size-th batch; the caller sums the results over the ranks."""

    def __init__(self, x, y, batch_size, device, mean, std, train=False, crop_flip=True, seed=0,
                 augment='none', color_jitter=0.0, erasing=0.0, mixup=0.0, cutmix=0.0, mix_prob=1.0, mix_switch_prob=0.5,
                 repeat_aug=1, num_classes=0, workers=2, rank=0, world_size=1):
        self.rank, self.world_size = rank, world_size
        self.x, self.y = x.to(device), y.to(device)
        self.batch_size, self.train, self.crop_flip = batch_size, train, crop_flip
        self.mean = mean.to(device)[None, :, None, None]
        self.std = std.to(device)[None, :, None, None]
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.erasing, self.mixup, self.cutmix, self.mix_prob, self.mix_switch_prob = erasing, mixup, cutmix, mix_prob, mix_switch_prob
        self.repeat_aug, self.num_classes = repeat_aug, num_classes or int(y.max()) + 1
        self.policy = make_policy(augment, color_jitter) if train else None
        if self.policy is not None:
            self.plan = EpochPlan()
            self.batches = torch.utils.data.DataLoader(
                PolicyBatches(x.cpu(), y.cpu(), self.policy), sampler=self.plan, batch_size=None,
                num_workers=workers, persistent_workers=workers > 0, prefetch_factor=4 if workers else None,
                pin_memory=torch.device(device).type == 'cuda',  # pinned: host-to-GPU copies run async
                generator=torch.Generator().manual_seed(seed))  # leaves the global RNG alone

    def __len__(self):
        n = len(self.x)
        return n // self.batch_size if self.train else -(-n // self.batch_size)

    def close(self):
        """Stop the policy's worker processes now. Left to the garbage collector (the loader ends in reference
        cycles), the queues can be finalized before the workers are told to stop, and each join then waits out
        torch's 5 s timeout (10 s at the end of every in-process run with a policy)."""
        workers = self.batches._iterator if self.policy is not None else None  # batches exists only with a policy
        if workers is not None:
            workers._shutdown_workers()

    def normalize(self, x):
        return (x.float() / 255 - self.mean) / self.std

    def __iter__(self):
        if not self.train:
            for i in range(self.rank, len(self), self.world_size):
                sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
                yield self.normalize(self.x[sl]), self.y[sl]
            return
        order = epoch_order(len(self.x), self.repeat_aug, self.generator)[:len(self) * self.batch_size]
        order = order.view(len(self), self.batch_size)
        epoch_seed = int(torch.randint(2**31, (1,), device=self.generator.device, generator=self.generator))
        rng = random.Random(epoch_seed)  # per-batch mixing choices
        if self.policy is None:
            batches = ((self.x[idx], self.y[idx]) for idx in order)
        else:
            mine = order.view(len(self), self.world_size, -1)[:, self.rank]  # this rank's part of each batch
            self.plan.items = [((epoch_seed + i) * self.world_size + self.rank, idx)  # lists: no shared-memory tensor per item
                               for i, idx in enumerate(mine.tolist())]
            batches = ((self.gather(x.to(self.x.device, non_blocking=True)), self.gather(y.to(self.x.device, non_blocking=True)))
                       for x, y in self.batches)
        for x, y in batches:
            if self.crop_flip:
                x = random_crop_flip(x)
            x = self.normalize(x)
            if self.erasing:
                x = random_erasing(x, self.erasing)
            if self.mixup or self.cutmix:
                x, y = self.mix(x, F.one_hot(y, self.num_classes).float(), rng)
            if self.world_size > 1:
                x, y = x.chunk(self.world_size)[self.rank], y.chunk(self.world_size)[self.rank]
            yield x, y

    def gather(self, t):
        """The whole batch from every rank's part, in rank order (torchrun); one process: t itself."""
        if self.world_size == 1:
            return t
        parts = [torch.empty_like(t) for _ in range(self.world_size)]
        torch.distributed.all_gather(parts, t)
        return torch.cat(parts)

    def mix(self, x, y, rng):
        """timm's per-batch switch: with probability mix_prob mix the batch, by CutMix with probability
        mix_switch_prob when both alphas are set; lam ~ Beta(alpha, alpha)."""
        if rng.random() >= self.mix_prob:
            return x, y
        use_cutmix = rng.random() < self.mix_switch_prob if self.mixup and self.cutmix else self.cutmix > 0
        alpha = self.cutmix if use_cutmix else self.mixup
        lam = rng.betavariate(alpha, alpha)
        return cutmix(x, y, lam, rng) if use_cutmix else mixup(x, y, lam)


def measure_rate(loader, n_batches=20, warmup=2):
    """Augmented training batches per second, and images per second, of `loader` alone (no model):
    the data-only rate to set against the model's train-step rate."""
    it = iter(loader)
    for _ in range(warmup):  # worker start-up and first prefetch are not the steady state
        next(it)
    start = time.perf_counter()
    n = 0
    for _ in range(n_batches):
        try:
            x, _ = next(it)
        except StopIteration:
            it = iter(loader)
            x, _ = next(it)
        n += len(x)
    x.sum().item()  # wait for the device
    dt = time.perf_counter() - start
    return n_batches / dt, n / dt


if __name__ == '__main__':
    import argparse
    import sys
    p = argparse.ArgumentParser(description="write torchvision's CIFAR as the JPEG image folder behind the committed "
                                "results: python data.py --make_jpeg=data/cifar10-jpeg, then train with "
                                "--dataset=imagefolder --data_dir=data/cifar10-jpeg")
    p.add_argument('--make_jpeg', required=True, metavar='DIR', help='the image folder to write (must not exist yet)')
    p.add_argument('--data_dir', default='data', help="where torchvision's archive is, or is downloaded to")
    p.add_argument('--dataset', default='cifar10', choices=('cifar10', 'cifar100'))
    args = p.parse_args()
    try:
        print(f"{make_jpeg(args.make_jpeg, args.data_dir, args.dataset):,} images written to {args.make_jpeg}")
    except DataError as e:
        sys.exit(f"error: {e}")
