"""The IDX reader (plain, gzipped, torchvision's layout), the sample fallback, full-size data."""
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from autograder.runtime import data

FASHION = Path("/usr/share/datasets/fashion-mnist")


def write_idx(path, array, gz=False):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    (gzip.open if gz else open)(path, "wb").write(raw)


def fake_mnist(root, gz):
    rng = np.random.default_rng(0)
    sets = {"train": (rng.integers(0, 256, (6, 28, 28)), rng.integers(0, 10, 6)),
            "t10k": (rng.integers(0, 256, (3, 28, 28)), rng.integers(0, 10, 3))}
    suffix = ".gz" if gz else ""
    for split, (images, labels) in sets.items():
        write_idx(root / f"{split}-images-idx3-ubyte{suffix}", images, gz)
        write_idx(root / f"{split}-labels-idx1-ubyte{suffix}", labels, gz)
    return sets


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_plain_gzipped_and_in_torchvision_layout(tmp_path, gz, monkeypatch):
    sets = fake_mnist(tmp_path / "MNIST" / "raw", gz)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    ds = data.load_mnist()
    np.testing.assert_array_equal(ds.train_images, sets["train"][0])
    np.testing.assert_array_equal(ds.test_labels, sets["t10k"][1])
    assert ds.train_labels.dtype == np.int64 and ds.kind == "idx"
    x, y = data.to_tensors(ds.train_images, ds.train_labels)
    assert tuple(x.shape) == (6, 1, 28, 28) and str(x.dtype) == "torch.float32"


def test_bad_files_are_reported(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        data.load_mnist(tmp_path)


def test_sample_fallback_is_real_mnist_and_deterministic(monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    a, b = data.load_mnist(), data.load_mnist()
    assert a.kind == "sample" and a.train_images.shape == (4000, 28, 28) and a.test_images.shape == (1000, 28, 28)
    np.testing.assert_array_equal(a.test_labels, b.test_labels)
    assert sorted(np.unique(a.train_labels)) == list(range(10))


def test_loader_batches_without_per_image_work():
    import torch
    x, y = torch.arange(10.0).view(10, 1), torch.arange(10)
    batches = list(data.TensorLoader(x, y, 4))
    assert [len(b[1]) for b in batches] == [4, 4, 2] and len(data.TensorLoader(x, y, 4)) == 3
    loader = data.TensorLoader(x, y, 5, shuffle=True, seed=1)
    first, second = [torch.cat([b[1] for b in loader]) for _ in range(2)]
    assert sorted(first.tolist()) == list(range(10)) and not torch.equal(first, second)
    again = data.TensorLoader(x, y, 5, shuffle=True, seed=1)
    assert torch.equal(torch.cat([b[1] for b in again]), first)


@pytest.mark.skipif(not FASHION.is_dir(), reason="apt-get install dataset-fashion-mnist (done by .ci/run)")
def test_full_size_fashion_mnist_from_debian():
    ds = data.load_mnist(FASHION)
    assert ds.train_images.shape == (60000, 28, 28) and ds.test_images.shape == (10000, 28, 28)
    assert np.bincount(ds.test_labels).tolist() == [1000] * 10
