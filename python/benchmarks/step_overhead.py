#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The Python path's overhead: a training step of a net through fcn.SGDSolver.step against
`fcntool train`, on the same LMDB, alternating the runs round by round (docs/python.md).

Each run is a fresh process that trains ``3K + 1`` iterations (the solver's display every K).
The first K iterations are the warm-up; the next 2K are timed: for fcntool from its display
lines ("Ys/K iters"), for Python with time.perf_counter around each ``solver.step(1)`` call
(the worst case for the binding's overhead: one call per iteration; the library's display
timer restarts with each step() call, so its lines do not time a loop of step(1)).

  PYTHONPATH=build/python /usr/bin/python3 python/benchmarks/step_overhead.py \\
      --model models/camvid-fcn8s-narrow/train.prototxt --db DB --fcntool build/src/fcntool

DB is the LMDB of the model's Data layer (data_scripts/convert_camvid.py); the model is copied
into a temporary tree whose db/ links to it, so its relative `source` resolves there.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

DISPLAY = re.compile(r"Iteration (\d+) \([^,]*, ([\d.]+)s/(\d+) iters\)")


def solver_text(net: Path, k: int, prefix: Path) -> str:
    return textwrap.dedent(f"""\
        train_net: "{net}"
        base_lr: 0.005
        lr_policy: "fixed"
        momentum: 0.9
        weight_decay: 0.0005
        display: {k}
        average_loss: {k}
        max_iter: {3 * k + 1}
        snapshot: 0
        snapshot_after_train: false
        snapshot_prefix: "{prefix}"
        random_seed: 1
        """)


def display_seconds(log: str, k: int) -> list[float]:
    """Seconds per iteration of the display intervals after the first (the warm-up)."""
    out = []
    for m in DISPLAY.finditer(log):
        if int(m.group(1)) > k:
            out.append(float(m.group(2)) / int(m.group(3)))
    return out


PY_RUN = """
import sys, time, fcn
fcn.set_dnnl_keep_layouts({keep})
solver = fcn.SGDSolver({solver!r})
solver.step({k})
for _ in range(2):
    t = time.perf_counter()
    for _ in range({k}):
        solver.step(1)
    print("PY_INTERVAL", (time.perf_counter() - t) / {k}, flush=True)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="the training prototxt")
    parser.add_argument("--db", required=True, type=Path, help="the LMDB its Data layer reads")
    parser.add_argument("--fcntool", required=True, type=Path)
    parser.add_argument("--k", type=int, default=10, help="iterations per display interval")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    args.fcntool = args.fcntool.resolve()

    with tempfile.TemporaryDirectory(prefix="fcn-step-") as tmp:
        root = Path(tmp)
        text = args.model.read_text()
        source = re.search(r'source: "([^"]+)"', text).group(1)
        model = root / "models" / "m" / "train.prototxt"
        model.parent.mkdir(parents=True)
        model.write_text(text)
        db_link = (model.parent / source).resolve()
        db_link.parent.mkdir(parents=True, exist_ok=True)
        db_link.symlink_to(args.db.resolve())
        solver = root / "solver.prototxt"
        solver.write_text(solver_text(model, args.k, root / "snap"))

        runs = {
            "fcntool train (dnnl_keep_layouts on, its default)":
                [str(args.fcntool), "train", f"--solver={solver}"],
            "fcntool train --dnnl_keep_layouts=false":
                [str(args.fcntool), "train", f"--solver={solver}", "--dnnl_keep_layouts=false"],
            "SGDSolver.step(1) (keep layouts off, the module's default)":
                [sys.executable, "-c", PY_RUN.format(keep=False, solver=str(solver), k=args.k)],
            "SGDSolver.step(1) after set_dnnl_keep_layouts(True)":
                [sys.executable, "-c", PY_RUN.format(keep=True, solver=str(solver), k=args.k)],
        }
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)
        results = {name: {"wall": [], "display": []} for name in runs}
        for r in range(args.rounds):
            for name, cmd in runs.items():
                p = subprocess.run(cmd, cwd=root, capture_output=True, text=True,
                                   env=env)
                if p.returncode != 0:
                    sys.stderr.write(p.stderr[-3000:])
                    return 1
                if "fcntool" in name:
                    results[name]["display"] += display_seconds(p.stderr, args.k)
                results[name]["wall"] += [float(v) for v in
                                          re.findall(r"PY_INTERVAL ([\d.e-]+)", p.stdout)]
                print(f"round {r + 1} {name}: display {results[name]['display'][-2:]} "
                      f"perf_counter {results[name]['wall'][-2:]}", flush=True)

    print(f"\nmedian s/iter over {args.rounds} rounds x 2 intervals of {args.k} iterations:")
    base = statistics.median(results[next(iter(runs))]["display"])
    for name, res in results.items():
        if res["display"]:
            value = statistics.median(res["display"])
            how = "display lines"
        else:
            value = statistics.median(res["wall"])
            how = "perf_counter around step(1)"
        print(f"  {name}: {value:.4f} s/iter ({how}), x{value / base:.3f} the first")
    return 0


if __name__ == "__main__":
    sys.exit(main())
