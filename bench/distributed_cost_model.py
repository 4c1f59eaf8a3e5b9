#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The cost model of docs/distributed.md: bytes all-reduced per step for VGG-16 FCN-8s,
ring all-reduce time at 10/25/100 Gb/s and NVLink for 2-64 ranks, what the backward pass can
hide, and the scaling efficiency that follows. Prints Markdown tables.

Ring all-reduce of S bytes over N ranks: every rank sends and receives 2(N-1)/N x S bytes in
2(N-1) steps, so T = 2(N-1)/N x S / B + 2(N-1) x k x a for k buckets and a per-message
latency a. The backward pass can hide the reduction of every bucket that is ready before the
backward pass ends; in FCN-8s the big gradients (fc6, fc7: 90% of the bytes) are final before
conv5..conv1's backward, which is `--hideable` of the backward time (73% in the measured
per-layer table of bench/README.md), so exposed = max(T - hideable x T_bw, T_last) where
T_last is the reduction of the last (25 MiB) bucket, which nothing can hide.
"""
from __future__ import annotations

import argparse

LINKS = [  # name, bytes/s per direction per rank, per-message latency (s), largest N
    ("10 Gb/s Ethernet (TCP)", 10e9 / 8, 25e-6, 64),
    ("25 Gb/s Ethernet (TCP)", 25e9 / 8, 25e-6, 64),
    ("100 Gb/s (RDMA)", 100e9 / 8, 5e-6, 64),
    ("NVLink 4 (H100/H200 SXM, NCCL bus bandwidth ~370 GB/s)", 370e9, 3e-6, 8),
]
RANKS = [2, 4, 8, 16, 32, 64]


def ring_seconds(size: float, ranks: int, bandwidth: float, latency: float, buckets: int) -> float:
    return 2 * (ranks - 1) / ranks * size / bandwidth + 2 * (ranks - 1) * buckets * latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=float, default=134.27e6,
                        help="learnable parameters (VGG-16 FCN-8s, 21 classes: 134.27 M)")
    parser.add_argument("--bucket-mib", type=float, default=25)
    parser.add_argument("--hideable", type=float, default=0.73,
                        help="share of the backward pass after the big gradients are final")
    parser.add_argument("--gpu-step-ms", type=float, default=40,
                        help="one H200's forward+backward at 500x500, batch 1 (assumed)")
    parser.add_argument("--gpu-backward-share", type=float, default=0.67)
    parser.add_argument("--cpu-step-ms", type=float, default=3587,
                        help="this machine's forward+backward (bench/README.md)")
    parser.add_argument("--cpu-backward-ms", type=float, default=2455)
    args = parser.parse_args()
    size = args.params * 4
    bucket = args.bucket_mib * 2**20
    buckets = int(-(-size // bucket))
    print(f"Gradient bytes per step: {args.params / 1e6:.2f} M parameters x 4 B = "
          f"{size / 1e6:.0f} MB in {buckets} buckets of up to {args.bucket_mib:g} MiB\n")
    scenarios = [("GPU", args.gpu_step_ms / 1e3, args.gpu_step_ms / 1e3 * args.gpu_backward_share),
                 ("CPU", args.cpu_step_ms / 1e3, args.cpu_backward_ms / 1e3)]
    for name, bandwidth, latency, largest in LINKS:
        print(f"### {name}\n")
        print("| ranks | sent per rank | all-reduce | exposed, GPU step | efficiency, GPU "
              "| exposed, CPU step | efficiency, CPU |")
        print("|---|---|---|---|---|---|---|")
        for n in RANKS:
            if n > largest:
                continue
            total = ring_seconds(size, n, bandwidth, latency, buckets)
            last = ring_seconds(bucket, n, bandwidth, latency, 1)
            cells = [str(n), f"{2 * (n - 1) / n * size / 1e6:.0f} MB", f"{total * 1e3:.0f} ms"]
            for _, step, backward in scenarios:
                exposed = max(total - args.hideable * backward, last)
                cells += [f"{exposed * 1e3:.0f} ms", f"{step / (step + exposed):.0%}"]
            print("| " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main()
