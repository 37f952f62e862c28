#!/usr/bin/env bash
# Run ON THE DEVICE MACHINE (no Java there): the tests tagged "gpu" of gpu-actor, with the runtime and jars that
# prepare.sh built into gpu-actor/target/gpu-run (carried by the device tool). Reports go to $OUT/gpu-reports when
# $OUT is set (the device tool brings $OUT back), else under gpu-run. Extra arguments go to the JUnit console
# launcher. Exits non-zero when a test fails, and 3 when the tests were skipped (no usable GPU).
set -euo pipefail
module="$(cd "$(dirname "$0")/../../.." && pwd)"
run="$module/target/gpu-run"
if [ ! -x "$run/jre/bin/java" ]; then
  echo "no $run/jre: run gpu-actor/src/test/gpu/prepare.sh first and carry gpu-actor/target/gpu-run" >&2
  exit 2
fi
reports="${OUT:-$run}/gpu-reports"
cp="$run/classes:$run/test-classes:$(ls "$run"/lib/*.jar | paste -sd:)"
nvidia-smi -L 2>/dev/null || echo "(nvidia-smi not found)"
# the driver must support CUDA 12.0 (R525+) to JIT the jar's PTX ISA 8.0 (docs/CUDA.md)
nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | sed 's/^/driver /' || true
rc=0
"$run/jre/bin/java" --add-modules jdk.incubator.vector -Xmx8g \
  -jar "$run/junit-platform-console-standalone.jar" execute \
  --class-path "$cp" --select-package dev.quiver.gpu --include-tag gpu \
  --details tree --disable-banner --reports-dir "$reports" "$@" || rc=$?
# a skipped GPU test is not a pass: say so and fail
if grep -q "<skipped" "$reports"/TEST-junit-jupiter.xml 2>/dev/null; then
  echo "GPU tests were SKIPPED: $(grep -o 'Assumption failed: [^]<]*' "$reports"/TEST-junit-jupiter.xml | head -1)" >&2
  [ "$rc" -ne 0 ] || rc=3
fi
exit "$rc"
