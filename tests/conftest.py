import os
import sys

# tests import the top-level modules (vit, data, ...) and run train.py from the repo root
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def pytest_configure(config):
    # the quick loop: python -m pytest -m "not slow" (the README's command, python -m pytest, runs everything)
    config.addinivalue_line('markers', 'slow: trains in subprocesses for seconds to minutes')


# whole modules that train in subprocesses (signals, kill -9, torchrun), and single tests elsewhere that do
SLOW_MODULES = ('test_robust.py', 'test_distributed.py', 'test_exact.py')
SLOW_TESTS = ('test_mixed_folder_trains_with_img_size_and_asks_for_it_without', 'test_synthetic_trains_with_no_other_flag',
              'test_grayscale_folder_trains_with_one_channel')


def pytest_collection_modifyitems(config, items):
    import pytest
    for item in items:
        if item.fspath.basename in SLOW_MODULES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
