#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Data-parallel training speed (docs/distributed.md): the same global batch trained as
1 process x 2 threads with iter_size 2, and as 2 MPI ranks x 1 thread with iter_size 1, on
the narrow CamVid FCN-8s (360x480) and VGG-16 FCN-8s (500x500). Prints the images/s of both
(from the display lines, the first iteration left out) and, for the ranks, the share of the
all-reduce time that the backward pass hid (rank 0's closing line).

The data are random images in a shuffled segmentation LMDB written here; the nets are the
models' own train.prototxt with the source replaced, initialised by their fillers.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "data_scripts"))

import common  # noqa: E402

NETS = {
    "camvid-fcn8s-narrow": ("models/camvid-fcn8s-narrow/train.prototxt", (360, 480), 11),
    "voc-fcn8s": ("models/voc-fcn8s/train.prototxt", (500, 500), 21),
}
ROOT_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def make_db(out: Path, size: tuple[int, int], classes: int) -> None:
    rng = np.random.default_rng(0)
    writer = common.LmdbWriter(out, force=True)
    for i in range(8):
        image = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
        label = rng.integers(0, classes, size=size, dtype=np.uint8)
        writer.put(common.sample_key(i, f"s{i}", "data"), common.image_datum_from_array(image))
        writer.put(common.sample_key(i, f"s{i}", "label"), common.label_datum(label))
    writer.finish({"format": "fcn-seg-1", "count": 8, "fields": ["data", "label"]})


def images_per_s(log: str) -> float:
    values = [float(v) for v in re.findall(r" img/s=([0-9.e+]+)", log)]
    if len(values) < 2:
        raise RuntimeError("too few display lines:\n" + log[-3000:])
    return float(np.mean(values[1:]))  # the first interval includes the set-up


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fcntool", type=Path, default=REPO / "build" / "src" / "fcntool")
    parser.add_argument("--mpirun", default=shutil.which("mpirun") or "mpirun")
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--nets", default=",".join(NETS))
    args = parser.parse_args()
    fcntool = args.fcntool.resolve()
    with tempfile.TemporaryDirectory(prefix="fcn-bench-dist-") as tmp:
        for name in args.nets.split(","):
            prototxt, size, classes = NETS[name]
            work = Path(tmp) / name
            work.mkdir()
            make_db(work / "db", size, classes)
            text = (REPO / prototxt).read_text()
            text = re.sub(r'source: "[^"]*"', f'source: "{work / "db"}"', text, count=1)
            (work / "net.prototxt").write_text(text)
            results = {}
            for mode, iter_size in (("1 process x 2 threads", 2), ("2 ranks x 1 thread", 1)):
                (work / "solver.prototxt").write_text(
                    f'net: "net.prototxt"\nbase_lr: 1e-10\nlr_policy: "fixed"\nmomentum: 0.99\n'
                    f"display: 1\nmax_iter: {args.iterations + 1}\nsnapshot: 0\n"
                    f"snapshot_after_train: false\nrandom_seed: 1\niter_size: {iter_size}\n")
                train = [str(fcntool), "train", "--solver=solver.prototxt"]
                if iter_size == 2:
                    command = train + ["--threads=2"]
                else:
                    command = [args.mpirun, "-np", "2", "--oversubscribe", "--bind-to", "none",
                               "--mca", "btl_vader_single_copy_mechanism", "none",
                               *train, "--threads=1"]
                proc = subprocess.run(command, cwd=work, capture_output=True, text=True,
                                      env={**os.environ, **ROOT_ENV})
                log = proc.stdout + proc.stderr
                if proc.returncode != 0:
                    print(log[-3000:], file=sys.stderr)
                    return 1
                hidden = re.search(r"All-reduce over 2 ranks \(MPI\): ([0-9.e+-]+) s, of which "
                                   r"([0-9.e+-]+) s were not hidden .*\(([0-9.]+)% hidden\)", log)
                results[mode] = (images_per_s(log), hidden)
            print(f"{name} ({size[0]}x{size[1]}, global batch 2):")
            for mode, (rate, hidden) in results.items():
                line = f"  {mode}: {rate:.3f} images/s"
                if hidden:
                    line += (f"; all-reduce {float(hidden.group(1)):.2f} s, exposed "
                             f"{float(hidden.group(2)):.2f} s ({hidden.group(3)}% hidden)")
                print(line)
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
