#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# Generates the project's procedural segmentation dataset (no download) in the CamVid layout.
"""Procedural segmentation scenes: 5 object classes + background, deterministic from --seed.

Each scene is a textured background (smooth colour noise, a gradient and a random pattern)
with 3..8 objects drawn one over another (occlusion), at random positions, angles and scales:
  1 disc      ellipses with a polka-dot texture
  2 box       rotated rectangles with stripes along their axis
  3 triangle  triangles with a checkerboard texture
  4 ring      thin annuli with a radial wave texture
  5 pole      thin lines 1..3 px wide (thin structures a stride-32 output cannot resolve)
Labels are 8-bit grayscale PNGs of the class index (no void pixels). Output layout, as CamVid's:
OUT/train/, OUT/trainannot/, OUT/val/, OUT/valannot/, OUT/train.txt, OUT/val.txt ("image label"
lines) and OUT/dataset.json, so that `convert_camvid.py --root OUT --split train --out DB` works.
Scene i depends only on (--seed, i) and the size, not on --count.
"""

from __future__ import annotations

import argparse
import colorsys
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

import common

CLASS_NAMES = ("background", "disc", "box", "triangle", "ring", "pole")
# Centre hue (0..1) of each object class; each object jitters it by +-0.06.
CLASS_HUES = {1: 0.0, 2: 0.6, 3: 0.33, 4: 0.15, 5: 0.8}


def _colour(rng: np.random.Generator, hue: float, saturation: tuple[float, float],
            value: tuple[float, float]) -> np.ndarray:
    rgb = colorsys.hsv_to_rgb(hue % 1.0, rng.uniform(*saturation), rng.uniform(*value))
    return np.array(rgb, dtype=np.float32) * 255.0


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Values in [0, 1]: a random cells x cells grid upsampled bilinearly to height x width."""
    grid = rng.random((cells, cells)).astype(np.float32)
    image = Image.fromarray(grid, mode="F").resize((width, height), Image.BILINEAR)
    return np.asarray(image, dtype=np.float32)


def _background(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    height, width = yy.shape
    hue = rng.random()
    low = _colour(rng, hue, (0.05, 0.35), (0.25, 0.5))
    high = _colour(rng, hue + rng.uniform(-0.15, 0.15), (0.05, 0.35), (0.55, 0.85))
    mix = 0.6 * _smooth_noise(rng, height, width, int(rng.integers(3, 7)))
    angle = rng.uniform(0, np.pi)
    ramp = (xx * np.cos(angle) + yy * np.sin(angle)) / max(height, width)
    mix += 0.25 * (ramp - ramp.min())
    pattern = int(rng.integers(3))
    period = rng.uniform(5, 14)
    if pattern == 0:  # wavy lines
        mix += 0.15 * np.sin(2 * np.pi * (yy + 3 * np.sin(xx / period)) / period)
    elif pattern == 1:  # bricks
        row = np.floor(yy / period)
        mix += 0.12 * (((np.floor((xx + (row % 2) * period) / (2 * period)) + row) % 2) - 0.5)
    else:  # speckle
        mix += 0.2 * (rng.random((height, width)).astype(np.float32) - 0.5)
    mix = np.clip(mix, 0.0, 1.0)[..., None]
    return low * (1 - mix) + high * mix


def _rotated(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float,
             angle: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(angle), np.sin(angle)
    u = (xx - cx) * c + (yy - cy) * s
    v = -(xx - cx) * s + (yy - cy) * c
    return u, v


def _object(rng: np.random.Generator, cls: int, yy: np.ndarray, xx: np.ndarray,
            size: int) -> tuple[np.ndarray, np.ndarray]:
    """(mask, texture in [0, 1]) of one object of class ``cls``."""
    cy, cx = rng.uniform(-0.1, 1.1) * yy.shape[0], rng.uniform(-0.1, 1.1) * xx.shape[1]
    radius = size * rng.uniform(0.06, 0.28)
    angle = rng.uniform(0, np.pi)
    u, v = _rotated(yy, xx, cy, cx, angle)
    period = rng.uniform(4, 9)
    if cls == 1:  # disc, polka dots
        aspect = rng.uniform(0.7, 1.0)
        mask = (u / radius) ** 2 + (v / (radius * aspect)) ** 2 <= 1
        du, dv = (u % period) - period / 2, (v % period) - period / 2
        texture = (du ** 2 + dv ** 2 <= (period / 3.2) ** 2).astype(np.float32)
    elif cls == 2:  # box, stripes
        half_w, half_h = radius, radius * rng.uniform(0.4, 1.0)
        mask = (np.abs(u) <= half_w) & (np.abs(v) <= half_h)
        texture = (np.sin(2 * np.pi * u / period) > 0).astype(np.float32)
    elif cls == 3:  # triangle, checkerboard
        mask = np.ones(yy.shape, dtype=bool)
        for k in range(3):
            theta = angle + 2 * np.pi * k / 3
            mask &= (xx - cx) * np.cos(theta) + (yy - cy) * np.sin(theta) <= radius * 0.55
        texture = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    elif cls == 4:  # ring, radial waves
        dist = np.hypot(u, v)
        width = radius * rng.uniform(0.2, 0.4)
        mask = (dist <= radius) & (dist >= radius - width)
        texture = 0.5 + 0.5 * np.sin(2 * np.pi * np.arctan2(v, u) * 6 / (2 * np.pi) * 2)
    else:  # pole, a thin line segment
        length = size * rng.uniform(0.4, 1.2)
        mask = (np.abs(u) <= length / 2) & (np.abs(v) <= rng.uniform(0.5, 1.6))
        texture = np.clip(0.5 + u / length, 0.0, 1.0)
    return mask, texture


def make_scene(seed: int, index: int, height: int, width: int,
               objects: list[tuple[int, np.ndarray]] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """(HxWx3 uint8 RGB image, HxW uint8 label) of scene ``index``.

    When ``objects`` is given, (class, full mask) of each object drawn is appended to it, in
    drawing order (later objects occlude earlier ones).
    """
    rng = np.random.default_rng([seed, index])
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = _background(rng, yy, xx)
    label = np.zeros((height, width), dtype=np.uint8)
    size = min(height, width)
    for _ in range(int(rng.integers(3, 9))):
        cls = int(rng.integers(1, len(CLASS_NAMES)))
        mask, texture = _object(rng, cls, yy, xx, size)
        if not mask.any():
            continue
        hue = CLASS_HUES[cls] + rng.uniform(-0.06, 0.06)
        first = _colour(rng, hue, (0.6, 1.0), (0.55, 1.0))
        second = _colour(rng, hue + rng.uniform(-0.05, 0.05), (0.5, 1.0), (0.15, 0.45))
        shade = texture[mask][:, None]
        image[mask] = first * shade + second * (1 - shade)
        label[mask] = cls
        if objects is not None:
            objects.append((cls, mask))
    image += 4.0 * rng.standard_normal(image.shape, dtype=np.float32)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), label


def parse_size(text: str) -> tuple[int, int]:
    """--size N or WxH -> (height, width)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 8 or max(parts) > 4096:
        raise common.ConversionError(f"--size {text!r}: expected N or WxH, each 8..4096")
    return parts[1], parts[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make_synthetic.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: make_synthetic.py --out out/synthetic --count 200 --size 128 && "
               "convert_camvid.py --root out/synthetic --split train --out out/db/syn-train")
    parser.add_argument("--out", required=True, type=Path, help="output dataset folder")
    parser.add_argument("--count", type=int, default=200, help="number of scenes (default 200)")
    parser.add_argument("--val-fraction", type=float, default=0.2,
                        help="share of the scenes that go to val (the last ones; default 0.2)")
    parser.add_argument("--size", default="128", help="N (square) or WxH (default 128)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out")
    args = parser.parse_args(argv)
    height, width = parse_size(args.size)
    if args.count < 2 or not 0 < args.val_fraction < 1:
        raise common.ConversionError("--count must be >= 2 and --val-fraction within (0, 1)")
    common.check_output(args.out, args.force)
    n_val = min(max(1, round(args.count * args.val_fraction)), args.count - 1)
    start = time.monotonic()
    tmp = args.out.parent / f"{args.out.name}.incomplete-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    histogram = np.zeros(len(CLASS_NAMES), dtype=np.int64)
    progress = common.Progress(args.count, "synthetic")
    try:
        lists: dict[str, list[str]] = {"train": [], "val": []}
        for split in lists:
            (tmp / split).mkdir(parents=True)
            (tmp / f"{split}annot").mkdir()
        for index in range(args.count):
            split = "train" if index < args.count - n_val else "val"
            image, label = make_scene(args.seed, index, height, width)
            name = f"syn_{index:05d}.png"
            Image.fromarray(image).save(tmp / split / name)
            Image.fromarray(label, mode="L").save(tmp / f"{split}annot" / name)
            lists[split].append(f"{split}/{name} {split}annot/{name}")
            histogram += np.bincount(label.ravel(), minlength=len(CLASS_NAMES))
            progress.update(index + 1)
        for split, lines in lists.items():
            (tmp / f"{split}.txt").write_text("".join(line + "\n" for line in lines))
        info = {"dataset": "synthetic", "classes": len(CLASS_NAMES), "ignore_label": 255,
                "class_names": list(CLASS_NAMES), "seed": args.seed, "count": args.count,
                "size": [width, height]}
        (tmp / "dataset.json").write_text(json.dumps(info, indent=2) + "\n")
        if args.out.exists():
            shutil.rmtree(args.out)
        os.replace(tmp, args.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.monotonic() - start
    print(f"wrote {args.out}: {args.count - n_val} train + {n_val} val scenes of {width}x{height} "
          f"in {seconds:.1f} s")
    total = int(histogram.sum())
    for cls, name in enumerate(CLASS_NAMES):
        share = 100.0 * histogram[cls] / total
        print(f"  {cls} {name:<10} {int(histogram[cls]):10d} {share:6.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(common.run(main))
