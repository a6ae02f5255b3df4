"""Training computes exactly what it computed when the references in tests/exact/ were written: five tiny
step-budgeted runs on synthetic data (ViT techniques with EMA and mixing, Lion with TrivialAugment, a ResNet-18
teacher, hard distillation with MLA, soft distillation into a frozen-then-trained ResNet stem), rerun by
exps/rerun.py and compared to the last digit. A refactor must pass it unchanged; a change that means to change
the numbers regenerates the references (exps/rerun.py --write) and says so. Float sums depend on the CPU and
the torch build, so elsewhere it is skipped."""
import glob
import json
import math
import os
import subprocess
import sys

import pytest

import techniques
from conftest import ROOT

REFERENCES = sorted(glob.glob(os.path.join(ROOT, 'tests', 'exact', '*.json')))


def test_references_rerun_to_the_last_digit():
    with open(REFERENCES[0]) as f:
        env = json.load(f)['env']
    here = techniques.environment('cpu', 'cpu', 1)
    where = ('machine', 'torch', 'cpu_isa')  # an AVX2-only VM of the same EPYC sums floats differently
    written, now = ([e.get(k) for k in where] for e in (env, here))
    if written != now:
        pytest.skip(f"references written on {written}; this is {now}")
    p = subprocess.run([sys.executable, 'exps/rerun.py', *REFERENCES], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr[-2000:]
    assert p.stdout.count('same ') == len(REFERENCES) == 5


def test_a_changed_number_is_caught():
    """The comparison sees a difference in the last digit (so the test above can fail)."""
    sys.path.insert(0, os.path.join(ROOT, 'exps'))
    import rerun
    with open(REFERENCES[0]) as f:
        old = json.load(f)
    new = json.loads(json.dumps(old))
    assert rerun.differences(old, new) == []
    new['history'][-1]['train_loss'] = math.nextafter(old['history'][-1]['train_loss'], 0.0)  # one ulp
    assert [d[0] for d in rerun.differences(old, new)] == [f"epoch {old['history'][-1]['epoch']} train_loss"]
