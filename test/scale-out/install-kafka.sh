#!/usr/bin/env bash
# Installs the Apache Kafka broker the scale-out suite starts (test/scale-out): the jars of
# org.apache.kafka:kafka_2.13 and kafka-tools 4.4.0 with their dependencies, from Maven
# Central, into $HS_KAFKA_HOME (default ~/.cache/hs-kafka/4.4.0)/libs. Needs Java 17 and
# Maven. Idempotent. Exits non-zero when the jars cannot be installed.
set -euo pipefail
cd "$(dirname "$0")"
home="${HS_KAFKA_HOME:-$HOME/.cache/hs-kafka/4.4.0}"
if [ -f "$home/installed" ]; then
  echo "kafka install: already in $home"
  exit 0
fi
command -v java >/dev/null || { echo "kafka install: java not found" >&2; exit 1; }
command -v mvn >/dev/null || { echo "kafka install: mvn not found" >&2; exit 1; }
mkdir -p "$home"
# Into a folder of this run, then renamed: two installs at once (two test files) never mix.
staging="$home/libs.$$"
trap 'rm -rf "$staging"' EXIT
mvn -q -B -f kafka/pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$staging"
if [ -f "$home/installed" ]; then
  echo "kafka install: already in $home"
  exit 0
fi
rm -rf "$home/libs"
mv "$staging" "$home/libs"
date -u +%FT%TZ > "$home/installed"
echo "kafka install: $(ls "$home/libs" | wc -l) jars in $home/libs"
