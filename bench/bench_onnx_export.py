#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""fcntool export on VGG-16 FCN-8s (models/voc-fcn8s/deploy.prototxt, seeded random weights):
the export's wall time and the ONNX file's size, then ONNX Runtime's forward time (npm
onnxruntime-node, CPU) at 1x3x500x500 from the dynamic-size file against `fcntool time`'s
Average Forward pass, on the same threads, alternating round by round, in one run.

  /usr/bin/python3 bench/bench_onnx_export.py [--fcntool build/src/fcntool] [--rounds 2]
      [--iterations 3] [--threads 2] [--work DIR]
"""
import argparse
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
MODEL = REPO / "models/voc-fcn8s/deploy.prototxt"


def load_test_helpers(fcntool):
    os.environ["FCNTOOL"] = str(fcntool)
    spec = importlib.util.spec_from_file_location(
        "test_onnx_export", REPO / "tests/onnx/test_onnx_export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fcntool", default=str(REPO / "build/src/fcntool"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default="", help="folder for the weights and files (default: a temp)")
    args = ap.parse_args()
    helpers = load_test_helpers(args.fcntool)
    work = pathlib.Path(args.work or tempfile.mkdtemp(prefix="onnx_bench_"))
    work.mkdir(parents=True, exist_ok=True)

    weights = helpers.random_weights(MODEL, work)
    onnx_path = work / "voc-fcn8s.onnx"
    start = time.perf_counter()
    log = helpers.run([args.fcntool, "export", f"--model={MODEL}", f"--weights={weights}",
                       f"--output={onnx_path}"])
    export_s = time.perf_counter() - start
    size_mb = onnx_path.stat().st_size / 1e6
    print(log.strip().splitlines()[-1])
    print(f"export: {export_s:.2f} s wall (fcntool export, including reading the "
          f"{weights.stat().st_size / 1e6:.1f} MB caffemodel), file {size_mb:.1f} MB")

    import numpy as np
    data = work / "data.f32"
    np.random.default_rng(0).uniform(-60, 60, (1, 3, 500, 500)).astype(np.float32).tofile(data)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads))
    fcn_ms, ort_ms = [], []
    for r in range(args.rounds):
        out = subprocess.run(
            [args.fcntool, "time", f"--model={MODEL}", f"--iterations={args.iterations}",
             f"--threads={args.threads}"], capture_output=True, text=True, env=env)
        if out.returncode != 0:
            sys.exit(out.stdout + out.stderr)
        fcn_ms.append(float(re.search(r"Average Forward pass: ([0-9.eE+-]+) ms",
                                      out.stdout + out.stderr).group(1)))
        (work / "ort").mkdir(exist_ok=True)
        rep = json.loads(helpers.run(
            ["node", REPO / "tests/onnx/run_ort.js", onnx_path, work / "ort",
             f"data=1,3,500,500={data}", f"--time={args.iterations}",
             f"--threads={args.threads}"], env=env).strip().splitlines()[-1])
        ort_ms.append(rep["forward_ms"])
        print(f"round {r + 1}: fcntool time forward {fcn_ms[-1]:.0f} ms, "
              f"ONNX Runtime forward {ort_ms[-1]:.0f} ms")
    f, o = min(fcn_ms), min(ort_ms)
    print(f"best of {args.rounds} rounds x {args.iterations} passes, {args.threads} threads, "
          f"1x3x500x500: fcn {f:.0f} ms, ONNX Runtime {o:.0f} ms (ORT / fcn = {o / f:.2f})")
    print(json.dumps({"export_s": round(export_s, 2), "onnx_mb": round(size_mb, 1),
                      "fcn_forward_ms": fcn_ms, "ort_forward_ms": ort_ms}))


if __name__ == "__main__":
    main()
