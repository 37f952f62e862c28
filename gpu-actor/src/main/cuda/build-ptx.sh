#!/usr/bin/env bash
# Compiles every .cu file beside this script to PTX for compute_80 (loadable by Ampere, Ada and Hopper) into
# OUT_DIR, then assembles each PTX for sm_80 and sm_90 as a check (ptxas through nvcc; the
# cubins are thrown away: the driver JIT-compiles the PTX for the device it runs on). Run by Maven in the
# generate-resources phase (profile "ptx" in gpu-actor/pom.xml).
#
# Without nvcc on the PATH it prints why and exits 0, so the module still builds (the jar then has no PTX and
# the cuda backend is refused with that reason), unless REQUIRED is "true" (the gpu profile), where it fails.
#
# usage: build-ptx.sh OUT_DIR [REQUIRED]
set -euo pipefail
out="$1"
required="${2:-false}"
src="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$out" # no stale PTX from an earlier build with nvcc
if ! command -v nvcc >/dev/null 2>&1; then
  if [ "$required" = "true" ]; then
    echo "[ptx] nvcc is not on the PATH, and this build requires PTX (-Dquiver.ptx.required=true)" >&2
    exit 1
  fi
  echo "[ptx] nvcc is not on the PATH: building without PTX (the cuda backend will be refused)"
  exit 0
fi
mkdir -p "$out"
for cu in "$src"/*.cu; do
  name="$(basename "$cu" .cu)"
  nvcc -ptx -arch=compute_80 -std=c++17 -Werror all-warnings -o "$out/$name.ptx" "$cu"
  for sm in sm_80 sm_90; do
    nvcc -cubin -arch="$sm" -o /dev/null "$out/$name.ptx"
  done
done
echo "[ptx] $(ls "$out" | wc -l) PTX modules in $out ($(nvcc --version | tail -1))"
