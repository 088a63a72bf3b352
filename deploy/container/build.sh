#!/bin/sh
# Builds Ward as a static binary and the image localhost/ward:dev with podman.
#
#   deploy/container/build.sh                 # amd64, localhost/ward:dev
#   IMAGE=ghcr.io/me/ward:0.1.0 deploy/container/build.sh
#
# Knobs: IMAGE (localhost/ward:dev), ARCH (amd64 or arm64; arm64 needs the
# aarch64-unknown-linux-gnu target, a cross linker and aarch64-linux-gnu-strip, as a
# release CI has), STRIP (the strip for ARCH).
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
image=${IMAGE:-localhost/ward:dev}
arch=${ARCH:-amd64}
case "$arch" in
  amd64) target=x86_64-unknown-linux-gnu; strip=${STRIP:-strip} ;;
  arm64) target=aarch64-unknown-linux-gnu; strip=${STRIP:-aarch64-linux-gnu-strip} ;;
  *) echo "build.sh: ARCH must be amd64 or arm64, not $arch" >&2; exit 2 ;;
esac

cd "$repo"
# Static glibc (musl is not needed): the binary runs FROM scratch, resolving names itself.
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --bin ward --target "$target"
binary="target/$target/release/ward"
if ! file "$binary" | grep -q 'static'; then
  echo "build.sh: $binary is not statically linked" >&2
  exit 1
fi

# A small context: the binary (its debug info stripped) and the Containerfile, not the
# repository with target/.
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/dist/$arch" "$context/dist/data"
"$strip" -o "$context/dist/$arch/ward" "$binary"
cp deploy/container/Containerfile "$context/"
podman build --platform "linux/$arch" --build-arg "TARGETARCH=$arch" -t "$image" -f "$context/Containerfile" "$context"
podman image inspect "$image" --format 'built {{.RepoTags}}: {{.Size}} bytes, user {{.Config.User}}'
