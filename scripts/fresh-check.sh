#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The fresh-machine check: the README's two commands in a new Debian bookworm root.
#   1. debootstrap (minbase) installs bookworm into a folder, from the Debian mirror that apt
#      is configured with here; the root gets this machine's Debian apt sources;
#   2. a clean clone of HEAD is copied in (no ../shared beside it);
#   3. inside the chroot: scripts/install-deps.sh, then `bash scripts/demo.sh` (with a small
#      FCN_DEMO_ITERS), then `bash scripts/test.sh`, each timed;
#   4. prints pass/fail with the seconds of each step and, when everything passed, writes the
#      hash of the files that decide the set-up into scripts/fresh-check.hash (commit it):
#      .ci/run runs this check whenever that hash differs from the files' current one.
#
#   scripts/fresh-check.sh                # the whole check (root; about 30-40 minutes)
#   scripts/fresh-check.sh --hash         # print the current hash of the set-up files
#   scripts/fresh-check.sh --stale        # exit 0 when the recorded hash differs (check due)
# FCN_FRESH_DIR (default /var/tmp/fcn-fresh) holds the root; FCN_FRESH_KEEP=1 keeps it.
# FCN_DEMO_ITERS (default 30) is passed to the demo. Exit 0 pass, 1 a step failed, 2 misuse.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
hash_file=$repo/scripts/fresh-check.hash

# The files that decide what a fresh machine needs: the install script and every CMake file.
setup_hash() {
  (cd "$repo" && git ls-files -z -- scripts/install-deps.sh CMakeLists.txt 'cmake/*' \
      '*CMakeLists.txt' | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

case "${1:-}" in
  --hash) setup_hash; exit 0 ;;
  --stale)
    if [ -f "$hash_file" ] && [ "$(cat "$hash_file")" = "$(setup_hash)" ]; then exit 1; fi
    exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--hash | --stale]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-check: needs root (debootstrap and chroot)" >&2
  exit 2
fi
command -v debootstrap >/dev/null || { echo "fresh-check: debootstrap missing: bash scripts/install-deps.sh" >&2; exit 2; }

suite=bookworm
# The Debian mirror apt already uses (deb822 sources or the one-line format).
mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' |
         grep -v security | grep -i debian | head -n1 || true)
if [ -z "$mirror" ]; then
  mirror=$(grep -hE "^deb .* $suite( |$)" /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1 || true)
fi
[ -n "$mirror" ] || { echo "fresh-check: no Debian mirror in /etc/apt sources" >&2; exit 2; }

top=${FCN_FRESH_DIR:-/var/tmp/fcn-fresh}
root=$top/root
iters=${FCN_DEMO_ITERS:-30}
declare -a names=() secs=() results=()
record() { names+=("$1"); secs+=("$2"); results+=("$3"); }

unmount_all() {
  # Deepest first; never remove anything while something is mounted below the root.
  if [ -d "$root" ]; then
    findmnt -rn -o TARGET | grep -F "$root/" | sort -r | while read -r m; do umount -l "$m" || true; done
  fi
}
cleanup() {
  unmount_all
  if [ "${FCN_FRESH_KEEP:-0}" != 1 ] && [ -d "$root" ]; then
    if findmnt -rn -o TARGET | grep -qF "$root/"; then
      echo "fresh-check: $root still has mounts; left in place" >&2
    else
      rm -rf --one-file-system "$root"
    fi
  fi
}
trap cleanup EXIT

report() {
  echo "=== fresh-check ($suite from $mirror) ==="
  local i ok=1
  for i in "${!names[@]}"; do
    printf '  %-14s %-4s %6s s\n' "${names[$i]}" "${results[$i]}" "${secs[$i]}"
    [ "${results[$i]}" = pass ] || ok=0
  done
  if [ $ok = 1 ]; then echo "fresh-check: PASS"; else echo "fresh-check: FAIL"; fi
}

# step NAME COMMAND...: runs a command, logs it to $top/NAME.log, records pass/fail and time.
step() {
  local name=$1; shift
  local t0 rc
  t0=$(date +%s)
  echo "--- $name: $* (log: $top/$name.log)"
  set +e
  "$@" >"$top/$name.log" 2>&1
  rc=$?
  set -e
  if [ $rc -eq 0 ]; then record "$name" $(( $(date +%s) - t0 )) pass
  else
    record "$name" $(( $(date +%s) - t0 )) "FAIL"
    tail -n 30 "$top/$name.log" >&2
    report
    exit 1
  fi
}

in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
              LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive FCN_DEMO_ITERS="$iters" \
              ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"} \
              /bin/bash -c "cd /src/fcn && $1"; }

mkdir -p "$top"
unmount_all
rm -rf --one-file-system "$root"
step debootstrap debootstrap --variant=minbase "$suite" "$root" "$mirror"

# apt inside the root sees what apt sees here (Debian's sources only), and resolves names.
rm -f "$root/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] && grep -qiE '^[^#]*debian' "$f" || continue
  dest=$root/etc/apt/sources.list.d/$(basename "$f")
  [ "$f" = /etc/apt/sources.list ] && dest=$root/etc/apt/sources.list
  cp "$f" "$dest"
done
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The root trusts what this machine trusts: its local CA certificates (taken into the root's
# bundle when install-deps.sh installs ca-certificates) and npm's settings, so that a TLS
# proxy this machine's network needs works the same inside.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
[ -f /etc/npmrc ] && cp /etc/npmrc "$root/etc/npmrc"
[ -f "$HOME/.npmrc" ] && mkdir -p "$root/root" && cp "$HOME/.npmrc" "$root/root/.npmrc"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mkdir -p "$root/dev/shm"
mount -t tmpfs tmpfs "$root/dev/shm"
mount -t tmpfs tmpfs "$root/tmp"

# A clean clone of HEAD, with no ../shared beside it.
mkdir -p "$root/src"
git clone -q --no-hardlinks "$repo" "$root/src/fcn"
git -C "$root/src/fcn" checkout -q "$(git -C "$repo" rev-parse HEAD)"
# git itself is installed by install-deps.sh, so the clone is copied, not made inside.

step install-deps in_root "bash scripts/install-deps.sh"
step demo in_root "bash scripts/demo.sh"
step tests in_root "bash scripts/test.sh"

# The build's own share of the two steps, from the timing lines they print.
grep -hE '^=== (build|ctest|training)' "$top/demo.log" "$top/tests.log" | sed 's/^/  /' || true
tail -n 3 "$top/tests.log" | sed 's/^/  /'
report
setup_hash >"$hash_file"
echo "fresh-check: wrote $(cat "$hash_file") to scripts/fresh-check.hash: commit it"
