#!/usr/bin/env bash
# Builds the runtime image `tracemesh:local` (or $TRACEMESH_IMAGE) on this
# machine, without pulling anything from a registry.
#
# The Dockerfile at the root builds the same image for users, but it starts
# FROM public base images (rust, debian), which a machine without a registry
# cannot pull. This script makes the runtime root filesystem itself instead:
#
#   /usr/local/bin/tracemesh        the release binary (debug info stripped)
#   /lib/..., /lib64/...            every shared library `ldd` lists, at the
#                                   same paths, plus the dynamic loader
#   /etc/passwd, /etc/group         user and group 10001 `tracemesh`
#   /etc/nsswitch.conf              /etc/hosts before DNS, as on Debian
#   /etc/ssl/certs/ca-certificates.crt  this machine's CA bundle
#   /data                           owned by 10001: the services' SQLite files
#   /tmp                            1777: SQLite's temporary files
#
# and builds it with `docker build` from a generated `FROM scratch` context,
# which needs no pull. ENTRYPOINT, USER and ENV are the Dockerfile's (a test,
# tests/compose_files.rs, checks that the two agree).
#
# Usage: scripts/build-images.sh [--binary PATH]
#   --binary PATH   use this tracemesh binary instead of running
#                   `cargo build --release --locked -p tracemesh`
# Environment: TRACEMESH_IMAGE (default tracemesh:local) is the tag.
set -euo pipefail

image="${TRACEMESH_IMAGE:-tracemesh:local}"
binary=""

die() {
  echo "build-images.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
  case "$1" in
    --binary)
      [ $# -ge 2 ] || die "--binary needs a path"
      binary="$2"
      shift 2
      ;;
    --binary=*)
      binary="${1#--binary=}"
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      die "unknown argument '$1' (see --help)"
      ;;
  esac
done

# --binary is relative to where the script was called from; the rest of the
# script works from the repository's root.
case "$binary" in
  "" | /*) ;;
  *) binary="$PWD/$binary" ;;
esac
cd "$(dirname "$0")/.."

# Check the tools first, so a missing one is reported before a 4-minute build.
for tool in docker ldd strip; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed (needed to build the image)"
done
docker info >/dev/null 2>&1 ||
  die "cannot reach the Docker daemon: is it running, and may $(id -un) use it?"

started=$SECONDS
if [ -z "$binary" ]; then
  echo "== cargo build --release --locked -p tracemesh"
  command -v cargo >/dev/null || die "'cargo' is not installed; install Rust or pass --binary PATH"
  cargo build --release --locked -p tracemesh
  # Where cargo put it: target/ unless CARGO_TARGET_DIR or a cargo config
  # says otherwise, which `cargo metadata` knows.
  target_dir="$(cargo metadata --format-version 1 --no-deps |
    grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)"
  binary="${target_dir:-target}/release/tracemesh"
fi
[ -f "$binary" ] || die "no binary at '$binary'"
[ -x "$binary" ] || die "'$binary' is not executable"

context="$(mktemp -d "${TMPDIR:-/tmp}/tracemesh-image.XXXXXX")"
trap 'rm -rf "$context"' EXIT
rootfs="$context/rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/tmp" "$context/data"
chmod 1777 "$rootfs/tmp"

echo "== root filesystem from $binary"
# Line tables help a developer's backtrace; in the image they only add
# size. Symbols stay, so a panic's backtrace still names its functions.
strip --strip-debug -o "$rootfs/usr/local/bin/tracemesh" "$binary"
chmod 0755 "$rootfs/usr/local/bin/tracemesh"

# Each line of ldd is one of:
#   libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)   a library
#   /lib64/ld-linux-x86-64.so.2 (0x...)                    the loader
#   linux-vdso.so.1 (0x...)                                the kernel's, no file
#   libfoo.so => not found                                 a broken binary
ldd_out="$(ldd "$binary" 2>&1)" || die "ldd '$binary' failed: $ldd_out"
if grep -q "not found" <<<"$ldd_out"; then
  die "'$binary' links libraries this machine lacks:
$(grep "not found" <<<"$ldd_out")"
fi
libraries=()
if ! grep -q "statically linked\|not a dynamic executable" <<<"$ldd_out"; then
  while read -r path; do
    libraries+=("$path")
  done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$ldd_out")
  [ ${#libraries[@]} -gt 0 ] || die "ldd listed no library for '$binary':
$ldd_out"
fi
for library in "${libraries[@]}"; do
  # Same path in the image as here, so the loader (whose path is written in
  # the binary) and its default search path find them. -L: copy the file a
  # symlink such as /lib64/ld-linux-x86-64.so.2 points at, under the link's name.
  mkdir -p "$rootfs$(dirname "$library")"
  cp -L "$library" "$rootfs$library"
  echo "   $library"
done

# A non-root user that exists in /etc/passwd, so tools showing the user (ps,
# docker top) name it, and a HOME that is writable.
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
tracemesh:x:10001:10001:tracemesh:/data:/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
tracemesh:x:10001:
EOF
# glibc reads this to resolve names; Docker writes /etc/hosts and
# /etc/resolv.conf into every container, so compose service names resolve.
echo "hosts: files dns" >"$rootfs/etc/nsswitch.conf"

# The CA bundle: the OTLP/HTTP exporter's client (reqwest with rustls) loads
# the system's CA certificates when it is built, and refuses to start without
# any, even for a plain-http endpoint. It also lets a service export over
# https to a hosted backend. Debian's path; other distributions' as fallbacks.
ca_bundle=""
for candidate in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt \
  /etc/ssl/cert.pem; do
  if [ -s "$candidate" ]; then
    ca_bundle="$candidate"
    break
  fi
done
[ -n "$ca_bundle" ] ||
  die "no CA certificate bundle on this machine: install the ca-certificates package"
mkdir -p "$rootfs/etc/ssl/certs"
cp -L "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
echo "   $ca_bundle -> /etc/ssl/certs/ca-certificates.crt"

revision="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
# COPY gives files to root unless --chown: /data is copied on its own so it
# belongs to 10001 (a named volume mounted there inherits that owner).
cat >"$context/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
COPY --chown=10001:10001 data/ /data/
LABEL org.opencontainers.image.title="tracemesh" \\
      org.opencontainers.image.revision="$revision" \\
      org.opencontainers.image.description="built locally by scripts/build-images.sh"
ENV TRACEMESH_DATA_DIR=/data TRACEMESH_LOG_FORMAT=json
USER 10001:10001
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/tracemesh"]
CMD ["--help"]
EOF

echo "== docker build -t $image (FROM scratch, nothing pulled)"
previous="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
docker build --quiet --tag "$image" "$context" >/dev/null ||
  die "docker build of $image failed (docker's message is above)"
# The previous build of this tag is now untagged: remove it, so repeated
# builds (CI) do not pile up images. Docker keeps it if a container uses it.
current="$(docker image inspect --format '{{.Id}}' "$image")"
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
  docker rmi "$previous" >/dev/null 2>&1 || true
fi

size_bytes="$(docker image inspect --format '{{.Size}}' "$current")"
echo "== built $image: $((size_bytes / 1000 / 1000)) MB, in $((SECONDS - started)) s"
echo "   try: docker run --rm $image --help"
