#!/usr/bin/env bash
# Compiles every .cu file beside this script to PTX for compute_80 (loadable by Ampere, Ada and Hopper) into
# OUT_DIR, lowers the PTX ISA version it declares to PTX_ISA (below), then assembles each PTX (ptxas via nvcc) for
# sm_80 and sm_90 as a check (the cubins are thrown away: the driver JIT-compiles the PTX for the device it runs
# on). Run by Maven in the generate-resources phase (profile "ptx" in gpu-actor/pom.xml).
#
# NOTE: a driver JIT-compiles only PTX ISA versions it knows. nvcc 13 declares `.version 9.0`, which needs a CUDA
# 13 driver (R580+), and has no option to emit an older ISA. Our kernels use nothing newer than ISA 7.0, so the
# `.version` line is rewritten to PTX_ISA (8.0: CUDA 12.0 drivers, R525+), and ptxas then proves the text is
# valid at that version: it refuses an instruction the declared ISA does not have ("requires PTX ISA .version
# X or later"). CudaAvailability reads the version back from the jar and checks the driver against it.
#
# Without nvcc on the PATH it prints why and exits 0, so the module still builds (the jar then has no PTX and
# the cuda backend is refused with that reason), unless REQUIRED is "true" (the gpu profile), where it fails.
#
# usage: build-ptx.sh OUT_DIR [REQUIRED]
set -euo pipefail
out="$1"
required="${2:-false}"
src="$(cd "$(dirname "$0")" && pwd)"
ptx_isa="8.0" # keep in step with PtxResourceTest (it asserts the version the jar carries)
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
  declared="$(sed -n 's/^\.version \([0-9]*\.[0-9]*\)$/\1/p' "$out/$name.ptx")"
  if [ -z "$declared" ]; then
    echo "[ptx] $name.ptx has no .version line" >&2
    exit 1
  fi
  if [ "$(printf '%s\n%s\n' "$declared" "$ptx_isa" | sort -V | head -1)" != "$ptx_isa" ]; then
    echo "[ptx] nvcc wrote PTX ISA $declared for $name, older than the $ptx_isa this build declares" >&2
    exit 1
  fi
  sed -i "s/^\.version $declared\$/.version $ptx_isa/" "$out/$name.ptx"
  for sm in sm_80 sm_90; do
    nvcc -cubin -arch="$sm" -o /dev/null "$out/$name.ptx" # ptxas, found by nvcc beside itself
  done
done
echo "[ptx] $(ls "$out" | wc -l) PTX modules (ISA $ptx_isa, nvcc wrote $declared) in $out ($(nvcc --version | tail -1))"
