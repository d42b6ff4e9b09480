#!/usr/bin/env bash
# Generate the Go stubs (clients/go/rescpv1) from protos/rescp/v1 with the pinned plugins of
# tools.sh and Debian's protoc. `--check`: regenerate into a temporary folder and fail when the
# committed stubs differ (make test runs it, so a proto change cannot land without `make go-proto`).
# The protoc version line of the headers is normalized, so another protoc patch release on another
# machine does not count as drift; the plugins' versions are pinned and stay in.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
module="$(head -1 "$here/go.mod" | cut -d' ' -f2)"
package="$module/rescpv1"
bin="$("$here/tools.sh")"
command -v protoc >/dev/null || { echo "protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$root/protos"
protos=(rescp/v1/*.proto)
maps=()
for proto in "${protos[@]}"; do maps+=("M$proto=$package;rescpv1"); done
go_opts=("module=$module" "${maps[@]}")
PATH="$bin:$PATH" protoc -I . \
  "${go_opts[@]/#/--go_opt=}" --go_out="$tmp" \
  "${go_opts[@]/#/--go-grpc_opt=}" --go-grpc_out="$tmp" \
  "${protos[@]}"
sed -i -E 's#^(//[ \t-]+protoc +)v[0-9.]+$#\1(Debian protobuf-compiler)#' "$tmp"/rescpv1/*.go

if [ "${1:-}" = "--check" ]; then
  if ! diff -r "$tmp/rescpv1" "$here/rescpv1" >/dev/null 2>&1; then
    echo "the Go stubs are stale; run \`make go-proto\`:" >&2
    diff -rq "$tmp/rescpv1" "$here/rescpv1" >&2 || true
    exit 1
  fi
  echo "go stubs: up to date"
else
  rm -rf "$here/rescpv1"
  cp -r "$tmp/rescpv1" "$here/rescpv1"
fi
