"""Time the reference mnist_study (five configurations x 20 epochs) beside this machine's dense
matmul throughput, so the distance to the hardware limit is visible.

    python benchmarks/mnist_study.py --data-dir /usr/share/datasets/fashion-mnist   # full size
    python benchmarks/mnist_study.py --epochs 2                                     # quick look

FLOP per epoch uses the usual 3x-forward rule (forward + backward):
    3 * 2 * (784*512 + 512*256 + 256*10) * N_train  = 193 GFLOP for N_train = 60,000.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import assignments, grade  # noqa: E402
from autograder.runtime import data  # noqa: E402

FORWARD_FLOP = 2 * (784 * 512 + 512 * 256 + 256 * 10)


def matmul_gflops(threads, n=2048, reps=10):
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - start) / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=os.environ.get(data.ENV_VAR), help="IDX folder (default: the sample)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = p.parse_args()

    peak = {t: matmul_gflops(t) for t in sorted({1, args.threads})}
    torch.set_num_threads(args.threads)
    ds = data.load_mnist(args.data_dir)
    train_x, train_y = data.to_tensors(ds.train_images, ds.train_labels)
    test_x, test_y = data.to_tensors(ds.test_images, ds.test_labels)
    epoch_gflop = 3 * FORWARD_FLOP * len(train_x) / 1e9
    print(f"data: {ds.source} ({len(train_x)} train, {len(test_x)} test)")
    print("dense matmul (2048^3, float32): " + ", ".join(f"{g:.1f} GFLOP/s on {t} thread(s)" for t, g in peak.items()))
    print(f"one epoch = {epoch_gflop:.1f} GFLOP; at {peak[args.threads]:.1f} GFLOP/s the floor is "
          f"{epoch_gflop / peak[args.threads]:.2f} s per epoch ({args.threads} threads)")

    ns = grade.load_reference(assignments.get("mnist_study"))
    ns.update(train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y)
    cwd = os.getcwd()
    os.chdir(Path(os.environ.get("TMPDIR", "/tmp")))  # run_study writes its two files here
    try:
        per_batch = {}
        start = time.perf_counter()
        for config in ns["CONFIGS"]:
            t0 = time.perf_counter()
            results = ns["run_study"]([config], num_epochs=args.epochs)
            seconds = (time.perf_counter() - t0) / args.epochs
            per_batch.setdefault(config[0], []).append(seconds)
            r = results[config]
            print(f"batch {config[0]:4d}, lr {config[1]:<5}: {seconds:6.2f} s/epoch, "
                  f"{epoch_gflop / seconds:5.1f} GFLOP/s ({100 * epoch_gflop / seconds / peak[args.threads]:.0f}% of "
                  f"matmul peak); train {r['train_acc']:.2f}%, test {r['test_acc']:.2f}%", flush=True)
        total = time.perf_counter() - start
    finally:
        os.chdir(cwd)
    for bs, values in sorted(per_batch.items()):
        print(f"batch {bs:4d}: {sum(values) / len(values):.2f} s per epoch (mean of {len(values)} run(s))")
    print(f"whole study: {total:.1f} s for {len(ns['CONFIGS'])} configurations x {args.epochs} epochs")


if __name__ == "__main__":
    main()
