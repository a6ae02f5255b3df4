import os
import sys

# tests import the top-level modules (vit, data, ...) and run train.py from the repo root
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
