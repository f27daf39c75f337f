#!/usr/bin/env bash
# build-libtokenizers.sh [OUTDIR]
#
# Builds libtokenizers.a (Hugging Face's Rust `tokenizers` crate behind the C ABI of
# github.com/daulet/tokenizers) from the Rust source shipped inside that Go module, at the
# version go.mod requires. The library is needed only for the optional `hftokenizers` build
# tag (package tokenizer/hforacle); a plain `go build ./...` never needs it.
#
# OUTDIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/steer/libtokenizers/<version>/.
# The build is skipped when OUTDIR/libtokenizers.a already exists, so the script is
# idempotent and cheap to call on every CI run. Progress goes to stderr; the only line on
# stdout is the directory holding libtokenizers.a, so callers can write
#
#   LIBDIR=$(scripts/build-libtokenizers.sh)
#   CGO_ENABLED=1 CGO_LDFLAGS="-L$LIBDIR" go test -tags hftokenizers ./tokenizer/hforacle/
#
# The Go package links with `#cgo LDFLAGS: -ltokenizers -ldl -lm -lstdc++`, so only the
# search path (-L<dir>) has to be supplied. It also references tokenizers_version_<ver>,
# so a library built from a different version fails at link time rather than misbehaving.
#
# Requirements: go, cargo/rustc >= 1.78 (rustup; distribution packages may be too old), a C/C++ compiler (onig and esaxx are built from C/C++
# source), network access to crates.io (v1.22.1's Cargo.toml needs nothing else; v1.23+
# pull a git dependency). A cold build takes several minutes on 2 cores.
set -euo pipefail

MODULE=github.com/daulet/tokenizers
MIN_CARGO=1.78.0
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf 'build-libtokenizers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || die "go not found in PATH"

# The version go.mod requires (the Rust library must match the Go package's cgo ABI).
VERSION=$(cd "$REPO_ROOT" && go list -m -f '{{.Version}}' "$MODULE" 2>/dev/null) ||
	VERSION=$(awk -v m="$MODULE" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$REPO_ROOT/go.mod")
[ -n "${VERSION:-}" ] || die "cannot determine the version of $MODULE from $REPO_ROOT/go.mod"

OUTDIR=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/steer/libtokenizers/$VERSION}
LIB=$OUTDIR/libtokenizers.a

if [ -s "$LIB" ]; then
	log "cached: $LIB (delete it to rebuild)"
	(cd "$OUTDIR" && pwd)
	exit 0
fi

command -v cargo >/dev/null || die "cargo not found in PATH (install Rust >= $MIN_CARGO: https://rustup.rs)"
# v1.22.1 ships a version-4 Cargo.lock (cargo >= 1.78) and its dependencies need rustc >= 1.73;
# distribution packages can be older (Debian 12's cargo is 1.65).
CARGO_VERSION=$(cargo --version | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$MIN_CARGO" "${CARGO_VERSION%%-*}" | sort -V | head -n1)" != "$MIN_CARGO" ]; then
	die "cargo $CARGO_VERSION is too old: $MODULE@$VERSION needs cargo/rustc >= $MIN_CARGO (install with https://rustup.rs)"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/libtokenizers.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

log "downloading Go module $MODULE@$VERSION"
# Run outside the repository so go.mod/go.sum are never touched.
SRC=$(cd "$WORK" && GOFLAGS= GO111MODULE=on go mod download -json "$MODULE@$VERSION" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$SRC" ] && [ -f "$SRC/Cargo.toml" ] || die "no Cargo.toml in module directory '$SRC'"
# The module cache is read-only: copy the crate to a writable place.
cp -R "$SRC/." "$WORK/src"
chmod -R u+w "$WORK/src"

LOCKED=()
[ -f "$WORK/src/Cargo.lock" ] && LOCKED=(--locked)

log "cargo build --release ${LOCKED[*]} in $WORK/src ($(cargo --version))"
start=$(date +%s)
(cd "$WORK/src" && CARGO_TARGET_DIR="$WORK/target" cargo build --release "${LOCKED[@]}" --lib >&2)
log "cargo build took $(( $(date +%s) - start ))s"

BUILT=$WORK/target/release/libtokenizers.a
[ -s "$BUILT" ] || die "cargo did not produce $BUILT"

mkdir -p "$OUTDIR"
# Install atomically so an interrupted run never leaves a truncated library in the cache.
cp "$BUILT" "$OUTDIR/.libtokenizers.a.$$"
mv -f "$OUTDIR/.libtokenizers.a.$$" "$LIB"
log "installed $LIB ($(du -h "$LIB" | cut -f1))"
(cd "$OUTDIR" && pwd)
