"""Every flag that `train.py --help` lists states its allowed values, and train.py rejects a value outside
them before any data loads: exit 2, one line naming the flag, the value and what is allowed. The walk is
driven by --help itself, so a flag added without a range (or a meaning) fails here. train.py runs in this
process (torch is imported once), with data loading replaced by an exception that marks "got past the checks"."""
import os
import re
import runpy
import sys

import pytest

import configurator
import data
from conftest import ROOT

HELP_LINE = re.compile(r"^  --(\w+)=(\S+) +(.+?)  # (.*)$", re.M)
LOAD_DATASET = data.load_dataset


class ReachedData(Exception):
    pass


def reached_data(*args, **kwargs):
    raise ReachedData


def train(monkeypatch, capsys, *args, real_data=False):
    """(exit code, stdout, stderr) of train.py args; code None: it passed every check and went to load the data."""
    monkeypatch.setattr(sys, 'argv', ['train.py', *args])
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(data, 'load_dataset', LOAD_DATASET if real_data else reached_data)
    try:
        runpy.run_path(os.path.join(ROOT, 'train.py'), run_name='__main__')
        code = 0
    except SystemExit as e:
        code = e.code
    except ReachedData:
        code = None
    out, err = capsys.readouterr()
    return code, out, err


def help_flags(monkeypatch, capsys):
    code, out, _ = train(monkeypatch, capsys, '--help')
    assert code == 0
    return {m[1]: (m[2], m[3].strip(), m[4].strip()) for m in HELP_LINE.finditer(out)}


def outside(allowed):
    """Values just outside a numeric range as --help states it ('int >= 1', 'auto or int >= 0 or float in (0, 1)')."""
    bad = []
    for kind, lo, lo_in, hi, hi_in in configurator.parse_range(allowed.removeprefix('auto or ')):
        cast = int if kind == 'int' else float
        bad += [cast(lo - 1 if lo_in else lo)] + ([cast(hi + 1 if hi_in else hi)] if hi != float('inf') else [])
    return bad


def inside(allowed):
    """The closed bounds of a numeric range: the range check must accept them."""
    return [(int if kind == 'int' else float)(b) for kind, lo, lo_in, hi, hi_in in
            configurator.parse_range(allowed.removeprefix('auto or ')) for b, ok in ((lo, lo_in), (hi, hi_in)) if ok]


def assert_rejected(result, flag, value, allowed):
    code, out, err = result
    print(f"--{flag}={value} ->", err.strip())  # pytest -s lists every message
    lines = err.strip().splitlines()
    assert code == 2, (flag, value, code, out, err)
    assert len(lines) == 1 and lines[0].startswith('error: ') and 'Traceback' not in err, (flag, value, err)
    assert flag in lines[0] and value.strip("'") in lines[0], (flag, value, lines[0])
    if allowed:
        assert allowed in lines[0], (flag, value, allowed, lines[0])


def test_every_flag_has_a_range_and_a_meaning_and_a_bad_value_is_rejected(monkeypatch, capsys, tmp_path):
    flags = help_flags(monkeypatch, capsys)
    assert len(flags) > 60 and {'val_size', 'img_size', 'epochs', 'dim', 'lr'} <= flags.keys()
    assert train(monkeypatch, capsys)[0] is None  # the defaults pass
    (tmp_path / 'a_file').write_text('')
    free_text = {  # flags whose value is a path or a name: a bad value each, and where it is caught
        'data_dir': (['--dataset=imagefolder', '--data_dir=/nonexistent'], "data_dir='/nonexistent' has no train/ folder"),
        'out_dir': ([f'--out_dir={tmp_path}/a_file'], 'is a file, not a folder'),
        'name': (['--name=../elsewhere'], 'must be a folder name inside out_dir'),
        'teacher': (['--distill=soft', '--teacher=/nonexistent/ckpt.pt'], "checkpoint '/nonexistent/ckpt.pt' does not exist"),
        'stem_init': (['--patch_embed=resnet18', '--stem_init=/nonexistent/ckpt.pt'], "checkpoint '/nonexistent/ckpt.pt' does not exist"),
        'weights': (['--model=resnet50', '--weights=/nonexistent/w.pth'], "--weights=/nonexistent/w.pth: no such file"),
    }
    checked = 0
    for flag, (default, allowed, meaning) in flags.items():
        assert meaning, f"--{flag} has no meaning in --help: fill in its row (FLAGS in train.py, or the field in vit.py)"
        assert allowed, f"--{flag} has no stated range: fill in its row (FLAGS in train.py, or the field in vit.py)"
        if allowed == 'bool':
            assert_rejected(train(monkeypatch, capsys, f'--{flag}=maybe'), flag, 'maybe', 'expected a bool')
        elif allowed.startswith(('int ', 'float ', 'auto or ')):
            for value in outside(allowed):
                assert_rejected(train(monkeypatch, capsys, f'--{flag}={value!r}'), flag, repr(value), f"must be {allowed}")
            for value in inside(allowed):
                code, _, err = train(monkeypatch, capsys, f'--{flag}={value!r}')  # (it may break a combination)
                assert code is None or f"--{flag}={value!r} must be" not in err, (flag, value, err)
        elif flag in free_text:
            args, want = free_text[flag]
            code, out, err = train(monkeypatch, capsys, *args, real_data=True)
            assert_rejected((code, out, err), flag, '', want)
        else:  # a choice list
            assert ', ' in allowed, (flag, allowed)
            assert_rejected(train(monkeypatch, capsys, f'--{flag}=nonsense'), flag, 'nonsense', "is not one of")
        checked += 1
    assert checked == len(flags)


@pytest.mark.parametrize('arg, want', [  # the cases: each once crashed later with a traceback or misbehaved
    ('--epochs=-1', '--epochs=-1 must be int >= 1'), ('--epochs=0', '--epochs=0 must be int >= 1'),
    ('--time_limit=-1', '--time_limit=-1.0 must be float >= 0'), ('--batch_size=0', '--batch_size=0 must be int >= 1'),
    ('--log_interval=0', '--log_interval=0 must be int >= 1'), ('--label_smoothing=1.5', 'must be float in [0, 1)'),
    ('--lr=-0.1', '--lr=-0.1 must be float >= 0'), ('--warmup_epochs=-1', '--warmup_epochs=-1 must be int >= 0'),
    ('--grad_clip=-1', '--grad_clip=-1.0 must be float >= 0'), ('--max_steps=-5', '--max_steps=-5 must be int >= 0'),
    ('--repeat_aug=0', '--repeat_aug=0 must be int >= 1'), ('--seed=-1', '--seed=-1 must be int in [0, 4294967295]'),
    ('--val_size=-1', "--val_size=-1 must be auto or int >= 0 or float in (0, 1)"),
    ('--val_size=1.5', "--val_size=1.5 must be auto"), ('--val_size=many', "--val_size='many' must be auto"),
    ('--img_size=-32', '--img_size=-32 must be int >= 0'), ('--heads=0', '--heads=0 must be int >= 1'),
])
def test_known_bad_values(monkeypatch, capsys, arg, want):
    code, out, err = train(monkeypatch, capsys, arg)
    assert code == 2 and len(err.strip().splitlines()) == 1 and want in err, (arg, code, err)


def test_config_file_values_are_range_checked_too(monkeypatch, capsys, tmp_path):
    (tmp_path / 'cfg.py').write_text("epochs = 10\nlabel_smoothing = float('nan')\n")
    code, _, err = train(monkeypatch, capsys, str(tmp_path / 'cfg.py'))
    assert code == 2 and err.strip() == 'error: --label_smoothing=nan must be float in [0, 1)'


def test_val_size_takes_auto_a_count_or_a_share():
    defaults = {'val_size': 'auto', 'device': 'auto'}
    allowed = {'val_size': 'int >= 0 or float in (0, 1)', 'device': ('auto', 'cpu')}

    def conf(*argv):
        return configurator.configure(defaults, list(argv), allowed, {})['val_size']
    assert conf() == 'auto' and conf('--val_size=auto') == 'auto'
    assert conf('--val_size=5000') == 5000 and type(conf('--val_size=5000')) is int
    assert conf('--val_size=0.1') == 0.1 and conf('--val_size=0') == 0
    for bad in ('--val_size=1.0', '--val_size=0.0', '--val_size=-3', '--val_size=True', '--val_size=fast'):
        with pytest.raises(configurator.ConfigError, match='must be auto or int >= 0 or float in'):
            conf(bad)
    with pytest.raises(configurator.ConfigError, match='is not one of auto, cpu'):  # 'auto' choice flags take no number
        configurator.configure(defaults, ['--device=3'], allowed, {})


def test_parse_range():
    assert configurator.parse_range('>= 1') == [(None, 1, True, float('inf'), False)]
    assert configurator.parse_range('int >= 0 or float in (0, 1)') == [('int', 0, True, float('inf'), False),
                                                                        ('float', 0, False, 1, False)]
    assert configurator.in_range(1.0, 'in [0, 1]') and not configurator.in_range(1.0, 'in [0, 1)')
    assert not configurator.in_range(float('nan'), '>= 0') and not configurator.in_range(True, '>= 0')
    with pytest.raises(ValueError, match='write'):
        configurator.parse_range('positive')
