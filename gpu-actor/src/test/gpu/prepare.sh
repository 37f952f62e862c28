#!/usr/bin/env bash
# Run HERE (the machine with Java, Maven and nvcc): builds gpu-actor/target/gpu-run, everything the device machine
# needs to run the GPU tests, since it has no Java or Maven:
#   jre/                      a jlink'ed Java 17 runtime
#   classes/, test-classes/   this module, with the PTX nvcc compiled (the build fails without nvcc: -Pgpu)
#   lib/                      the test class path, with JCuda's natives jar cut down to the driver binding
#   junit-platform-console-standalone.jar
# Then call the device tool with carry ["gpu-actor/target/gpu-run"] and the command
#   bash gpu-actor/src/test/gpu/run.sh
# See docs/CUDA.md. Everything lands under target/, which git ignores (and mvn clean removes).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../../.." && pwd)"
module="$root/gpu-actor"
out="$module/target/gpu-run"
junit_platform="1.11.4"

cd "$root"
mvn -B -ntp -q -Pgpu -pl gpu-actor -DskipTests test-compile
rm -rf "$out"
mkdir -p "$out/lib"
mvn -B -ntp -q -pl gpu-actor dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$out/classpath.txt"
# NOTE: build-classpath writes no trailing newline, so `tr ':' '\n' | while read` silently dropped the last jar
# (pekko-testkit, which ActorTestKit needs: GpuWorkerTest failed with NoClassDefFoundError TestKitUtils$)
IFS=":" read -r -a jars < "$out/classpath.txt" || true # non-zero at the missing newline, every jar read
for jar in "${jars[@]}"; do
  case "$(basename "$jar")" in
    junit-jupiter*|junit-platform-*|opentest4j-*|apiguardian-*) ;;   # the console launcher bundles JUnit 5
    jcuda-natives-*)
      # 26 MB of natives, of which we load only libJCudaDriver (the driver API); the rest (NVRTC, runtime,
      # nvPTXCompiler bindings) would not fit the 64 MiB a device call carries
      tmp="$(mktemp -d)"
      (cd "$tmp" && unzip -q "$jar" 'lib/libJCudaDriver-*' 'META-INF/*' && zip -q -r "$out/lib/$(basename "$jar")" .)
      rm -rf "$tmp" ;;
    *) cp "$jar" "$out/lib/" ;;
  esac
done
for jar in "${jars[@]}"; do
  case "$(basename "$jar")" in
    junit-jupiter*|junit-platform-*|opentest4j-*|apiguardian-*) ;;
    *) [ -f "$out/lib/$(basename "$jar")" ] || { echo "prepare.sh: $(basename "$jar") missing from lib/" >&2; exit 1; } ;;
  esac
done
rm "$out/classpath.txt"
mvn -B -ntp -q dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit_platform" \
  -DoutputDirectory="$out" -Dmdep.stripVersion=true
cp -r "$module/target/classes" "$module/target/test-classes" "$out/"
# The JDK modules the class path uses (jdeps --print-module-deps --ignore-missing-deps over classes, test-classes
# and lib/), less java.desktop: only Typesafe Config's ConfigBeanFactory (java.beans) wants it, Pekko never calls
# that, and it would not fit the 64 MiB a device call carries. jdk.jfr: Pekko typed's flight recorder events.
jlink --add-modules java.base,java.logging,java.management,java.naming,java.sql,java.xml,java.scripting,jdk.jfr,jdk.unsupported,jdk.incubator.vector \
  --strip-debug --no-header-files --no-man-pages --compress=2 --output "$out/jre"
bytes="$(du -sb "$out" | cut -f1)"
if [ "$bytes" -gt $((64 << 20)) ]; then
  echo "prepare.sh: $out is $bytes bytes, over the 64 MiB a device call carries" >&2
  exit 1
fi
echo "$(du -sh "$out" | cut -f1) in $out; carry it as gpu-actor/target/gpu-run"
