"""Any dataset: real-world image folders (mixed sizes, modes, formats, unreadable files), the
--img_size resize, a cache keyed on what changes its content, the memory check, and a val_size that fits
every dataset."""
import json
import os
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import data
from conftest import ROOT, run_train

TINY = ['--dim=32', '--depth=1', '--heads=2', '--batch_size=4', '--max_steps=2', '--workers=0']
FORMATS = [('JPEG', 'jpg'), ('PNG', 'png'), ('BMP', 'bmp'), ('WEBP', 'webp')]


def mixed_folder(root, per_class=4):
    """A few images per class in every format and mode, each of its own size; a file that is not an image
    and a 16-bit grayscale PNG. Image i of class c is the flat grey 60 * c + 10 * i (palette: exact colours)."""
    for split in ('train', 'test'):
        for c, name in enumerate(('cat', 'dog', 'eel')):
            os.makedirs(root / split / name)
            for i in range(per_class):
                fmt, ext = FORMATS[(i + c) % 4]
                mode = ('L', 'P', 'RGBA', 'RGB')[i]
                size = (20 + 7 * i + c, 24 + 5 * c + 3 * i)
                v = 60 * c + 10 * i
                im = Image.new('RGB', size, (v, v, v))
                if mode == 'P':
                    im = im.quantize(colors=2)  # a palette holding the exact grey
                elif mode == 'RGBA':
                    im = im.convert('RGBA')
                    im.putalpha(128)
                else:
                    im = im.convert(mode)
                if fmt in ('JPEG', 'BMP') and mode in ('P', 'RGBA'):
                    im = im.convert('RGB')  # formats without those modes
                im.save(root / split / name / f'{i}.{ext}', fmt, **({'lossless': True} if fmt == 'WEBP' else {}))
    (root / 'train' / 'cat' / 'broken.png').write_bytes(b'not a png at all')
    Image.fromarray(np.full((30, 40), 200 * 256 + 77, np.uint16)).save(root / 'train' / 'dog' / 'g16.png')
    return root




def test_mixed_folder_trains_with_img_size_and_asks_for_it_without(tmp_path):
    folder = mixed_folder(tmp_path / 'mixed')
    mixed_folder(tmp_path / 'other')
    ok = run_train('--dataset=imagefolder', f'--data_dir={folder}', '--img_size=32', *TINY, f'--out_dir={tmp_path}', '--name=r')
    out, err = ok.stdout, ok.stderr
    assert ok.returncode == 0, err
    log = json.load(open(tmp_path / 'r' / 'log.json'))
    assert log['status'] == 'done' and log['config']['img_size'] == 32 and log['config']['in_chans'] == 3
    # 13 readable train images: 3 held out (auto: one per class), 10 trained on; the broken file skipped and named
    assert log['data'] == {'train': 10, 'val': 3, 'test': 12, 'skipped': 1, 'skipped_files': log['data']['skipped_files']}
    assert log['data']['skipped_files'][0].startswith('train/cat/broken.png (UnidentifiedImageError')
    assert 'skipped 1 unreadable image files' in out
    native = run_train('--dataset=imagefolder', f'--data_dir={tmp_path / "other"}', *TINY, f'--out_dir={tmp_path}')
    err = native.stderr
    assert native.returncode == 2 and err.count('\n') == 1 and 'images differ in size' in err and '--img_size=N' in err, err


def test_every_mode_and_format_becomes_rgb_of_the_right_value(tmp_path):
    folder = mixed_folder(tmp_path)
    ds = data.load_dataset('imagefolder', str(folder), 16)
    assert ds['train_x'].shape == (13, 3, 16, 16) and ds['test_x'].shape == (12, 3, 16, 16)
    assert ds['skipped'] == [ds['skipped'][0]] and 'broken.png' in ds['skipped'][0]
    centre = ds['train_x'][:, :, 8, 8]
    assert (centre == centre[:, :1]).all()  # grey stays grey in all three channels
    want = [10 * i for i in range(4)] + [60 + 10 * i for i in range(4)] + [200] + [120 + 10 * i for i in range(4)]
    assert (centre[:, 0].int() - torch.tensor(want)).abs().max() <= 2, centre[:, 0]  # JPEG is off by a grey level


def test_resize_is_shorter_side_then_center_crop(tmp_path):
    for split in ('train', 'test'):
        os.makedirs(tmp_path / split / 'a')
        bands = np.concatenate([np.full((32, 32, 3), v, np.uint8) for v in (0, 128, 255)], axis=1)  # 96 wide, 32 high
        Image.fromarray(bands).save(tmp_path / split / 'a' / 'wide.png')
        Image.fromarray(bands.transpose(1, 0, 2)).save(tmp_path / split / 'a' / 'tall.png')
    ds = data.load_dataset('imagefolder', str(tmp_path), 32)
    assert (ds['train_x'] == 128).all()  # the middle band of either, untouched by resampling
    ds = data.load_dataset('imagefolder', str(tmp_path), 16)
    assert ds['train_x'].shape == (2, 3, 16, 16) and (ds['train_x'][:, :, 2:-2, 2:-2] == 128).all()


def test_cache_follows_img_size_and_files_and_survives_corruption(tmp_path, monkeypatch):
    folder = mixed_folder(tmp_path)
    assert data.load_dataset('imagefolder', str(folder), 8)['train_x'].shape[-1] == 8
    assert data.load_dataset('imagefolder', str(folder), 12)['train_x'].shape[-1] == 12  # not the 8-pixel cache
    caches = sorted(f for f in os.listdir(folder) if f.startswith('vitlab_cache_'))
    assert len(caches) == 2
    decoded = []
    real_decode = data.decode
    monkeypatch.setattr(data, 'decode', lambda *a: decoded.append(a) or real_decode(*a))
    assert len(data.load_dataset('imagefolder', str(folder), 8)['train_x']) == 13 and decoded == []  # from the cache
    Image.new('RGB', (30, 30), 'red').save(folder / 'train' / 'eel' / 'new.png')  # a new file: a new key
    assert len(data.load_dataset('imagefolder', str(folder), 8)['train_x']) == 14 and len(decoded) == 27
    newest = max((folder / f for f in os.listdir(folder) if f.startswith('vitlab_cache_')), key=os.path.getmtime)
    newest.write_bytes(b'\x00garbage' * 10)  # a corrupt cache is decoded again and rewritten
    decoded.clear()
    assert len(data.load_dataset('imagefolder', str(folder), 8)['train_x']) == 14 and len(decoded) == 27
    assert torch.load(newest)['train_x'].shape == (14, 3, 8, 8)


def test_native_cache_serves_the_same_img_size(tmp_path, monkeypatch):
    """A run logs img_size=<native side>; reloading with it (plots) must not decode again."""
    for split in ('train', 'test'):
        os.makedirs(tmp_path / split / 'a')
        Image.new('RGB', (12, 12), 'blue').save(tmp_path / split / 'a' / '0.png')
    native = data.load_dataset('imagefolder', str(tmp_path))
    monkeypatch.setattr(data, 'decode', lambda *a: pytest.fail('decoded again'))
    assert torch.equal(data.load_dataset('imagefolder', str(tmp_path), 12)['train_x'], native['train_x'])


def test_too_big_for_memory_fails_before_decoding_with_the_estimate(tmp_path, monkeypatch):
    folder = mixed_folder(tmp_path)
    monkeypatch.setattr(data, 'available_memory', lambda: 10 * 2**30)
    monkeypatch.setattr(data, 'decode', lambda *a: pytest.fail('decoded before the memory check'))
    with pytest.raises(data.DataError, match=r"26 images of 3x40000x40000 are 116.2 GiB as uint8 .* but 10.0 GiB of memory"):
        data.load_dataset('imagefolder', str(folder), 40000)
    monkeypatch.setattr(data, 'resize_crop', lambda *a: pytest.fail('resized before the memory check'))
    monkeypatch.setattr(data, 'available_memory', lambda: 4 * 2**30)  # 2.3 GiB fits, not twice
    with pytest.raises(data.DataError, match=r"synthetic at img_size=1024: 800 images of 3x1024x1024 are 2.3 GiB"):
        data.load_dataset('synthetic', '', 1024)
    assert data.load_dataset('synthetic', '', 32)['train_x'].shape == (600, 3, 32, 32)  # native size: nothing to check
    monkeypatch.setattr(torch.cuda, 'mem_get_info', lambda device: (2**30, 80 * 2**30))  # a GPU with 1 GiB free
    data.check_memory(1000, torch.Size([3, 224, 224]), 'cifar10', 'cuda:0')  # 0.14 GiB: fits
    with pytest.raises(data.DataError, match=r"cifar10: 60,000 images of 3x224x224 are 8.4 GiB as uint8 but 1.0 GiB of "
                                             r"cuda memory is free"):
        data.check_memory(60000, torch.Size([3, 224, 224]), 'cifar10', 'cuda')


@pytest.mark.parametrize('val_size, n, classes, want', [
    ('auto', 50000, 10, 5000), ('auto', 45000, 100, 4500), ('auto', 10 ** 6, 1000, 5000), ('auto', 600, 10, 60),
    ('auto', 12, 3, 3), ('auto', 30, 10, 10), ('auto', 4, 10, 3), ('auto', 1, 1, 0),
    (5000, 50000, 10, 5000), (0, 10, 2, 0), (0.1, 600, 10, 60), (0.01, 20, 2, 1),
])
def test_val_count(val_size, n, classes, want):
    assert data.val_count(val_size, n, classes) == want


@pytest.mark.parametrize('val_size, n', [(600, 600), (700, 600), (0.99, 10)])
def test_val_size_that_leaves_no_training_data_is_an_error(val_size, n):
    with pytest.raises(data.DataError, match=f"val_size={val_size!r} holds out .* leaves none to train on"):
        data.val_count(val_size, n, 10)


def test_cifar10_split_is_unchanged():
    """auto gives CIFAR-10's 5000 and the same images the old default val_size=5000 held out."""
    x, y = torch.zeros(50000, 1, 1, 1, dtype=torch.uint8), torch.arange(50000) % 10
    (_, ty), (_, vy) = data.split_train_val(x.clone(), torch.arange(50000), 'auto')
    assert len(vy) == 5000 and torch.equal(vy, torch.randperm(50000, generator=torch.Generator().manual_seed(0))[:5000])
    assert len(data.split_train_val(x, y, 'auto')[1][1]) == 5000


def test_synthetic_trains_with_no_other_flag(tmp_path):
    r = run_train('--dataset=synthetic', '--epochs=1', f'--out_dir={tmp_path}', '--name=r')
    assert r.returncode == 0, r.stderr
    log = json.load(open(tmp_path / 'r' / 'log.json'))
    assert log['status'] == 'done' and log['data'] == {'train': 540, 'val': 60, 'test': 200, 'skipped': 0, 'skipped_files': []}


def gray_folder(root, colour=()):
    """28x28 MNIST-like images in every grayscale mode (8-bit, 1-bit, 16-bit, with alpha); a path in `colour`
    is written as RGB instead."""
    modes = ['L', '1', 'I;16', 'LA']
    for split in ('train', 'test'):
        for c in ('zero', 'one'):
            os.makedirs(root / split / c)
            for i, mode in enumerate(modes):
                v = 40 + 100 * (c == 'one') + 10 * i
                im = Image.new('L', (28, 28), v if mode != '1' else 255 * (c == 'one'))
                im = Image.fromarray(np.full((28, 28), v * 256, np.uint16)) if mode == 'I;16' else im.convert(mode)
                path = f'{split}/{c}/{i}.png'
                (im.convert('RGB') if path in colour else im).save(root / path)
    return root


def test_grayscale_folder_trains_with_one_channel(tmp_path):
    ds = data.load_dataset('imagefolder', str(gray_folder(tmp_path / 'gray')))
    assert ds['train_x'].shape == (8, 1, 28, 28) and ds['test_x'].shape == (8, 1, 28, 28)
    assert ds['train_x'][:, 0, 0, 0].tolist() == [140, 255, 160, 170, 40, 0, 60, 70]  # 'one' sorts first; 16-bit: its high byte
    r = run_train('--dataset=imagefolder', f'--data_dir={tmp_path / "gray"}', '--patch_size=4', *TINY,
                  f'--out_dir={tmp_path}', '--name=r')
    assert r.returncode == 0, r.stderr
    assert json.load(open(tmp_path / 'r' / 'log.json'))['config']['in_chans'] == 1


@pytest.mark.parametrize('colour', ['train/zero/0.png', 'train/one/3.png', 'test/one/2.png'])
def test_one_colour_image_makes_the_whole_folder_rgb(tmp_path, colour):
    """Wherever the colour image is (first, last, only in test), every image of both splits gets three channels,
    the grey ones three equal ones."""
    ds = data.load_dataset('imagefolder', str(gray_folder(tmp_path, colour=(colour,))))
    for x in (ds['train_x'], ds['test_x']):
        assert x.shape == (8, 3, 28, 28) and (x == x[:, :1]).all()
    assert ds['train_x'][:, 0, 0, 0].tolist() == [140, 255, 160, 170, 40, 0, 60, 70]


def fake_cifar(root, per_batch=7, seed=0):
    """torchvision's cifar-10-batches-py layout with a few images per batch, each a smooth gradient over its own
    random colour (JPEG keeps it within a few levels; another image is far off): {split: (images, labels)}."""
    import pickle
    g = np.random.default_rng(seed)
    folder = root / 'cifar-10-batches-py'
    folder.mkdir(parents=True)
    names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
    pickle.dump({'label_names': names}, open(folder / 'batches.meta', 'wb'))
    out = {}
    for split, files in (('train', [f'data_batch_{i}' for i in range(1, 6)]), ('test', ['test_batch'])):
        xs, ys = [], []
        for f in files:
            x = (np.linspace(0, 60, 32)[None, None, :, None] + g.integers(0, 192, (per_batch, 3, 1, 1))).astype(np.uint8)
            x = np.broadcast_to(x, (per_batch, 3, 32, 32)).copy()
            y = g.integers(0, 3, per_batch).tolist()  # a few classes, so each gets several images in order
            pickle.dump({'data': x.reshape(per_batch, -1), 'labels': y}, open(folder / f, 'wb'))
            xs.append(x)
            ys += y
        out[split] = (np.concatenate(xs), ys)
    return names, out


def test_make_jpeg_writes_torchvisions_cifar_as_the_shared_copy(tmp_path, monkeypatch):
    """Names NNNN.jpg count each class from 0 in torchvision's order (the shared copy's train/frog/0000.jpg is
    CIFAR-10's first training image); JPEG quality 75 (libjpeg's luminance table then starts at 8) with 4:2:0
    chroma. The real archive's md5 check is skipped for the fake batches."""
    import runpy
    import torchvision.datasets.cifar
    from PIL import JpegImagePlugin
    names, want = fake_cifar(tmp_path / 'src')
    monkeypatch.setattr(torchvision.datasets.cifar, 'check_integrity', lambda *a, **k: True)
    monkeypatch.setattr(sys, 'argv', ['data.py', f'--make_jpeg={tmp_path / "jpeg"}', f'--data_dir={tmp_path / "src"}'])
    runpy.run_path(os.path.join(ROOT, 'data.py'), run_name='__main__')
    for split, (x, y) in want.items():
        seen = [0] * 10
        for img, label in zip(x, y):
            path = tmp_path / 'jpeg' / split / names[label] / f'{seen[label]:04d}.jpg'
            seen[label] += 1
            with Image.open(path) as im:
                assert im.quantization[0][0] == 8 and JpegImagePlugin.get_sampling(im) == 2
                assert np.abs(np.asarray(im, int) - img.transpose(1, 2, 0)).mean() < 3  # the same picture
        assert sorted(os.listdir(tmp_path / 'jpeg' / split)) == names  # every class, even without images
        assert sum(len(os.listdir(tmp_path / 'jpeg' / split / c)) for c in names) == len(y) == 35 if split == 'train' else 7
    with pytest.raises(data.DataError, match="already has a train/ or test/ folder"):
        data.make_jpeg(str(tmp_path / 'jpeg'), str(tmp_path / 'src'))
