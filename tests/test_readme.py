"""The README's flag table is the code's: every flag, its default and its allowed values, as --help prints them."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_flag_table_matches_train_help():
    help_text = subprocess.run([sys.executable, 'train.py', '--help'], cwd=ROOT, capture_output=True, text=True).stdout
    code = {m[1]: (m[2].strip("'"), m[3].strip()) for m in re.finditer(r"^  --(\w+)=(\S+) +(.+?)  # ", help_text, re.M)}
    assert len(code) > 60
    readme = open(os.path.join(ROOT, 'README.md')).read()
    table = {}
    for m in re.finditer(r"^\| `--(\w+)` \| `([^`]*)` \| ([^|]*) \|", readme, re.M):
        table[m[1]] = (m[2].strip("'"), m[3].strip().replace('\\|', '|'))
    assert table.keys() == code.keys(), f"missing in README: {code.keys() - table.keys()}, not flags: {table.keys() - code.keys()}"
    for name, (default, allowed) in code.items():
        assert table[name][0] == default, f"--{name}: README default {table[name][0]!r}, code {default!r}"
        assert table[name][1] == allowed, f"--{name}: README values {table[name][1]!r}, --help {allowed!r}"
