#!/usr/bin/env bash
# Installs the two homeservers that test/interop/interop.spec.ts federates with:
#   Synapse 1.98.0 (the last Apache-2.0 release) from PyPI in a virtual environment, its
#     dependencies resolved as of its release (newer ones break it: prometheus-client, Twisted);
#   Dendrite v0.13.8 (Apache-2.0) built from the Go module proxy: the server, its config and
#     key generators, and furl (a signed-request client built on its federation library).
# Idempotent: what is installed already is kept. Everything goes under $HS_INTEROP_CACHE
# (default ~/.cache/hs-interop); Go's own module and build caches are used as they are.
# Writes $HS_INTEROP_CACHE/peers.json, which the test suite reads: for each peer either where
# it is installed or why it is not. Always exits 0: a peer that cannot be installed is
# reported ("not installed: <why>") and its tests are skipped.
set -uo pipefail

SYNAPSE_VERSION=1.98.0
SYNAPSE_RESOLVED_AS_OF=2024-01-01T00:00:00Z
UV_VERSION=0.13.9
DENDRITE_MODULE=github.com/matrix-org/dendrite
DENDRITE_VERSION=v0.13.8
DENDRITE_COMMANDS=(dendrite generate-config generate-keys furl)

CACHE="${HS_INTEROP_CACHE:-$HOME/.cache/hs-interop}"
mkdir -p "$CACHE"
log() { echo "interop install: $*"; }
json_string() { node -e 'process.stdout.write(JSON.stringify(process.argv[1]))' "$1"; }

synapse_dir="$CACHE/synapse-$SYNAPSE_VERSION"
synapse_python="$synapse_dir/venv/bin/python"
synapse_status=""

install_synapse() {
  if [ -f "$synapse_dir/installed" ] && "$synapse_python" -c "import synapse, sys; sys.exit(synapse.__version__ != '$SYNAPSE_VERSION')" 2>/dev/null; then
    log "Synapse $SYNAPSE_VERSION already installed in $synapse_dir"
    return 0
  fi
  local python
  python="$(command -v python3 || true)"
  if [ -z "$python" ]; then synapse_status="python3 not found"; return 1; fi
  if ! "$python" -c 'import sys; sys.exit(not ((3, 8) <= sys.version_info[:2] <= (3, 12)))'; then
    synapse_status="Synapse $SYNAPSE_VERSION needs Python 3.8 to 3.12, found $("$python" --version 2>&1)"
    return 1
  fi
  rm -rf "$synapse_dir"
  mkdir -p "$synapse_dir"
  local started=$SECONDS
  if ! "$python" -m venv "$synapse_dir/venv" >"$synapse_dir/install.log" 2>&1; then
    synapse_status="python3 -m venv failed (see $synapse_dir/install.log)"; return 1
  fi
  # uv resolves the dependencies as they were published when Synapse $SYNAPSE_VERSION was.
  if ! "$synapse_dir/venv/bin/pip" install -q "uv==$UV_VERSION" >>"$synapse_dir/install.log" 2>&1; then
    synapse_status="pip install uv==$UV_VERSION failed (see $synapse_dir/install.log)"; return 1
  fi
  if ! SSL_CERT_FILE="${SSL_CERT_FILE:-${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}}" \
    "$synapse_dir/venv/bin/uv" pip install --python "$synapse_python" --exclude-newer "$SYNAPSE_RESOLVED_AS_OF" \
    "matrix-synapse==$SYNAPSE_VERSION" >>"$synapse_dir/install.log" 2>&1; then
    synapse_status="pip install matrix-synapse==$SYNAPSE_VERSION failed (see $synapse_dir/install.log)"; return 1
  fi
  if ! "$synapse_python" -c 'import synapse.app.homeserver' >>"$synapse_dir/install.log" 2>&1; then
    synapse_status="Synapse installed but does not import (see $synapse_dir/install.log)"; return 1
  fi
  touch "$synapse_dir/installed"
  log "installed Synapse $SYNAPSE_VERSION in $synapse_dir in $((SECONDS - started)) s"
}

dendrite_dir="$CACHE/dendrite-$DENDRITE_VERSION"
dendrite_status=""

install_dendrite() {
  local all=1 command
  for command in "${DENDRITE_COMMANDS[@]}"; do [ -x "$dendrite_dir/bin/$command" ] || all=0; done
  if [ -f "$dendrite_dir/installed" ] && [ "$all" = 1 ]; then
    log "Dendrite $DENDRITE_VERSION already installed in $dendrite_dir"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then dendrite_status="go not found"; return 1; fi
  if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
    dendrite_status="no C compiler (Dendrite's SQLite driver needs cgo)"; return 1
  fi
  rm -rf "$dendrite_dir"
  mkdir -p "$dendrite_dir/bin"
  local started=$SECONDS packages=()
  for command in "${DENDRITE_COMMANDS[@]}"; do packages+=("$DENDRITE_MODULE/cmd/$command@$DENDRITE_VERSION"); done
  log "building Dendrite $DENDRITE_VERSION (a few minutes the first time)"
  if ! CGO_ENABLED=1 GOBIN="$dendrite_dir/bin" GOFLAGS=-buildvcs=false go install "${packages[@]}" >"$dendrite_dir/install.log" 2>&1; then
    dendrite_status="go install $DENDRITE_MODULE/cmd/...@$DENDRITE_VERSION failed (see $dendrite_dir/install.log)"; return 1
  fi
  touch "$dendrite_dir/installed"
  log "built Dendrite $DENDRITE_VERSION in $dendrite_dir in $((SECONDS - started)) s"
}

install_synapse || log "Synapse not installed: $synapse_status"
install_dendrite || log "Dendrite not installed: $dendrite_status"

if [ -z "$synapse_status" ]; then
  synapse_json="{\"version\": \"$SYNAPSE_VERSION\", \"python\": $(json_string "$synapse_python")}"
else
  synapse_json="{\"missing\": $(json_string "$synapse_status")}"
fi
if [ -z "$dendrite_status" ]; then
  dendrite_json="{\"version\": \"$DENDRITE_VERSION\", \"bin\": $(json_string "$dendrite_dir/bin")}"
else
  dendrite_json="{\"missing\": $(json_string "$dendrite_status")}"
fi
printf '{"synapse": %s, "dendrite": %s}\n' "$synapse_json" "$dendrite_json" >"$CACHE/peers.json"
log "wrote $CACHE/peers.json: $(cat "$CACHE/peers.json")"
exit 0
