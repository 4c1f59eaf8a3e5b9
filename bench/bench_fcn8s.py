#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Times VGG-16 FCN-8s (1x3x500x500) forward and forward+backward against PyTorch on the same
threads, in one run, alternating the contenders round by round: fcn with its default engines,
fcn with --precision=bf16, PyTorch fp32 and PyTorch with bf16 autocast. It prints each round,
the medians and ranges, the per-round paired ratios, each one's peak resident memory, and each
one's share of the CPU's FMA peak, measured by the project's own compiled loop
(`fcntool time --peak`) at the start and at the end of the run; with the CPU's model and SIMD
flags and the engine each convolution ran.

Each contender runs in its own child process, whose peak RSS is read from os.wait4.
With --baseline OTHER_FCNTOOL it compares two fcn builds instead (before/after a change):
they run alternately, and the paired ratios and their median are printed. With
--engines=DEFAULT,DNNL it times one build's engine choices (FCN_CONV_ENGINE) alternately with
PyTorch fp32, round by round, and prints medians, ranges and paired ratios.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import torch

REPO = Path(__file__).resolve().parent.parent
N_CLASSES = 21
SIZE = 500


@dataclass
class Figures:
    """Average milliseconds per pass and the child's peak resident memory."""

    forward_ms: float
    forward_backward_ms: float
    peak_rss_mib: float


def run_child(cmd: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    """Runs cmd; returns its exit code, its combined output and its own peak RSS in MiB."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    output = proc.stdout.read().decode("utf-8", errors="replace")
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, output, usage.ru_maxrss / 1024.0


def parse_caffe_time(output: str) -> tuple[float, float]:
    """The `Average Forward pass` and `Average Forward-Backward` ms of a caffe-time log."""
    values = []
    for label in ("Average Forward pass", "Average Forward-Backward"):
        m = re.search(re.escape(label) + r":\s*([0-9.eE+-]+) ms\.", output)
        if m is None:
            raise ValueError(f"no '{label}: X ms.' line in the fcntool output")
        values.append(float(m.group(1)))
    return values[0], values[1]


class ChildFailed(Exception):
    """A child process exited with an error; the message holds the command and its output."""


def bench_fcn(fcntool: Path, model: Path, iterations: int, threads: int,
              engine: str = "", extra: Optional[list[str]] = None,
              fatal: bool = True) -> tuple[Figures, dict[str, int]]:
    """fcntool time's figures and how many convolutions ran on each engine. A failing run
    ends the script, or raises ChildFailed when not fatal."""
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    env["OMP_NUM_THREADS"] = str(threads)
    if engine:
        env["FCN_CONV_ENGINE"] = engine
    cmd = [str(fcntool), "time", f"--model={model}", f"--iterations={iterations}",
           f"--threads={threads}"] + (extra or [])
    code, output, rss = run_child(cmd, env)
    if code != 0:
        message = f"{' '.join(cmd)} failed with exit code {code}:\n{output[-4000:]}"
        if fatal:
            sys.exit(f"bench: {message}")
        raise ChildFailed(message)
    forward, both = parse_caffe_time(output)
    engines: dict[str, int] = {}
    for m in re.finditer(r"\] \S+ engine: (.*)$", output, re.MULTILINE):
        engines[m.group(1)] = engines.get(m.group(1), 0) + 1
    return Figures(forward, both, rss), engines


def measure_peak(fcntool: Path, threads: int) -> dict[str, tuple[float, str]]:
    """The CPU's FMA peak on `threads` threads from the project's compiled loop
    (`fcntool time --peak` without a net): {"fp32": (GFLOP/s, kernel), "bf16": ...}, the
    kinds this CPU has."""
    env = dict(os.environ)
    cmd = [str(fcntool), "time", "--peak", f"--threads={threads}"]
    code, output, _ = run_child(cmd, env)
    if code != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed with exit code {code}:\n{output[-4000:]}")
    peaks = {}
    for m in re.finditer(r"FMA peak, (\w+): ([0-9.]+) GFLOP/s on \d+ threads \(([^,]+),",
                         output):
        peaks[m.group(1)] = (float(m.group(2)), m.group(3))
    if "fp32" not in peaks:
        print(f"bench: no fp32 FMA peak in the output of {' '.join(cmd)}:\n{output[-2000:]}")
    return peaks


def fcntool_has_flag(fcntool: Path, command: str, flag: str) -> bool:
    """Whether `fcntool help COMMAND` lists --FLAG."""
    code, output, _ = run_child([str(fcntool), "help", command], dict(os.environ))
    return code == 0 and re.search(r"--" + re.escape(flag) + r"\b", output) is not None


def fcn8s_conv_gflop(size: int = SIZE) -> float:
    """Multiply-adds x 2 of FCN-8s's convolutions and deconvolutions in one forward pass at
    size x size (VGG-16 with conv1_1 pad 100 and ceil-mode pooling, as the prototxt)."""
    flop = 0.0

    def conv(cin: int, cout: int, k: int, h: int, pad: int = 0, stride: int = 1) -> int:
        nonlocal flop
        out = (h + 2 * pad - k) // stride + 1
        flop += 2.0 * cin * cout * k * k * out * out
        return out

    def deconv(cin: int, cout: int, k: int, h: int, stride: int, groups: int = 1) -> int:
        nonlocal flop
        flop += 2.0 * cin * (cout // groups) * k * k * h * h
        return (h - 1) * stride + k

    def pool(h: int) -> int:
        return -(-(h - 2) // 2) + 1

    h = conv(3, 64, 3, size, pad=100)
    h = conv(64, 64, 3, h, pad=1)
    h = pool(h)
    sizes = {}
    for stage, (cin, cout, n) in enumerate([(64, 128, 2), (128, 256, 3), (256, 512, 3),
                                            (512, 512, 3)], start=2):
        for i in range(n):
            h = conv(cin if i == 0 else cout, cout, 3, h, pad=1)
        h = pool(h)
        sizes[stage] = h
    h = conv(512, 4096, 7, h)
    h = conv(4096, 4096, 1, h)
    h = conv(4096, N_CLASSES, 1, h)
    h = deconv(N_CLASSES, N_CLASSES, 4, h, 2)
    conv(512, N_CLASSES, 1, sizes[4])
    h = deconv(N_CLASSES, N_CLASSES, 4, h, 2)
    conv(256, N_CLASSES, 1, sizes[3])
    deconv(N_CLASSES, N_CLASSES, 16, h, 8)
    return flop / 1e9


def cpu_description() -> str:
    """The CPU model and its SIMD flags, from /proc/cpuinfo."""
    model, flags = "unknown CPU", []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown CPU":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = [f for f in value.split() if f.startswith(("avx", "fma", "amx"))]
    except OSError:
        pass
    return f"{model}; {os.cpu_count()} logical CPUs; {' '.join(flags) or 'no AVX flags'}"


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def bench_torch(iterations: int, threads: int, bf16: bool = False) -> Figures:
    """PyTorch's figures in a child process; with bf16, under CPU bf16 autocast."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--torch-child",
           f"--iterations={iterations}", f"--threads={threads}"]
    if bf16:
        cmd.append("--torch-bf16")
    code, output, rss = run_child(cmd, env)
    if code != 0:
        sys.exit(f"bench: the PyTorch child failed with exit code {code}:\n{output[-4000:]}")
    result = json.loads(output.strip().splitlines()[-1])
    return Figures(result["forward_ms"], result["forward_backward_ms"], rss)


def build_torch_fcn8s() -> torch.nn.Module:
    """VGG-16 FCN-8s as in models/voc-fcn8s/deploy.prototxt, with the same shapes (torch is
    imported here, in the child, so the parent runs without it)."""
    import torch
    from torch import nn

    def conv_relu(cin: int, cout: int, kernel: int = 3, pad: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, kernel, padding=pad), nn.ReLU(inplace=True)]

    def stage(cin: int, cout: int, n: int, first_pad: int = 1) -> nn.Sequential:
        layers = conv_relu(cin, cout, pad=first_pad)
        for _ in range(n - 1):
            layers += conv_relu(cout, cout)
        layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))
        return nn.Sequential(*layers)

    def crop(x: torch.Tensor, like: torch.Tensor, offset: int) -> torch.Tensor:
        h, w = like.shape[2], like.shape[3]
        return x[:, :, offset:offset + h, offset:offset + w]

    class FCN8s(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stage1 = stage(3, 64, 2, first_pad=100)
            self.stage2 = stage(64, 128, 2)
            self.stage3 = stage(128, 256, 3)
            self.stage4 = stage(256, 512, 3)
            self.stage5 = stage(512, 512, 3)
            self.head = nn.Sequential(
                *conv_relu(512, 4096, kernel=7, pad=0), nn.Dropout(0.5),
                *conv_relu(4096, 4096, kernel=1, pad=0), nn.Dropout(0.5),
                nn.Conv2d(4096, N_CLASSES, 1))
            self.upscore2 = nn.ConvTranspose2d(N_CLASSES, N_CLASSES, 4, stride=2, bias=False)
            self.score_pool4 = nn.Conv2d(512, N_CLASSES, 1)
            self.upscore_pool4 = nn.ConvTranspose2d(N_CLASSES, N_CLASSES, 4, stride=2, bias=False)
            self.score_pool3 = nn.Conv2d(256, N_CLASSES, 1)
            self.upscore8 = nn.ConvTranspose2d(N_CLASSES, N_CLASSES, 16, stride=8, bias=False)

        def forward(self, data: torch.Tensor) -> torch.Tensor:
            pool3 = self.stage3(self.stage2(self.stage1(data)))
            pool4 = self.stage4(pool3)
            upscore2 = self.upscore2(self.head(self.stage5(pool4)))
            fuse_pool4 = upscore2 + crop(self.score_pool4(pool4), upscore2, 5)
            upscore_pool4 = self.upscore_pool4(fuse_pool4)
            fuse_pool3 = upscore_pool4 + crop(self.score_pool3(pool3), upscore_pool4, 9)
            return crop(self.upscore8(fuse_pool3), data, 31)

    return FCN8s()


def torch_child(iterations: int, threads: int, bf16: bool = False) -> None:
    """Runs in the child: times the PyTorch net and prints a JSON line. With bf16 every pass
    runs under torch.autocast("cpu", dtype=torch.bfloat16): the convolutions compute in bf16,
    the parameters and their gradients stay fp32."""
    import contextlib

    import torch

    torch.set_num_threads(threads)
    net = build_torch_fcn8s()
    # fcntool time runs the TRAIN phase (dropout active) with zero weights and zero input.
    net.train()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    data = torch.zeros(1, 3, SIZE, SIZE)

    def precision() -> contextlib.AbstractContextManager:
        if bf16:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    with torch.no_grad(), precision():
        out = net(data)
        assert tuple(out.shape) == (1, N_CLASSES, SIZE, SIZE), tuple(out.shape)
        if bf16:
            # Autocast runs Conv2d in bf16 (1.13 keeps ConvTranspose2d, the upscores, in fp32).
            assert net.stage1(data).dtype == torch.bfloat16
        start = time.perf_counter()
        for _ in range(iterations):
            net(data)
        forward_ms = (time.perf_counter() - start) * 1000.0 / iterations

    for p in net.parameters():
        p.requires_grad_(True)

    def step() -> None:
        net.zero_grad(set_to_none=False)
        with precision():
            loss = net(data).float().sum()
        loss.backward()

    step()
    start = time.perf_counter()
    for _ in range(iterations):
        step()
    both_ms = (time.perf_counter() - start) * 1000.0 / iterations
    print(json.dumps({"forward_ms": forward_ms, "forward_backward_ms": both_ms}))


def resolve_fcntool(path: Path) -> Path:
    if path.exists() or path.is_absolute():
        return path
    return REPO / path


def compare_builds(baseline: Path, fcntool: Path, model: Path, iterations: int, threads: int,
                   rounds: int) -> None:
    """Times two fcntool builds on the same net, alternating them `rounds` times (baseline
    first in odd rounds, second in even ones), and prints each round's forward+backward ms,
    the paired ratios new/baseline and their median: load that drifts during the run hits both
    builds alike, and the median discards the rounds a burst of load spoiled."""
    print(f"{'round':>5} {'baseline fwd':>13} {'new fwd':>9} {'baseline f+b':>13} "
          f"{'new f+b':>9} {'f+b new/baseline':>17}", flush=True)
    forward_ratios, both_ratios = [], []
    for r in range(rounds):
        order = [(baseline, "baseline"), (fcntool, "new")]
        if r % 2:
            order.reverse()
        figures: dict[str, Figures] = {}
        for binary, label in order:
            figures[label], _ = bench_fcn(binary, model, iterations, threads)
        old, new = figures["baseline"], figures["new"]
        forward_ratios.append(new.forward_ms / old.forward_ms)
        both_ratios.append(new.forward_backward_ms / old.forward_backward_ms)
        print(f"{r + 1:5d} {old.forward_ms:13.0f} {new.forward_ms:9.0f} "
              f"{old.forward_backward_ms:13.0f} {new.forward_backward_ms:9.0f} "
              f"{both_ratios[-1]:17.3f}", flush=True)
    print(f"median new/baseline over {rounds} rounds: forward "
          f"{statistics.median(forward_ratios):.3f}, forward+backward "
          f"{statistics.median(both_ratios):.3f} (range {min(both_ratios):.3f}-"
          f"{max(both_ratios):.3f})")


def spread(values: list[float]) -> str:
    """Median and range of a list: 'median (min-max)'."""
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def compare_engines(fcntool: Path, model: Path, iterations: int, threads: int, rounds: int,
                    engines: list[str], with_torch: bool) -> None:
    """Times one fcntool build with each FCN_CONV_ENGINE in `engines` (and PyTorch fp32 when
    with_torch), alternating them round by round (the order rotates each round), and prints
    each round's figures, the medians and ranges, and the median of the per-round paired
    ratios of every engine to the first one and to PyTorch."""
    contenders = [(f"fcn {e}", e) for e in engines] + ([("pytorch fp32", "")] if with_torch else [])
    results: dict[str, list[Figures]] = {label: [] for label, _ in contenders}
    algos: dict[str, dict[str, int]] = {}
    for r in range(rounds):
        order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
        for label, engine in order:
            if engine:
                figures, used = bench_fcn(fcntool, model, iterations, threads, engine=engine)
                algos[label] = used
            else:
                figures = bench_torch(iterations, threads)
            results[label].append(figures)
        print(f"round {r + 1}: " + ", ".join(
            f"{label} {results[label][-1].forward_ms:.0f} / "
            f"{results[label][-1].forward_backward_ms:.0f} ms" for label, _ in contenders),
              flush=True)
    for label, used in algos.items():
        print(f"{label}: " + ", ".join(f"{n} on {name}" for name, n in sorted(used.items())))
    print(f"{'':22} {'forward ms, median (range)':>28} {'forward+backward ms':>28} "
          f"{'peak RSS MiB':>13}")
    for label, _ in contenders:
        runs = results[label]
        print(f"{label:22} {spread([f.forward_ms for f in runs]):>28} "
              f"{spread([f.forward_backward_ms for f in runs]):>28} "
              f"{statistics.median([f.peak_rss_mib for f in runs]):13.0f}")
    def paired(a: str, b: str) -> None:
        fwd = [x.forward_ms / y.forward_ms for x, y in zip(results[a], results[b])]
        both = [x.forward_backward_ms / y.forward_backward_ms
                for x, y in zip(results[a], results[b])]
        print(f"{a} / {b}: forward {statistics.median(fwd):.3f} ({min(fwd):.3f}-"
              f"{max(fwd):.3f}), forward+backward {statistics.median(both):.3f} "
              f"({min(both):.3f}-{max(both):.3f}); medians (ranges) of {rounds} paired rounds")

    fcn_labels = [label for label, engine in contenders if engine]
    for label in fcn_labels[1:]:
        paired(fcn_labels[0], label)
    if with_torch:
        for label in fcn_labels:
            paired(label, "pytorch fp32")


@dataclass
class Contender:
    label: str
    framework: str  # "fcn" or "pytorch"
    bf16: bool      # computes its convolutions in bf16


def median_peaks(*runs: dict[str, tuple[float, str]]) -> dict[str, float]:
    """Each kind's mean GFLOP/s over the peak measurements that have it."""
    kinds = [kind for kind in ("fp32", "bf16") if any(kind in run for run in runs)]
    return {kind: statistics.mean(run[kind][0] for run in runs if kind in run) for kind in kinds}


def compare_precisions(fcntool: Path, model: Path, iterations: int, threads: int, rounds: int,
                       with_torch: bool, given_peak: float) -> None:
    """The issue-20 comparison: fcn default, fcn --precision=bf16, PyTorch fp32 and PyTorch
    bf16 autocast, alternating round by round (the order rotates each round), between two
    measurements of the FMA peak; prints each round, medians and ranges, the medians of the
    per-round paired ratios, and each contender's share of the peak."""
    peaks_start = measure_peak(fcntool, threads)
    for kind, (gflops, kernel) in peaks_start.items():
        print(f"FMA peak at the start, {kind}: {gflops:.1f} GFLOP/s ({kernel})", flush=True)
    contenders = [Contender("fcn", "fcn", False)]
    if fcntool_has_flag(fcntool, "time", "precision"):
        contenders.append(Contender("fcn bf16", "fcn", True))
    else:
        print("fcn bf16: skipped: this fcntool has no --precision flag (bf16 compute comes "
              "with issue 20's precision work)", flush=True)
    if with_torch:
        contenders += [Contender("pytorch fp32", "pytorch", False),
                       Contender("pytorch bf16", "pytorch", True)]
    results: dict[str, list[Figures]] = {c.label: [] for c in contenders}
    algos: dict[str, dict[str, int]] = {}
    for r in range(rounds):
        order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
        for c in order:
            if c.framework == "pytorch":
                results[c.label].append(bench_torch(iterations, threads, bf16=c.bf16))
                continue
            try:
                figures, used = bench_fcn(fcntool, model, iterations, threads,
                                          extra=["--precision=bf16"] if c.bf16 else [],
                                          fatal=not c.bf16)
            except ChildFailed as failure:
                print(f"{c.label}: skipped from now on: {failure}", flush=True)
                contenders.remove(c)
                del results[c.label]
                continue
            algos[c.label] = used
            results[c.label].append(figures)
        print(f"round {r + 1}: " + ", ".join(
            f"{c.label} {results[c.label][-1].forward_ms:.0f} / "
            f"{results[c.label][-1].forward_backward_ms:.0f} ms" for c in contenders), flush=True)
    peaks_end = measure_peak(fcntool, threads)
    for kind, (gflops, kernel) in peaks_end.items():
        print(f"FMA peak at the end, {kind}: {gflops:.1f} GFLOP/s ({kernel})", flush=True)
    for label, used in algos.items():
        print(f"{label}: " + ", ".join(f"{n} on {name}" for name, n in sorted(used.items())))

    print(f"{'':14} {'forward ms, median (range)':>28} {'forward+backward ms':>28} "
          f"{'peak RSS MiB':>13}")
    for c in contenders:
        runs = results[c.label]
        print(f"{c.label:14} {spread([f.forward_ms for f in runs]):>28} "
              f"{spread([f.forward_backward_ms for f in runs]):>28} "
              f"{statistics.median([f.peak_rss_mib for f in runs]):13.0f}")

    labels = [c.label for c in contenders]
    print(f"paired ratios, medians (ranges) of {rounds} rounds:")
    for a, b in (("fcn", "pytorch fp32"), ("fcn", "pytorch bf16"), ("fcn bf16", "pytorch bf16"),
                 ("fcn bf16", "pytorch fp32"), ("fcn bf16", "fcn"),
                 ("pytorch bf16", "pytorch fp32")):
        if a not in labels or b not in labels:
            continue
        pairs = list(zip(results[a], results[b]))
        cells = []
        for name, field in (("forward", "forward_ms"), ("forward+backward", "forward_backward_ms"),
                            ("peak RSS", "peak_rss_mib")):
            values = [getattr(x, field) / getattr(y, field) for x, y in pairs]
            cells.append(f"{name} {statistics.median(values):.3f} "
                         f"({min(values):.3f}-{max(values):.3f})")
        print(f"  {a} / {b}: " + ", ".join(cells))

    # Convolution work over each pass's whole time (pooling, ReLU, loss and copies included):
    # forward, and forward + backward data + backward weights (3x), against the peaks.
    peaks = median_peaks(peaks_start, peaks_end)
    if given_peak > 0:
        peaks["given"] = given_peak
    gflop = fcn8s_conv_gflop()
    print(f"{gflop:.0f} GFLOP of convolutions per forward pass, 3x that per training step; "
          "FMA peak (mean of start and end): " +
          ", ".join(f"{kind} {value:.1f} GFLOP/s" for kind, value in peaks.items()))
    for c in contenders:
        runs = results[c.label]
        forward = gflop / (statistics.median([f.forward_ms for f in runs]) / 1e3)
        training = 3 * gflop / (statistics.median([f.forward_backward_ms for f in runs]) / 1e3)
        shares = "; ".join(f"{100 * forward / value:.0f}% / {100 * training / value:.0f}% of "
                           f"the {kind} peak" for kind, value in peaks.items())
        print(f"  {c.label}: {forward:.0f} GFLOP/s forward, {training:.0f} GFLOP/s "
              f"forward+backward ({shares})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=3,
                        help="timed passes after one warm-up pass (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads for both (default 2)")
    parser.add_argument("--fcntool", type=Path, default=Path("build/src/fcntool"),
                        help="the fcntool binary (default build/src/fcntool, relative to the "
                             "current directory or else the repository)")
    parser.add_argument("--model", type=Path,
                        default=REPO / "models" / "voc-fcn8s" / "deploy.prototxt",
                        help="the fcn net (default models/voc-fcn8s/deploy.prototxt)")
    parser.add_argument("--peak-gflops", type=float, default=0.0,
                        help="an FMA peak in GFLOP/s to print the shares against as well as "
                             "the peaks the run measures itself (fcntool time --peak); "
                             "not used when 0")
    parser.add_argument("--baseline", type=Path,
                        help="a second fcntool build (e.g. of an earlier commit) to compare "
                             "with --fcntool instead of the engines and PyTorch: the two run "
                             "alternately for --rounds rounds and the paired ratios are printed")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating rounds (default 5)")
    parser.add_argument("--engines",
                        help="comma-separated FCN_CONV_ENGINE values (e.g. DEFAULT,DNNL: the "
                             "default against forced direct) to time alternately for --rounds "
                             "rounds, with PyTorch fp32 in each round unless --no-torch")
    parser.add_argument("--no-torch", action="store_true",
                        help="leave PyTorch out")
    parser.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--torch-bf16", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.iterations < 1 or args.threads < 1:
        parser.error("--iterations and --threads must be positive")
    if args.torch_child:
        torch_child(args.iterations, args.threads, args.torch_bf16)
        return

    fcntool = resolve_fcntool(args.fcntool)
    if not fcntool.exists():
        sys.exit(f"bench: {fcntool} not found; build fcn first or pass --fcntool")
    print(f"FCN-8s 1x3x{SIZE}x{SIZE}, {args.threads} threads, 1 warm-up + "
          f"{args.iterations} timed passes each", flush=True)
    print(f"CPU: {cpu_description()}", flush=True)
    if args.baseline is not None:
        baseline = resolve_fcntool(args.baseline)
        if not baseline.exists():
            sys.exit(f"bench: --baseline {baseline} not found")
        if args.rounds < 1:
            parser.error("--rounds must be positive")
        print(f"baseline {baseline} against {fcntool}, {args.model}", flush=True)
        compare_builds(baseline, fcntool, args.model, args.iterations, args.threads, args.rounds)
        return
    if args.engines:
        if args.rounds < 1:
            parser.error("--rounds must be positive")
        engines = [e.strip() for e in args.engines.split(",") if e.strip()]
        if not engines:
            parser.error("--engines needs at least one engine")
        with_torch = not args.no_torch and torch_available()
        print(f"engines {', '.join(engines)}{' and PyTorch fp32' if with_torch else ''}, "
              f"{args.rounds} alternating rounds, {args.model}", flush=True)
        compare_engines(fcntool, args.model, args.iterations, args.threads, args.rounds,
                        engines, with_torch)
        return
    if args.rounds < 1:
        parser.error("--rounds must be positive")
    with_torch = not args.no_torch and torch_available()
    if not with_torch and not args.no_torch:
        print("PyTorch is not installed (Debian: apt-get install python3-torch): "
              "only fcn's figures are shown")
    print(f"fcn, fcn bf16{', PyTorch fp32 and PyTorch bf16 autocast' if with_torch else ''}, "
          f"{args.rounds} alternating rounds, {args.model}", flush=True)
    compare_precisions(fcntool, args.model, args.iterations, args.threads, args.rounds,
                       with_torch, args.peak_gflops)


if __name__ == "__main__":
    main()
