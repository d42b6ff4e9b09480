#!/usr/bin/env bash
# Install the Go tools the client's build and checks use, at pinned versions, into clients/go/.bin
# (git-ignored), from the Go module proxy. Prints that folder. Idempotent: a tool already there at
# its pinned version is kept.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/.bin"
tools=(
  "google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12"
  "google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1"
  "honnef.co/go/tools/cmd/staticcheck@v0.8.2"
)
mkdir -p "$bin"
for tool in "${tools[@]}"; do
  stamp="$bin/.$(basename "${tool%@*}")@${tool#*@}"
  if [ ! -f "$stamp" ]; then
    GOBIN="$bin" GOFLAGS=-mod=mod go install "$tool" >&2
    touch "$stamp"
  fi
done
echo "$bin"
