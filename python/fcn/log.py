# SPDX-License-Identifier: BSD-2-Clause
"""Training-log tools (what Caffe's ``parse_log.py`` and ``plot_training_log.py`` do).

    python3 -m fcn.log parse train.log [out.csv] [--phase all|train|test]
    python3 -m fcn.log plot train.log out.png [--size 1200x900]

They read the glog lines that ``fcntool train`` and ``fcn.SGDSolver`` write (Caffe's wording,
so Caffe's own logs work too):

    I20261205 08:07:52.558470 948 solver.cpp:522] Iteration 5 (20.2 iter/s, ...), loss = 0.46
    I20261205 08:07:52.558555 948 solver.cpp:538]     Train net output #0: loss = 0.46 (* 1 = ...)
    I20261205 08:07:52.558583 948 sgd_update.cpp:19] Iteration 5, lr = 0.1
    I20261205 08:07:53.006671 948 solver.cpp:645] Iteration 10, Testing net (#0)
    I20261205 08:07:53.057065 948 solver.cpp:720]     Test net output #0: loss = 0.094 (* 1 = ...)
    I20261205 08:07:53.057152 948 solver.cpp:727]     Test net metrics #0: pixel_acc = 0.9,
        mean_acc = 0.8, mean_iu = 0.7, fwavacc = 0.85 (score)

``parse`` writes one CSV (to stdout without ``out.csv``): ``Phase`` (``train``; ``test`` for
test net #0, ``test#k`` for test net #k), then Caffe's ``NumIters, Seconds, LearningRate``
(seconds since ``Solving``), then one column per net output (``loss``, ...), the solver's
displayed (smoothed) loss as ``smoothed_loss``, ``test_loss`` when the solver computes it, and
the FCN metrics ``pixel_acc, mean_acc, mean_iu, fwavacc`` (head #0; head #k's get the suffix
``:<score blob>``). ``--phase train`` or ``--phase test`` writes only that phase, without the
``Phase`` column, as Caffe's two files. ``plot`` draws the loss, the learning rate and the four
metrics against the iterations into a PNG (matplotlib, Agg backend).

Exit status: 0 done, 2 bad input (no such file, no iteration in the log, bad option).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import io
import math
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable, TextIO

__all__ = ["Row", "TrainingLog", "LogError", "parse_log", "parse_lines", "write_csv",
           "plot_log", "main"]

METRICS = ("pixel_acc", "mean_acc", "mean_iu", "fwavacc")
METRIC_TITLES = {"pixel_acc": "pixel accuracy", "mean_acc": "mean accuracy",
                 "mean_iu": "mean IU", "fwavacc": "f.w. IU"}

_NUM = r"([-+]?(?:nan|inf|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))"
# glog's prefix: severity, [year]month day, time. Caffe's glog has no year; newer glog has.
_PREFIX = re.compile(r"^([IWEF])(\d{8}|\d{4}) (\d\d):(\d\d):(\d\d(?:\.\d+)?)\s")
_SOLVING = re.compile(r"\] Solving ")
_TRAIN_ITER = re.compile(r"Iteration (\d+)(?: \([^)]*\))?, loss = " + _NUM)
_LR = re.compile(r"Iteration (\d+), lr = " + _NUM)
_TEST_START = re.compile(r"Iteration (\d+), Testing net \(#(\d+)\)")
_OUTPUT = re.compile(r"(Train|Test) net output #(\d+): (\S+) = " + _NUM + r"( \(\* .* loss\))?")
_TEST_LOSS = re.compile(r"\] Test loss: " + _NUM)
_METRICS = re.compile(r"Test net metrics #(\d+): pixel_acc = " + _NUM + ", mean_acc = " + _NUM +
                      ", mean_iu = " + _NUM + ", fwavacc = " + _NUM + r"(?: \((\S+)\))?")


class LogError(ValueError):
    """The log cannot be used (nothing in it to parse)."""


@dataclass
class Row:
    """One CSV row: a display of the training net, or one test of a test net."""

    phase: str  # "train", "test" (test net #0) or "test#k"
    iteration: int
    seconds: float | None = None
    lr: float | None = None
    values: dict[str, float] = field(default_factory=dict)
    line: int = 0  # where in the log the row starts (rows of both phases sort by it)


@dataclass
class TrainingLog:
    train: list[Row] = field(default_factory=list)
    test: list[Row] = field(default_factory=list)
    loss_outputs: set[str] = field(default_factory=set)  # outputs logged with "(* w = v loss)"

    def columns(self, rows: Iterable[Row]) -> list[str]:
        """The value columns of the rows, in the order they were first seen (the net outputs
        before the solver's smoothed loss)."""
        seen: dict[str, None] = {}
        for row in rows:
            for name in row.values:
                seen.setdefault(name, None)
        return sorted(seen, key=lambda name: name == "smoothed_loss")

    def series(self, rows: list[Row], column: str) -> tuple[list[int], list[float]]:
        pairs = [(r.iteration, r.values[column]) for r in rows if column in r.values]
        return [p[0] for p in pairs], [p[1] for p in pairs]


def _timestamp(match: re.Match, year: int) -> datetime | None:
    """The prefix's time; None when it is no valid date (a damaged line)."""
    date = match[2]
    if len(date) == 8:
        year, month, day = int(date[:4]), int(date[4:6]), int(date[6:])
    else:
        month, day = int(date[:2]), int(date[2:])
    microseconds = round(float(match[5]) * 1e6)
    try:
        return datetime(year, month, day, int(match[3]), int(match[4])) + timedelta(
            microseconds=microseconds)
    except (ValueError, OverflowError):
        return None


def parse_lines(lines: Iterable[str], year: int | None = None) -> TrainingLog:
    """Parses glog lines; ``year`` is used for prefixes without one (Caffe's glog)."""
    year = year if year is not None else datetime.now().year
    log = TrainingLog()
    start: datetime | None = None
    last_time: datetime | None = None
    year_shift = 0
    train_row: Row | None = None
    test_row: Row | None = None
    lr_by_iter: dict[int, float] = {}

    for number, line in enumerate(lines, start=1):
        prefix = _PREFIX.match(line)
        now: datetime | None = None
        if prefix:
            now = _timestamp(prefix, year + year_shift)
            if now is not None and last_time is not None and \
                    now < last_time - timedelta(days=1) and len(prefix[2]) == 4:
                year_shift += 1  # a yearless log that runs over New Year
                now = _timestamp(prefix, year + year_shift)
        if now is not None:
            last_time = now
            if start is None or _SOLVING.search(line) and not log.train and not log.test:
                start = now
        seconds = (now - start).total_seconds() if now is not None and start else None

        if m := _TEST_START.search(line):
            net = int(m[2])
            test_row = Row("test" if net == 0 else f"test#{net}", int(m[1]), seconds,
                           line=number)
            log.test.append(test_row)
            continue
        if m := _LR.search(line):
            it, lr = int(m[1]), float(m[2])
            lr_by_iter[it] = lr
            if train_row is not None and train_row.iteration == it:
                train_row.lr = lr
            continue
        if m := _TRAIN_ITER.search(line):
            train_row = Row("train", int(m[1]), seconds, line=number)
            train_row.values["smoothed_loss"] = float(m[2])
            log.train.append(train_row)
            test_row = None
            continue
        if m := _OUTPUT.search(line):
            row = train_row if m[1] == "Train" else test_row
            if row is None:
                continue
            name = m[3]
            if name in row.values and name != "smoothed_loss":
                name = f"{name}#{m[2]}"  # a blob of several values: one column each
            row.values[name] = float(m[4])
            if m[5]:
                log.loss_outputs.add(m[3])
            continue
        if (m := _TEST_LOSS.search(line)) and test_row is not None:
            test_row.values["test_loss"] = float(m[1])
            continue
        if (m := _METRICS.search(line)) and test_row is not None:
            head = int(m[1])
            suffix = "" if head == 0 else f":{m[6] or head}"
            for k, metric in enumerate(METRICS):
                test_row.values[metric + suffix] = float(m[2 + k])

    # The rate in effect at a test: the one logged for that iteration, else the last before,
    # else (a test at iteration 0 comes before the first rate) the first one logged.
    known = sorted(lr_by_iter)
    for row in log.train + log.test:
        if row.lr is not None or not known:
            continue
        at = bisect.bisect_right(known, row.iteration)
        row.lr = lr_by_iter[known[at - 1]] if at else lr_by_iter[known[0]]
    return log


def parse_log(path: Path) -> TrainingLog:
    """Parses a log file; raises LogError when it holds no training iteration or test."""
    try:
        text = path.read_text(errors="replace")
        year = datetime.fromtimestamp(path.stat().st_mtime).year
    except OSError as e:
        raise LogError(f"{path}: cannot read: {e.strerror or e}") from e
    log = parse_lines(text.splitlines(), year)
    if not log.train and not log.test:
        raise LogError(f"{path}: no iterations found (no 'Iteration N ..., loss = ...' or "
                       "'Iteration N, Testing net' lines from fcntool train or Caffe)")
    return log


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    return repr(float(value)) if not math.isnan(value) else "nan"


def write_csv(log: TrainingLog, out: TextIO, phase: str = "all") -> None:
    """The CSV of ``parse``: ``phase`` is all, train or test (see the module text)."""
    rows = {"all": log.train + log.test, "train": log.train, "test": log.test}[phase]
    if phase == "all":
        rows = sorted(rows, key=lambda r: r.line)
        columns = list(dict.fromkeys(log.columns(log.train) + log.columns(log.test)))
    else:
        columns = log.columns(rows)
    writer = csv.writer(out, lineterminator="\n")
    head = ["NumIters", "Seconds", "LearningRate"] + columns
    writer.writerow((["Phase"] if phase == "all" else []) + head)
    for row in rows:
        cells = [str(row.iteration),
                 "" if row.seconds is None else f"{row.seconds:.6f}", _cell(row.lr)]
        cells += [_cell(row.values.get(c)) for c in columns]
        writer.writerow(([row.phase] if phase == "all" else []) + cells)


def plot_log(log: TrainingLog, out: Path, size: tuple[int, int] = (1200, 900),
             title: str = "") -> None:
    """Loss, learning rate and the four metrics against the iterations, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dpi = 100
    fig, (ax_loss, ax_lr, ax_metrics) = plt.subplots(
        3, 1, sharex=True, figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    try:
        train_losses = [c for c in log.columns(log.train) if c in log.loss_outputs]
        for column in train_losses or ["smoothed_loss"]:
            x, y = log.series(log.train, column)
            if x:
                ax_loss.plot(x, y, label=f"train {column}", linewidth=1.2)
        if train_losses:
            x, y = log.series(log.train, "smoothed_loss")
            if x and any(abs(a - b) > 1e-12 for a, b in zip(y, log.series(
                    log.train, train_losses[0])[1])):
                ax_loss.plot(x, y, label="train (displayed, smoothed)", linestyle="--",
                             linewidth=1)
        test_losses = [c for c in log.columns(log.test) if c.split("#")[0] in log.loss_outputs
                       or c == "test_loss"]
        for column in test_losses:
            for phase in sorted({r.phase for r in log.test}):
                x, y = log.series([r for r in log.test if r.phase == phase], column)
                if x:
                    ax_loss.plot(x, y, "o-", label=f"{phase} {column}", markersize=4)
        ax_loss.set_ylabel("loss")
        ax_loss.legend(loc="upper right", fontsize="small")
        ax_loss.grid(True, alpha=0.3)

        rates = sorted((r.iteration, r.lr) for r in log.train + log.test if r.lr is not None)
        if rates:
            ax_lr.plot([r[0] for r in rates], [r[1] for r in rates], drawstyle="steps-post",
                       color="tab:purple")
            positive = [r[1] for r in rates if r[1] > 0]
            if positive and len(positive) == len(rates) and max(positive) / min(positive) > 100:
                ax_lr.set_yscale("log")
        else:
            ax_lr.text(0.5, 0.5, "no learning rate in this log", ha="center", va="center",
                       transform=ax_lr.transAxes)
        ax_lr.set_ylabel("learning rate")
        ax_lr.grid(True, alpha=0.3)

        plotted = False
        for column in log.columns(log.test):
            metric = column.split(":")[0]
            if metric not in METRICS:
                continue
            for phase in sorted({r.phase for r in log.test}):
                x, y = log.series([r for r in log.test if r.phase == phase], column)
                if x:
                    head = column[len(metric):]
                    label = METRIC_TITLES[metric] + head + ("" if phase == "test" else f" {phase}")
                    ax_metrics.plot(x, y, "o-", label=label, markersize=4)
                    plotted = True
        if plotted:
            ax_metrics.set_ylim(0, 1.02)
            ax_metrics.legend(loc="lower right", fontsize="small")
        else:
            ax_metrics.text(0.5, 0.5, "no test metrics in this log", ha="center", va="center",
                            transform=ax_metrics.transAxes)
        ax_metrics.set_ylabel("test metrics")
        ax_metrics.set_xlabel("iterations")
        ax_metrics.grid(True, alpha=0.3)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(out, dpi=dpi, format="png")
    finally:
        plt.close(fig)


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)x(\d+)", text)
    if not m or not (100 <= int(m[1]) <= 10000 and 100 <= int(m[2]) <= 10000):
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT in pixels, "
                                         "each 100..10000 (e.g. 1200x900)")
    return int(m[1]), int(m[2])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m fcn.log",
        description="Parse or plot the training log of fcntool train / fcn.SGDSolver / Caffe.")
    sub = parser.add_subparsers(dest="command", required=True)
    parse = sub.add_parser("parse", help="write the iterations, rates, losses and metrics as CSV")
    parse.add_argument("log", type=Path, help="the training log (glog lines)")
    parse.add_argument("out", type=Path, nargs="?", help="the CSV file (default: stdout)")
    parse.add_argument("--phase", choices=("all", "train", "test"), default="all",
                       help="all rows with a Phase column (default), or one phase as Caffe's "
                            "parse_log.py writes it")
    plot = sub.add_parser("plot", help="plot loss, learning rate and the metrics into a PNG")
    plot.add_argument("log", type=Path, help="the training log (glog lines)")
    plot.add_argument("out", type=Path, help="the PNG file to write")
    plot.add_argument("--size", type=_size, default=(1200, 900),
                      help="the image size in pixels, WIDTHxHEIGHT (default 1200x900)")
    plot.add_argument("--title", default=None, help="the title (default: the log's file name)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        log = parse_log(args.log)
        if args.out is not None and not args.out.parent.is_dir():
            raise LogError(f"{args.out}: the folder {args.out.parent} does not exist")
        if args.command == "parse":
            buffer = io.StringIO()
            write_csv(log, buffer, args.phase)
            if args.out is None:
                sys.stdout.write(buffer.getvalue())
            else:
                args.out.write_text(buffer.getvalue())
        else:
            plot_log(log, args.out, args.size,
                     args.title if args.title is not None else args.log.name)
            print(f"Wrote {args.out} ({len(log.train)} train rows, {len(log.test)} test rows)")
    except LogError as e:
        print(f"fcn.log: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"fcn.log: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
