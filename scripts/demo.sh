#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The README's main command: the bundled default job, from a fresh Debian machine.
#   1. installs the Debian packages and builds fcntool;
#   2. generates the project's own synthetic dataset (data_scripts/make_synthetic.py) and
#      converts it to LMDB (convert_camvid.py: the synthetic set uses the CamVid layout);
#   3. trains a narrow FCN-32s from msra-initialised weights (fcntool surgery gives the fixed
#      bilinear upsampling), then a narrow FCN-8s initialised from it, as in the paper;
#   4. scores both on the val split (pixel acc., mean acc., mean IU, f.w. IU) and writes
#      out/demo/synthetic-side-by-side.png (image / truth / FCN-32s / FCN-8s).
# FCN_DEMO_ITERS sets the iterations per net (default 800); everything goes under out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${FCN_BUILD_DIR:-build}
t0=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build "$build" -j "$(nproc)" --target fcntool
echo "=== build: $(( $(date +%s) - t0 )) s ==="
fcntool="$build/src/fcntool"
py=/usr/bin/python3
iters=${FCN_DEMO_ITERS:-800}
demo=out/demo
mkdir -p "$demo"
start=$(date +%s)

echo "=== synthetic dataset -> LMDB ==="
$py data_scripts/make_synthetic.py --out out/synthetic --count 300 --size 128 --seed 1 --force
for split in train val; do
  $py data_scripts/convert_camvid.py --root out/synthetic --split $split \
    --out out/db/synthetic-$split --force
done

# Solvers for this run: the generated ones with absolute net paths, $iters iterations and a
# test (with the four metrics) at the end.
for net in fcn32s fcn8s; do
  $py - "$net" "$iters" "$demo" <<'PY'
import sys
from pathlib import Path
net, iters, demo = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
root = Path.cwd()
out = []
for line in (root / f"solvers/synthetic-{net}-narrow.prototxt").read_text().splitlines():
    key = line.split(":")[0].strip()
    if key in ("train_net", "test_net"):
        rel = line.split('"')[1]
        line = f'{key}: "{(root / "solvers" / rel).resolve()}"'
    elif key == "max_iter":
        line = f"max_iter: {iters}"
    elif key == "test_interval":
        line = f"test_interval: {iters}"
    elif key == "test_iter":
        line = "test_iter: 60"
    elif key == "snapshot":
        line = "snapshot: 0"
    elif key == "snapshot_prefix":
        line = f'snapshot_prefix: "{demo / net}"'
    out.append(line)
(demo / f"solver-{net}.prototxt").write_text("\n".join(out) + "\n")
PY
done

echo "=== FCN-32s: msra trunk, zero score layer, bilinear upsampling; $iters iterations ==="
"$fcntool" surgery --model=models/synthetic-fcn32s-narrow/val.prototxt --output=$demo/fcn32s-init.caffemodel
"$fcntool" train --solver=$demo/solver-fcn32s.prototxt --weights=$demo/fcn32s-init.caffemodel 2>&1 |
  tee $demo/train-fcn32s.log | grep -E "Iteration [0-9]+ \(|Test net metrics|Optimization Done" || true
echo "=== FCN-8s from FCN-32s (new score layers zero); $iters iterations ==="
"$fcntool" surgery --model=models/synthetic-fcn8s-narrow/val.prototxt \
  --weights=$demo/fcn32s_iter_$iters.caffemodel --output=$demo/fcn8s-init.caffemodel
"$fcntool" train --solver=$demo/solver-fcn8s.prototxt --weights=$demo/fcn8s-init.caffemodel 2>&1 |
  tee $demo/train-fcn8s.log | grep -E "Iteration [0-9]+ \(|Test net metrics|Optimization Done" || true
train_end=$(date +%s)

# segment gets the Data layer's transform: its mean and scale.
read -r mean scale < <($py -c "
import re; t=open('models/synthetic-fcn8s-narrow/train.prototxt').read()
print(','.join(re.findall(r'mean_value: ([0-9.]+)', t)[:3]), re.search(r'scale: ([0-9.]+)', t)[1])")
for net in fcn32s fcn8s; do
  echo "=== $net on the val split ==="
  "$fcntool" score --model=models/synthetic-$net-narrow/val.prototxt \
    --weights=$demo/${net}_iter_$iters.caffemodel --output_dir=$demo/score-$net
  mapfile -t images < <(head -n 4 out/synthetic/val.txt | awk '{print "out/synthetic/" $1}')
  "$fcntool" segment --model=models/synthetic-$net-narrow/deploy.prototxt \
    --weights=$demo/${net}_iter_$iters.caffemodel --mean_value="$mean" --scale="$scale" \
    --output_dir=$demo/pred-$net "${images[@]}" >/dev/null
done
$py scripts/side_by_side.py --root out/synthetic --list out/synthetic/val.txt --rows 4 \
  --pred FCN-32s=$demo/pred-fcn32s --pred FCN-8s=$demo/pred-fcn8s --out $demo/synthetic-side-by-side.png
echo "=== done: training $((train_end - start)) s, total $(( $(date +%s) - start )) s; see $demo/ ==="
