# SPDX-License-Identifier: BSD-2-Clause
# Shared pieces of the dataset converters: Datum encoding, checks, the LMDB writer, CLI, summary.
"""Common code for ``convert_*.py``: the fcn segmentation LMDB format ("fcn-seg-1").

One LMDB environment per split. Sample records have the key ``<index:08d>_<id>/<field>`` and
one serialized Caffe ``Datum`` as value; the JSON record ``~meta`` is written last, so a
database without it is incomplete. See README.md for the full description.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence, TextIO

import numpy as np
from PIL import Image

import fcn_proto

FORMAT_NAME = "fcn-seg-1"
META_KEY = b"~meta"
IMAGE_FIELDS = ("data", "color", "hha")
LABEL_FIELDS = ("label", "sem", "geo")
FLOAT_FIELDS = ("depth",)
MAX_KEY_BYTES = 511  # LMDB's default maximum key size


class ConversionError(Exception):
    """Bad user input (a missing or malformed file, an existing output): exit status 2."""


# ---------------------------------------------------------------------------------------------
# Reading inputs


def require_file(path: Path, what: str = "file", context: str = "") -> Path:
    """Returns ``path`` if it is a file, else raises a ConversionError naming it."""
    if not path.is_file():
        where = f" ({context})" if context else ""
        raise ConversionError(f"{path}: {what} not found{where}")
    return path


def read_list(path: Path) -> list[str]:
    """Reads a split list: one entry per non-empty line, surrounding blanks removed."""
    require_file(path, "split list")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise ConversionError(f"{path}: split list is not UTF-8 text ({error})") from error
    entries = [line.strip() for line in lines if line.strip()]
    if not entries:
        raise ConversionError(f"{path}: split list is empty")
    return entries


def open_image(path: Path, context: str = "") -> Image.Image:
    """Opens an image file with PIL (fully loaded), naming the file on any failure."""
    require_file(path, "image", context)
    try:
        image = Image.open(path)
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise ConversionError(f"{path}: cannot decode image ({error})") from error
    return image


def read_index_png(path: Path, context: str = "") -> np.ndarray:
    """Reads a label PNG as an HxW uint8 array of class indices.

    Palette ("P") images give their indices, never the palette colours; grayscale ("L")
    images give their values. Anything else is an error naming the file.
    """
    image = open_image(path, context)
    if image.mode not in ("P", "L"):
        raise ConversionError(
            f"{path}: label image has mode {image.mode}; expected a palette (P) or 8-bit "
            "grayscale (L) PNG of class indices")
    return np.array(image, dtype=np.uint8)


def load_mat(path: Path, context: str = "") -> dict:
    """Loads a MATLAB .mat file with scipy, naming the file on failure."""
    import scipy.io  # imported here: only the .mat converters need scipy

    require_file(path, ".mat file", context)
    try:
        return scipy.io.loadmat(str(path))
    except (OSError, ValueError, TypeError, NotImplementedError) as error:
        raise ConversionError(f"{path}: cannot read MATLAB file ({error})") from error


def mat_variable(mat: dict, name: str, path: Path) -> np.ndarray:
    """Returns variable ``name`` of a loaded .mat file as a 2-D array."""
    if name not in mat:
        found = ", ".join(sorted(k for k in mat if not k.startswith("__"))) or "none"
        raise ConversionError(f"{path}: no variable '{name}' (variables: {found})")
    value = np.asarray(mat[name])
    if value.ndim != 2:
        raise ConversionError(f"{path}: variable '{name}' has shape {value.shape}; expected HxW")
    return value


# ---------------------------------------------------------------------------------------------
# Checks


def check_same_size(label: np.ndarray, label_path: Path, image_hw: tuple[int, int],
                    image_path: Path, what: str = "label") -> None:
    """Raises a ConversionError naming both files when the label and image sizes differ."""
    if tuple(label.shape[:2]) != tuple(image_hw):
        lh, lw = label.shape[:2]
        ih, iw = image_hw
        raise ConversionError(
            f"{label_path}: {what} is {lw}x{lh} (WxH) but its image {image_path} is {iw}x{ih}")


def check_label_values(label: np.ndarray, path: Path, classes: int,
                       ignore_label: int | None) -> None:
    """Raises a ConversionError naming ``path`` when a value is neither 0..classes-1 nor ignore."""
    if label.dtype.kind == "f" and not np.array_equal(label, np.round(label)):
        raise ConversionError(f"{path}: label holds non-integer values")
    if label.dtype == np.uint8:  # bincount is several times faster than unique's sort
        values = np.flatnonzero(np.bincount(label.ravel(), minlength=256))
    else:
        values = np.unique(label)
    bad = [int(v) for v in values if not (0 <= v < classes or v == ignore_label)]
    if bad:
        shown = ", ".join(str(v) for v in bad[:10]) + (", ..." if len(bad) > 10 else "")
        count = int(np.isin(label, bad).sum())
        allowed = f"0..{classes - 1}" + ("" if ignore_label is None else f" and {ignore_label}")
        raise ConversionError(
            f"{path}: label value(s) {shown} ({count} pixels) outside the classes; allowed: "
            f"{allowed}")


# ---------------------------------------------------------------------------------------------
# Datum encoding


def _datum():
    return fcn_proto.load().Datum()


def png_bytes(array: np.ndarray) -> bytes:
    """Encodes an HxW or HxWx3 uint8 array as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def image_datum_from_file(path: Path, context: str = "") -> tuple[bytes, tuple[int, int]]:
    """An encoded colour Datum from an image file, and the image's (H, W).

    RGB JPEG and PNG files are stored byte for byte; any other mode or format is converted to
    RGB and re-encoded as PNG so that every decoder yields 3 channels.
    """
    image = open_image(path, context)
    width, height = image.size
    if image.format in ("JPEG", "PNG") and image.mode == "RGB":
        payload = path.read_bytes()
    else:
        payload = png_bytes(np.array(image.convert("RGB"), dtype=np.uint8))
    datum = _datum()
    datum.channels, datum.height, datum.width = 3, height, width
    datum.data = payload
    datum.encoded = True
    return datum.SerializeToString(), (height, width)


def image_datum_from_array(rgb: np.ndarray) -> bytes:
    """An encoded (PNG) 3-channel Datum from an HxWx3 uint8 array given in file (RGB) order."""
    datum = _datum()
    datum.channels, datum.height, datum.width = 3, rgb.shape[0], rgb.shape[1]
    datum.data = png_bytes(np.ascontiguousarray(rgb, dtype=np.uint8))
    datum.encoded = True
    return datum.SerializeToString()


def label_datum(label: np.ndarray) -> bytes:
    """A raw 1xHxW uint8 Datum of class indices."""
    datum = _datum()
    datum.channels, datum.height, datum.width = 1, label.shape[0], label.shape[1]
    datum.data = np.ascontiguousarray(label, dtype=np.uint8).tobytes()
    return datum.SerializeToString()


def float_datum(values: np.ndarray) -> bytes:
    """A 1xHxW float Datum (``float_data``; ``data`` left empty)."""
    datum = _datum()
    datum.channels, datum.height, datum.width = 1, values.shape[0], values.shape[1]
    datum.float_data.extend(np.ascontiguousarray(values, dtype=np.float32).ravel().tolist())
    return datum.SerializeToString()


def sample_key(index: int, sample_id: str, field_name: str) -> bytes:
    """The record key ``<index:08d>_<id>/<field>``."""
    if "/" in sample_id:
        raise ConversionError(f"sample id '{sample_id}' contains '/', which keys cannot hold")
    if (not sample_id or not sample_id.isascii() or not sample_id.isprintable()
            or any(c.isspace() for c in sample_id)):
        raise ConversionError(f"sample id {sample_id!r} must be printable ASCII without blanks")
    key = f"{index:08d}_{sample_id}/{field_name}".encode("ascii")
    if len(key) > MAX_KEY_BYTES:
        raise ConversionError(f"sample id '{sample_id}' is too long for an LMDB key")
    return key


# ---------------------------------------------------------------------------------------------
# Output: the LMDB writer


def check_output(out: Path, force: bool) -> None:
    """Refuses an existing output unless ``force``."""
    if (out.exists() or out.is_symlink()) and not force:
        raise ConversionError(f"{out}: output database already exists; pass --force to replace it")


class LmdbWriter:
    """Writes one database into ``<out>.incomplete-<pid>`` and renames it to ``out`` at the end.

    The map size starts at ``initial_map_size`` and doubles whenever a transaction does not
    fit. ``~meta`` goes into the final transaction; nothing is renamed before it is written, and
    the temporary directory is removed when the conversion fails.
    """

    def __init__(self, out: Path, force: bool, initial_map_size: int = 1 << 28,
                 batch_bytes: int = 32 << 20) -> None:
        import lmdb

        self._lmdb = lmdb
        self.out = out
        self.force = force
        self.tmp = out.parent / f"{out.name}.incomplete-{os.getpid()}"
        self._batch: list[tuple[bytes, bytes]] = []
        self._batch_size = 0
        self._batch_limit = batch_bytes
        self.records = 0
        out.parent.mkdir(parents=True, exist_ok=True)
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.env = lmdb.open(str(self.tmp), map_size=initial_map_size, subdir=True,
                             sync=False, metasync=False, meminit=False, max_dbs=0)

    def put(self, key: bytes, value: bytes) -> None:
        """Queues one record; records are committed in batches of about ``batch_bytes``."""
        self._batch.append((key, value))
        self._batch_size += len(key) + len(value)
        if self._batch_size >= self._batch_limit:
            self._flush()

    def _flush(self) -> None:
        while self._batch:
            try:
                with self.env.begin(write=True) as txn:
                    for key, value in self._batch:
                        if not txn.put(key, value, overwrite=False):
                            raise ConversionError(f"duplicate record key '{key.decode()}'")
                break
            except self._lmdb.MapFullError:
                self.env.set_mapsize(self.env.info()["map_size"] * 2)
        self.records += len(self._batch)
        self._batch, self._batch_size = [], 0

    def finish(self, meta: Mapping[str, object]) -> None:
        """Writes ``~meta`` in the final transaction, syncs, and renames into place."""
        self.put(META_KEY, json.dumps(meta).encode("utf-8"))
        self._flush()
        self.env.sync(True)
        self.env.close()
        check_output(self.out, self.force)
        old = None
        if self.out.exists() or self.out.is_symlink():
            if self.out.is_dir() and not self.out.is_symlink():
                old = self.out.parent / f"{self.out.name}.old-{os.getpid()}"
                os.replace(self.out, old)
            else:
                self.out.unlink()
        os.replace(self.tmp, self.out)
        if old is not None:
            shutil.rmtree(old)

    def abort(self) -> None:
        """Closes and deletes the temporary database."""
        try:
            self.env.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Progress and summary


class Progress:
    """A progress bar on stderr: redrawn in place on a terminal, a line per 10% otherwise."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self.done = 0
        self._last_draw = 0.0
        self._last_decile = -1

    def update(self, done: int) -> None:
        """Reports that ``done`` of the total items are finished."""
        self.done = done
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw >= 0.1 or done >= self.total:
                self._last_draw = now
                self.stream.write("\r" + self._line(now))
                if done >= self.total:
                    self.stream.write("\n")
                self.stream.flush()
        else:
            decile = done * 10 // self.total
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(self._line(now) + "\n")
                self.stream.flush()

    def _line(self, now: float) -> str:
        fraction = min(self.done / self.total, 1.0)
        elapsed = now - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else math.inf
        bar = "#" * int(fraction * 30)
        eta_text = "--:--" if math.isinf(eta) else f"{int(eta) // 60:02d}:{int(eta) % 60:02d}"
        return (f"{self.label} [{bar:<30}] {self.done}/{self.total} {fraction:4.0%} "
                f"{rate:6.1f}/s ETA {eta_text}")


@dataclass
class LabelSpec:
    """What one label field may hold: ``classes`` indices, the ignore value, class names."""

    classes: int
    ignore_label: int | None
    names: Sequence[str] = ()


@dataclass
class Stats:
    """Counts gathered while converting: sizes and per-class pixel counts of label fields."""

    histograms: dict[str, np.ndarray] = field(default_factory=dict)
    sizes: dict[str, set[tuple[int, int]]] = field(default_factory=dict)

    def add_label(self, field_name: str, label: np.ndarray) -> None:
        counts = np.bincount(label.ravel(), minlength=256)
        if field_name in self.histograms:
            self.histograms[field_name] += counts
        else:
            self.histograms[field_name] = counts.astype(np.int64)

    def add_size(self, field_name: str, hw: tuple[int, int]) -> None:
        self.sizes.setdefault(field_name, set()).add(tuple(int(v) for v in hw))


@dataclass
class Sample:
    """One converted sample: its fields' serialized Datums and the label arrays for the stats."""

    datums: dict[str, bytes]
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)


def _size_text(sizes: Iterable[tuple[int, int]]) -> str:
    sizes = sorted(sizes)
    if len(sizes) == 1:
        return f"all {sizes[0][1]}x{sizes[0][0]} (WxH)"
    heights = [h for h, _ in sizes]
    widths = [w for _, w in sizes]
    return (f"{len(sizes)} sizes, W {min(widths)}..{max(widths)}, "
            f"H {min(heights)}..{max(heights)}")


def format_summary(out: Path, count: int, fields: Sequence[str], stats: Stats,
                   specs: Mapping[str, LabelSpec], seconds: float) -> str:
    """The text printed after a conversion: count, sizes, pixels per class, time."""
    size_mb = sum(p.stat().st_size for p in out.glob("*.mdb")) / 1e6
    rate = count / seconds if seconds > 0 else 0.0
    lines = [f"wrote {out}: {count} samples, fields {', '.join(fields)}, {size_mb:.1f} MB, "
             f"{seconds:.1f} s ({rate:.1f} samples/s)"]
    for name in fields:
        if name in stats.sizes:
            lines.append(f"  {name}: {_size_text(stats.sizes[name])}")
    for name, histogram in stats.histograms.items():
        spec = specs[name]
        total = int(histogram.sum())
        lines.append(f"  {name}: pixels per class ({total} pixels)")
        for value in np.flatnonzero(histogram):
            value = int(value)
            if value < len(spec.names):
                title = spec.names[value]
            elif value == spec.ignore_label:
                title = "(ignore)"
            else:
                title = ""
            pixels = int(histogram[value])
            lines.append(f"    {value:3d} {title:<16} {pixels:12d} {100.0 * pixels / total:6.2f}%")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The driver shared by the converters


def add_common_arguments(parser: argparse.ArgumentParser, list_help: str | None) -> None:
    """Adds --root, --split, --out, --force (and --list when ``list_help`` is given)."""
    parser.add_argument("--root", required=True, type=Path, help="the dataset's folder")
    parser.add_argument("--split", required=True, help="split name (see above)")
    parser.add_argument("--out", required=True, type=Path,
                        help="output LMDB directory (created; see --force)")
    if list_help is not None:
        parser.add_argument("--list", type=Path, help=list_help)
    parser.add_argument("--force", action="store_true",
                        help="replace an existing output database")


def convert(*, out: Path, force: bool, dataset: str, split: str, fields: Sequence[str],
            ids: Sequence[str], load: Callable[[str], Sample], specs: Mapping[str, LabelSpec],
            initial_map_size: int = 1 << 28, progress_stream: TextIO | None = None) -> int:
    """Converts ``ids`` in order into ``out`` and prints the summary; returns the count.

    ``load(id)`` reads and checks one sample and returns its Datums (exactly ``fields``).
    """
    check_output(out, force)
    if not ids:
        raise ConversionError(f"split '{split}' has no samples")
    start = time.monotonic()
    stats = Stats()
    writer = LmdbWriter(out, force, initial_map_size=initial_map_size)
    progress = Progress(len(ids), f"{dataset} {split}", progress_stream)
    try:
        for index, sample_id in enumerate(ids):
            keys = {name: sample_key(index, sample_id, name) for name in fields}
            sample = load(sample_id)
            if sorted(sample.datums) != sorted(fields):
                raise AssertionError(f"converter returned fields {sorted(sample.datums)}")
            for name in sorted(fields):
                writer.put(keys[name], sample.datums[name])
            for name, label in sample.labels.items():
                stats.add_label(name, label)
            for name, hw in sample.sizes.items():
                stats.add_size(name, hw)
            progress.update(index + 1)
        meta: dict[str, object] = {"format": FORMAT_NAME, "count": len(ids),
                                   "fields": list(fields), "dataset": dataset, "split": split}
        label_specs = {name: specs[name] for name in fields if name in specs}
        if len(label_specs) == 1:
            (spec,) = label_specs.values()
            if spec.ignore_label is not None:
                meta["ignore_label"] = spec.ignore_label
            meta["classes"] = spec.classes
        else:
            ignores = {spec.ignore_label for spec in label_specs.values()}
            if len(ignores) == 1 and None not in ignores:
                meta["ignore_label"] = ignores.pop()
        meta["label_classes"] = {name: spec.classes for name, spec in label_specs.items()}
        writer.finish(meta)
    except BaseException:
        writer.abort()
        raise
    print(format_summary(out, len(ids), fields, stats, specs, time.monotonic() - start))
    return len(ids)


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None,
        prog: str | None = None) -> int:
    """Runs a script's ``main``: user errors exit 2, environment failures 1, as fcntool."""
    import lmdb

    prog = prog or Path(sys.argv[0]).name
    try:
        return main(argv)
    except ConversionError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except (fcn_proto.ProtoModuleError, OSError, lmdb.Error) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; no database was written", file=sys.stderr)
        return 130
