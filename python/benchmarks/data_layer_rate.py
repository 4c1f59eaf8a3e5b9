#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Images/s of a Python data layer against the LMDB Data layer, on the same images
(docs/python.md, "Python layers").

The images are the project's procedural scenes (data_scripts/make_synthetic.py, --count
images of --size x --size pixels); the LMDB is made from the same PNGs by
data_scripts/convert_camvid.py. Each net holds the data layer alone (tops data and label,
batch 1, mean subtraction and scale in both), and is timed by `fcntool time` (phase TRAIN,
--iterations passes): the figure is 1000 / the data layer's average forward ms. For the Python
layer that time includes its reshape(), where it decodes the two PNGs (as the FCN reference's
VOCSegDataLayer does); the Data layer decodes on its prefetch thread, so with nothing else in
the net its forward time is the rate at which that thread delivers. Runs alternate, --rounds
times each; the median is reported.

  /usr/bin/python3 python/benchmarks/data_layer_rate.py --fcntool build/src/fcntool
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYERS = REPO / "python" / "tests" / "pylayers"
FORWARD = re.compile(r"^.*\s+data\tforward: ([\d.]+) ms\.", re.M)


def python_net(scenes: Path) -> str:
    param = repr({"dir": str(scenes), "split": "train", "seed": 7, "randomize": True,
                  "mean": (110, 110, 110), "scale": 0.02}).replace('"', '\\"')
    return f"""layer {{ name: "data" type: "Python" top: "data" top: "label"
  python_param {{ module: "png_seg_layers" layer: "PNGSegDataLayer" param_str: "{param}" }} }}
"""


def lmdb_net(db: Path) -> str:
    return f"""layer {{ name: "data" type: "Data" top: "data" top: "label"
  transform_param {{ scale: 0.02 mean_value: 110 mean_value: 110 mean_value: 110 }}
  data_param {{ source: "{db}" batch_size: 1 backend: LMDB shuffle: true seed: 7 }} }}
"""


def forward_ms(fcntool: Path, net: Path, iterations: int, cwd: Path) -> float:
    env = {"PYTHONPATH": str(LAYERS), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([str(fcntool), "time", f"--model={net}", f"--iterations={iterations}"],
                       cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        sys.exit(f"fcntool time failed on {net}:\n{r.stderr[-3000:]}")
    m = FORWARD.search(r.stderr)
    if m is None:
        sys.exit(f"no data layer time in the log of {net}:\n{r.stderr[-3000:]}")
    return float(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fcntool", type=Path, default=REPO / "build" / "src" / "fcntool")
    ap.add_argument("--count", type=int, default=100, help="images")
    ap.add_argument("--size", type=int, default=256, help="image side, pixels")
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    args.fcntool = args.fcntool.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        scripts = REPO / "data_scripts"
        for cmd in (
            [scripts / "make_synthetic.py", "--out", root / "scenes", "--count", args.count,
             "--size", args.size, "--seed", 1, "--force"],
            [scripts / "convert_camvid.py", "--root", root / "scenes", "--split", "train",
             "--out", root / "db", "--force", "--dataset", "synthetic", "--classes", 6],
        ):
            subprocess.run([sys.executable] + [str(c) for c in cmd], check=True,
                           capture_output=True)
        nets = {"Python (PNG)": root / "python.prototxt", "Data (LMDB)": root / "lmdb.prototxt"}
        nets["Python (PNG)"].write_text(python_net(root / "scenes"))
        nets["Data (LMDB)"].write_text(lmdb_net(root / "db"))
        times: dict[str, list[float]] = {k: [] for k in nets}
        for _ in range(args.rounds):
            for name, net in nets.items():
                times[name].append(forward_ms(args.fcntool, net, args.iterations, root))
        n_train = len((root / "scenes" / "train.txt").read_text().split("\n")) - 1
        print(f"{n_train} train images of {args.size}x{args.size}, batch 1, "
              f"fcntool time --iterations={args.iterations}, median of {args.rounds} runs")
        for name, ms in times.items():
            med = statistics.median(ms)
            print(f"  {name:13s}: {med:8.3f} ms/image  {1000 / med:8.1f} images/s  "
                  f"(runs: {', '.join(f'{t:.3f}' for t in ms)} ms)")


if __name__ == "__main__":
    main()
