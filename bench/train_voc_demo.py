#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Trains voc-fcn8s at full size on the VOC demo image from a random VGG-16 through surgery.

The paper's pipeline on one real image, with nothing downloaded:
  1. bench/random_vgg16.py writes a randomly initialised VGG-16 classifier (553 MB);
  2. `fcntool surgery` turns it into voc-fcn8s weights (fc6/fc7 coerced to convolutions,
     score layers zero, upscore layers bilinear);
  3. data_scripts/convert_voc.py converts ../shared/data/voc-demo (image.jpg + label.png, put
     into a VOC year folder with symlinks) into the LMDB that models/voc-fcn8s/train.prototxt
     reads;
  4. `fcntool train` runs the reference solver (solvers/voc-fcn8s.prototxt: lr 1e-14 fixed,
     momentum 0.99, weight decay 5e-4, unnormalised loss) for --iterations iterations on that
     one image (whole image, batch 1, dropout active), without snapshots.
It prints the seconds per iteration, the learning rate and the loss before the first and
after the last update. Not a CI test: it reads ../shared and takes minutes.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "data_scripts"))
sys.path.insert(0, str(REPO / "bench"))

import fcn_proto  # noqa: E402
import random_vgg16  # noqa: E402

MODEL = "voc-fcn8s"
DISPLAY = re.compile(r"Iteration (\d+) \(([0-9.eE+-]+) iter/s, ([0-9.eE+-]+)s/1 iters\), "
                     r"loss = ([^\s]+)")
FINAL = re.compile(r"Iteration (\d+), loss = ([^\s]+)")


def run_child(cmd: Sequence[object], cwd: Path, log: Path) -> tuple[str, float, float]:
    """Runs cmd with its output teed into ``log``; returns the output, the wall seconds and
    the child's peak RSS in MiB. Exits with the tail of the output when the child fails."""
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    text = log.read_text(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"train_voc_demo: {' '.join(map(str, cmd))} failed with exit code {code}:\n"
                 f"{text[-4000:]}")
    return text, seconds, usage.ru_maxrss / 1024.0


def voc_folder(demo: Path, root: Path) -> None:
    """A VOC year folder holding the demo image as sample "demo" (symlinks)."""
    for name in ("image.jpg", "label.png"):
        if not (demo / name).is_file():
            sys.exit(f"train_voc_demo: {demo / name} not found (see --demo)")
    (root / "JPEGImages").mkdir(parents=True)
    (root / "SegmentationClass").mkdir()
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "JPEGImages" / "demo.jpg").symlink_to(demo.resolve() / "image.jpg")
    (root / "SegmentationClass" / "demo.png").symlink_to(demo.resolve() / "label.png")
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("demo\n")


def write_solver(work: Path, iterations: int, base_lr: float | None) -> tuple[Path, float]:
    """The reference solver with the staged train net, --iterations, display 1, no test net and
    no snapshot; returns its path and its learning rate."""
    from google.protobuf import text_format

    pb = fcn_proto.load()
    solver = text_format.Parse((REPO / "solvers" / f"{MODEL}.prototxt").read_text(),
                               pb.SolverParameter())
    solver.train_net = str(work / "models" / MODEL / "train.prototxt")
    for field in ("test_net", "test_iter", "test_interval", "snapshot"):
        solver.ClearField(field)
    solver.max_iter = iterations
    solver.display = 1
    solver.average_loss = 1
    solver.snapshot_after_train = False
    solver.snapshot_prefix = str(work / "snapshot" / MODEL)
    if base_lr is not None:
        solver.base_lr = base_lr
    path = work / "solver.prototxt"
    path.write_text(text_format.MessageToString(solver))
    return path, solver.base_lr


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train_voc_demo.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=10, help="training iterations (10)")
    parser.add_argument("--base_lr", type=float, default=None,
                        help="learning rate (default: the reference solver's, 1e-14)")
    parser.add_argument("--fcntool", type=Path, default=REPO / "build" / "src" / "fcntool")
    parser.add_argument("--demo", type=Path, default=REPO.parent / "shared" / "data" / "voc-demo",
                        help="folder with image.jpg and label.png (../shared/data/voc-demo)")
    parser.add_argument("--work_dir", type=Path, default=None,
                        help="keep the files here (default: a temporary folder, removed)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random classifier")
    args = parser.parse_args(argv)
    if args.iterations < 2:
        parser.error("--iterations must be at least 2")
    args.fcntool = args.fcntool.resolve()
    if not args.fcntool.is_file():
        sys.exit(f"train_voc_demo: {args.fcntool}: fcntool not found (see --fcntool)")

    temp = None
    if args.work_dir is None:
        temp = tempfile.TemporaryDirectory(prefix="train_voc_demo-")
        work = Path(temp.name)
    else:
        work = args.work_dir.resolve()
        work.mkdir(parents=True, exist_ok=True)
    try:
        net_dir = work / "models" / MODEL
        net_dir.mkdir(parents=True)
        for net in ("train", "deploy"):
            shutil.copyfile(REPO / "models" / MODEL / f"{net}.prototxt",
                            net_dir / f"{net}.prototxt")
        voc_folder(args.demo, work / "VOCdemo")
        # train.prototxt reads ../../db/sbd-train, i.e. work/db/sbd-train.
        run_child([sys.executable, REPO / "data_scripts" / "convert_voc.py", "--root",
                   work / "VOCdemo", "--split", "train", "--out", work / "db" / "sbd-train"],
                  work, work / "convert.log")

        classifier = work / "vgg16-random.caffemodel"
        start = time.monotonic()
        with open(classifier, "wb") as out:
            random_vgg16.write_classifier(out, random_vgg16.vgg16_layers(), args.seed)
        print(f"random VGG-16 classifier: {time.monotonic() - start:.1f} s")

        init = work / "init.caffemodel"
        text, seconds, _ = run_child(
            [args.fcntool, "surgery", f"--model={net_dir / 'deploy.prototxt'}",
             f"--weights={classifier}", f"--output={init}"], work, work / "surgery.log")
        print(f"surgery: {seconds:.1f} s; " + text.strip().splitlines()[-1])
        classifier.unlink()

        solver, lr = write_solver(work, args.iterations, args.base_lr)
        text, seconds, rss = run_child(
            [args.fcntool, "train", f"--solver={solver}", f"--weights={init}"], work,
            work / "train.log")
        lapses = {int(m.group(1)): float(m.group(3)) for m in DISPLAY.finditer(text)}
        losses = {int(m.group(1)): float(m.group(4)) for m in DISPLAY.finditer(text)}
        final = [m for m in FINAL.finditer(text) if int(m.group(1)) == args.iterations]
        if len(losses) != args.iterations or not final:
            sys.exit(f"train_voc_demo: unexpected training log (see {work / 'train.log'}):\n"
                     f"{text[-3000:]}")
        losses[args.iterations] = float(final[-1].group(2))
        # The lapse shown at iteration k > 0 covers the update of k-1 and the pass of k.
        steps = [lapses[k] for k in range(1, args.iterations)]
        first, last = losses[0], losses[args.iterations]

        print(f"\nvoc-fcn8s on {args.demo / 'image.jpg'} (whole image, batch 1), "
              f"{args.iterations} iterations")
        print(f"  learning rate        {lr:g} (fixed), momentum 0.99, weight decay 5e-4")
        print(f"  seconds / iteration  {statistics.mean(steps):.2f} mean, "
              f"{statistics.median(steps):.2f} median, {min(steps):.2f} min "
              f"(iterations 1..{args.iterations - 1}); iteration 0: {lapses[0]:.2f}")
        print(f"  training process     {seconds:.1f} s wall, peak RSS {rss / 1024:.2f} GiB")
        print("  loss by iteration    " + ", ".join(f"{losses[k]:.6g}"
                                                    for k in sorted(losses)))
        change = (last - first) / first
        verdict = "falls" if last < first else "does not fall"
        print(f"  loss                 {first:.6g} before the first update, {last:.6g} after "
              f"the last ({100 * change:+.3f}%): the loss {verdict}")
        return 0 if last < first else 1
    finally:
        if temp is not None:
            temp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
