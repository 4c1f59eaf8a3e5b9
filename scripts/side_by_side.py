#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Writes one PNG with, per row, an image, its truth and each net's prediction side by side.

Truth labels are grayscale class-index PNGs (as the converters read them); predictions are the
`<stem>_label.png` files `fcntool segment` writes (VOC palette). Truth is coloured with the
same palette, so colours agree across the columns; ignored pixels are drawn white.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "data_scripts"))
from palette import voc_palette  # noqa: E402  (the one VOC palette, data_scripts/palette.py)


def colour_truth(path: Path, ignore: int) -> Image.Image:
    label = np.array(Image.open(path))
    rgb = voc_palette()[label]
    rgb[label == ignore] = 255
    return Image.fromarray(rgb)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", required=True, help="'IMAGE LABEL' lines (paths relative to --root)")
    parser.add_argument("--root", required=True, help="folder the list's paths are relative to")
    parser.add_argument("--pred", action="append", required=True,
                        help="NAME=DIR of a net's fcntool segment output (repeatable)")
    parser.add_argument("--rows", type=int, default=4, help="how many images (default 4)")
    parser.add_argument("--ignore", type=int, default=255, help="ignore label (default 255)")
    parser.add_argument("--out", required=True, help="output PNG")
    args = parser.parse_args()

    preds = [p.split("=", 1) for p in args.pred]
    lines = [l.split() for l in Path(args.list).read_text().splitlines() if l.strip()][: args.rows]
    titles = ["image", "truth"] + [name for name, _ in preds]
    tiles: list[list[Image.Image]] = []
    for image_rel, label_rel in lines:
        image = Image.open(Path(args.root) / image_rel).convert("RGB")
        row = [image, colour_truth(Path(args.root) / label_rel, args.ignore)]
        stem = Path(image_rel).stem
        for _, folder in preds:
            row.append(Image.open(Path(folder) / f"{stem}_label.png").convert("RGB"))
        tiles.append(row)
    w, h = tiles[0][0].size
    gap, header = 4, 16
    canvas = Image.new("RGB", (len(titles) * (w + gap) - gap, header + len(tiles) * (h + gap) - gap),
                       (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, title in enumerate(titles):
        draw.text((c * (w + gap) + 2, 2), title, fill=(0, 0, 0))
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            canvas.paste(tile.resize((w, h), Image.NEAREST), (c * (w + gap), header + r * (h + gap)))
    canvas.save(args.out)
    print(f"wrote {args.out} ({len(tiles)} images x {len(titles)} columns)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
