#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# Reports what an LMDB of Datums holds: counts, fields, shapes, label values, class histogram.
"""Checks an fcn segmentation LMDB (or a plain Caffe Datum LMDB) and reports its contents.

Every record is parsed and every encoded image decoded; sizes are checked against the Datum
header, the fields of each sample against each other and against ``~meta``. Problems are
listed with the record key and make the exit status 2.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

import common
import fcn_proto

SAMPLE_KEY = re.compile(r"^(\d{8})_([^/]+)/([^/]+)$")


class Report:
    """What the scan found; ``as_dict`` is the --json output."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.meta: dict | None = None
        self.format = "fcn-seg-1"
        self.samples: dict[str, dict[str, tuple[int, int, int]]] = {}
        self.shapes: dict[str, Counter] = defaultdict(Counter)
        self.encoded: dict[str, set[bool]] = defaultdict(set)
        self.histograms: dict[str, np.ndarray] = {}
        self.int_labels: Counter = Counter()
        self.records = 0
        self.problems: list[str] = []

    @property
    def fields(self) -> list[str]:
        if self.format == "caffe":
            return ["data"]
        if self.meta and isinstance(self.meta.get("fields"), list):
            return [str(f) for f in self.meta["fields"]]
        return sorted(self.shapes)

    @property
    def count(self) -> int:
        return self.records if self.format == "caffe" else len(self.samples)

    def label_values(self) -> dict[str, list[int]]:
        if self.format == "caffe":
            return {"label": sorted(self.int_labels)}
        return {name: [int(v) for v in np.flatnonzero(h)]
                for name, h in sorted(self.histograms.items())}

    def as_dict(self) -> dict:
        return {
            "db": str(self.path),
            "format": self.format,
            "complete": self.format == "caffe" or self.meta is not None,
            "meta": self.meta,
            "count": self.count,
            "records": self.records,
            "fields": self.fields,
            "shapes": {name: {"x".join(map(str, s)): n for s, n in sorted(c.items())}
                       for name, c in sorted(self.shapes.items())},
            "encoded": {name: sorted(v) for name, v in sorted(self.encoded.items())},
            "label_values": self.label_values(),
            "histogram": ({"label": {str(k): v for k, v in sorted(self.int_labels.items())}}
                          if self.format == "caffe" else
                          {name: {str(int(v)): int(h[v]) for v in np.flatnonzero(h)}
                           for name, h in sorted(self.histograms.items())}),
            "problems": self.problems,
        }


def datum_shape(key: str, datum, report: Report) -> tuple[int, int, int] | None:
    """Checks one Datum's payload against its header; returns (C, H, W) or None on a problem."""
    shape = (datum.channels, datum.height, datum.width)
    if datum.encoded:
        try:
            image = Image.open(io.BytesIO(datum.data))
            image.load()
        except (OSError, SyntaxError, ValueError) as error:
            report.problems.append(f"record '{key}': cannot decode the encoded image ({error})")
            return None
        channels = {"L": 1, "P": 3, "RGB": 3, "RGBA": 4, "I;16": 1, "I": 1}.get(image.mode, 0)
        decoded = (channels, image.height, image.width)
        if decoded != shape:
            report.problems.append(
                f"record '{key}': encoded image decodes to {decoded[0]}x{decoded[1]}x"
                f"{decoded[2]} (CxHxW) but the Datum says {shape[0]}x{shape[1]}x{shape[2]}")
            return None
        return shape
    expected = shape[0] * shape[1] * shape[2]
    if datum.data:
        if len(datum.data) != expected:
            report.problems.append(
                f"record '{key}': {len(datum.data)} data bytes for a {shape[0]}x{shape[1]}x"
                f"{shape[2]} Datum (expected {expected})")
            return None
    elif len(datum.float_data) != expected:
        report.problems.append(
            f"record '{key}': {len(datum.float_data)} float_data values for a {shape[0]}x"
            f"{shape[1]}x{shape[2]} Datum (expected {expected})")
        return None
    return shape


def scan(path: Path) -> Report:
    """Reads every record of the database at ``path``."""
    import lmdb

    if not (path / "data.mdb").is_file():
        raise common.ConversionError(f"{path}: not an LMDB directory (no data.mdb)")
    datum_type = fcn_proto.load().Datum
    report = Report(path)
    env = lmdb.open(str(path), readonly=True, lock=False, subdir=True)
    try:
        with env.begin() as txn:
            keys_with_slash = 0
            for raw_key, value in txn.cursor():
                report.records += 1
                key = raw_key.decode("utf-8", errors="replace")
                if raw_key == common.META_KEY:
                    report.records -= 1
                    try:
                        report.meta = json.loads(value.decode("utf-8"))
                    except ValueError as error:
                        report.problems.append(f"record '~meta': not valid JSON ({error})")
                    continue
                datum = datum_type()
                try:
                    datum.ParseFromString(value)
                except Exception as error:  # protobuf raises DecodeError, a bare Exception
                    report.problems.append(f"record '{key}': not a Datum ({error})")
                    continue
                match = SAMPLE_KEY.match(key)
                if "/" in key:
                    keys_with_slash += 1
                    if match is None:
                        report.problems.append(
                            f"record '{key}': key is not <index:08d>_<id>/<field>")
                        continue
                    field = match.group(3)
                    sample = f"{match.group(1)}_{match.group(2)}"
                else:
                    field, sample = "data", key
                shape = datum_shape(key, datum, report)
                if shape is None:
                    continue
                report.shapes[field][shape] += 1
                report.encoded[field].add(bool(datum.encoded))
                report.samples.setdefault(sample, {})[field] = shape
                if "/" not in key:
                    report.int_labels[datum.label] += 1
                elif (field in common.LABEL_FIELDS and not datum.encoded and datum.data
                      and shape[0] == 1):
                    counts = np.bincount(np.frombuffer(datum.data, dtype=np.uint8),
                                         minlength=256).astype(np.int64)
                    if field in report.histograms:
                        report.histograms[field] += counts
                    else:
                        report.histograms[field] = counts
    finally:
        env.close()
    if report.meta is None and keys_with_slash == 0:
        report.format = "caffe"
        return report
    cross_check(report)
    return report


def cross_check(report: Report) -> None:
    """Sample-level checks: ~meta present and consistent, every field present, sizes agree."""
    meta = report.meta
    if meta is None:
        report.problems.append(
            "no '~meta' record: the conversion did not finish (incomplete database)")
        return
    if meta.get("format") != common.FORMAT_NAME:
        report.problems.append(f"'~meta' format is {meta.get('format')!r}, expected "
                               f"'{common.FORMAT_NAME}'")
    if meta.get("count") != len(report.samples):
        report.problems.append(
            f"'~meta' says count {meta.get('count')} but the database holds "
            f"{len(report.samples)} samples")
    fields = report.fields
    for sample, shapes in sorted(report.samples.items()):
        missing = [f for f in fields if f not in shapes]
        if missing:
            report.problems.append(f"sample '{sample}': missing field(s) {', '.join(missing)}")
        sizes = {name: s[1:] for name, s in shapes.items()}
        if len(set(sizes.values())) > 1:
            text = ", ".join(f"{n} {h}x{w}" for n, (h, w) in sorted(sizes.items()))
            report.problems.append(f"sample '{sample}': fields differ in size (HxW): {text}")
    label_classes = meta.get("label_classes", {})
    ignore = meta.get("ignore_label")
    for name, histogram in report.histograms.items():
        classes = label_classes.get(name) if isinstance(label_classes, dict) else None
        if classes is None:
            continue
        bad = [int(v) for v in np.flatnonzero(histogram) if not (v < classes or v == ignore)]
        if bad:
            report.problems.append(
                f"field '{name}': label values {bad} outside 0..{classes - 1} and not the "
                f"ignore value {ignore}")


def print_text(report: Report) -> None:
    """The human-readable report."""
    kind = "Caffe Datum LMDB (no ~meta)" if report.format == "caffe" else report.format
    print(f"{report.path}: {kind}, {report.count} samples, {report.records} records")
    if report.meta is not None:
        print(f"  meta: {json.dumps(report.meta)}")
    for name in report.fields:
        shapes = report.shapes.get(name, Counter())
        encoded = ", ".join("encoded" if e else "raw" for e in sorted(report.encoded[name]))
        top = ", ".join(f"{c}x{h}x{w} ({n})" for (c, h, w), n in shapes.most_common(4))
        more = f", ... {len(shapes) - 4} more" if len(shapes) > 4 else ""
        print(f"  {name}: {encoded}; CxHxW {top}{more}")
    for name, values in report.label_values().items():
        print(f"  {name} values: {values}")
        if report.format == "caffe":
            continue
        histogram = report.histograms[name]
        total = int(histogram.sum())
        for value in np.flatnonzero(histogram):
            print(f"    {int(value):3d} {int(histogram[value]):12d} "
                  f"{100.0 * histogram[value] / total:6.2f}%")
    for problem in report.problems:
        print(f"  problem: {problem}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="check_lmdb.py", description=__doc__)
    parser.add_argument("db", type=Path, help="LMDB directory")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (count, fields, label_values, histogram, ...)")
    args = parser.parse_args(argv)
    report = scan(args.db)
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print_text(report)
    if report.problems:
        for problem in report.problems[:20]:
            print(f"check_lmdb.py: {args.db}: {problem}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(common.run(main))
