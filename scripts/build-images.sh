#!/usr/bin/env bash
# Builds the runtime image `tracemesh:local` (or $TRACEMESH_IMAGE) on this
# machine, without pulling anything from a registry, and, when Debian's
# `prometheus` package is installed, `tracemesh-prometheus:local` (or
# $TRACEMESH_PROMETHEUS_IMAGE) for docker-compose.local.yml's Prometheus.
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
# The Prometheus image is made the same way from /usr/bin/prometheus (`apt-get
# install prometheus`): the binary, the libraries `ldd` lists, user 10001,
# and /prometheus (its storage) owned by 10001. Without that binary the
# script says so and builds the tracemesh image alone; the demo runs without
# Prometheus (the local file starts it only with `--profile metrics`).
#
# Usage: scripts/build-images.sh [--binary PATH] [--prometheus-only]
#   --binary PATH       use this tracemesh binary instead of running
#                       `cargo build --release --locked -p tracemesh`
#   --prometheus-only   build only the Prometheus image (no cargo build)
# Environment: TRACEMESH_IMAGE (default tracemesh:local) and
# TRACEMESH_PROMETHEUS_IMAGE (default tracemesh-prometheus:local) are the
# tags; PROMETHEUS_BINARY (default /usr/bin/prometheus) the binary.
set -euo pipefail

image="${TRACEMESH_IMAGE:-tracemesh:local}"
prometheus_image="${TRACEMESH_PROMETHEUS_IMAGE:-tracemesh-prometheus:local}"
prometheus_binary="${PROMETHEUS_BINARY:-/usr/bin/prometheus}"
binary=""
prometheus_only=false

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
    --prometheus-only)
      prometheus_only=true
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

# copy_libraries BINARY ROOTFS: every shared library BINARY needs, and the
# dynamic loader, into ROOTFS at the paths they have here.
copy_libraries() {
  local binary="$1" rootfs="$2" ldd_out library
  local libraries=()
  # Each line of ldd is one of:
  #   libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)   a library
  #   /lib64/ld-linux-x86-64.so.2 (0x...)                    the loader
  #   linux-vdso.so.1 (0x...)                                the kernel's, no file
  #   libfoo.so => not found                                 a broken binary
  # A static binary makes ldd say "not a dynamic executable" (and fail).
  if ! ldd_out="$(ldd "$binary" 2>&1)"; then
    grep -q "not a dynamic executable" <<<"$ldd_out" || die "ldd '$binary' failed: $ldd_out"
  fi
  if grep -q "not found" <<<"$ldd_out"; then
    die "'$binary' links libraries this machine lacks:
$(grep "not found" <<<"$ldd_out")"
  fi
  if ! grep -q "statically linked\|not a dynamic executable" <<<"$ldd_out"; then
    while read -r library; do
      libraries+=("$library")
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
}

# write_user ROOTFS NAME HOME: user and group 10001 NAME in /etc/passwd and
# /etc/group, so tools showing the user (ps, docker top) name it, and
# /etc/nsswitch.conf, which glibc reads to resolve names: /etc/hosts before
# DNS, as on Debian. Docker writes /etc/hosts and /etc/resolv.conf into every
# container, so compose service names resolve.
write_user() {
  local rootfs="$1" name="$2" home="$3"
  mkdir -p "$rootfs/etc"
  cat >"$rootfs/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/sbin/nologin
$name:x:10001:10001:$name:$home:/sbin/nologin
PASSWD
  cat >"$rootfs/etc/group" <<GROUP
root:x:0:
$name:x:10001:
GROUP
  echo "hosts: files dns" >"$rootfs/etc/nsswitch.conf"
}

# build_image TAG CONTEXT: `docker build` of a generated `FROM scratch`
# context, which needs no pull; replaces the previous build of TAG.
build_image() {
  local tag="$1" context="$2" previous current size_bytes
  echo "== docker build -t $tag (FROM scratch, nothing pulled)"
  previous="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
  docker build --quiet --tag "$tag" "$context" >/dev/null ||
    die "docker build of $tag failed (docker's message is above)"
  # The previous build of this tag is now untagged: remove it, so repeated
  # builds (CI) do not pile up images. Docker keeps it if a container uses it.
  current="$(docker image inspect --format '{{.Id}}' "$tag")"
  if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    docker rmi "$previous" >/dev/null 2>&1 || true
  fi
  size_bytes="$(docker image inspect --format '{{.Size}}' "$current")"
  echo "== built $tag: $((size_bytes / 1000 / 1000)) MB, in $((SECONDS - started)) s"
}

# Each image's build context: a fresh temporary directory, removed on exit.
contexts=()
trap 'rm -rf "${contexts[@]}"' EXIT
new_context() {
  context="$(mktemp -d "${TMPDIR:-/tmp}/tracemesh-image.XXXXXX")"
  contexts+=("$context")
  rootfs="$context/rootfs"
  mkdir -p "$rootfs/etc" "$rootfs/tmp" "$context/data"
  chmod 1777 "$rootfs/tmp"
}

started=$SECONDS
revision="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

# ---- tracemesh:local ---------------------------------------------------------
build_tracemesh_image() {
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

  new_context
  mkdir -p "$rootfs/usr/local/bin"
  echo "== root filesystem from $binary"
  # Line tables help a developer's backtrace; in the image they only add
  # size. Symbols stay, so a panic's backtrace still names its functions.
  strip --strip-debug -o "$rootfs/usr/local/bin/tracemesh" "$binary"
  chmod 0755 "$rootfs/usr/local/bin/tracemesh"
  copy_libraries "$binary" "$rootfs"
  write_user "$rootfs" tracemesh /data

  # The CA bundle: the OTLP/HTTP exporter's client (reqwest with rustls) loads
  # the system's CA certificates when it is built, and refuses to start without
  # any, even for a plain-http endpoint. It also lets a service export over
  # https to a hosted backend. Debian's path; other distributions' as fallbacks.
  local ca_bundle="" candidate
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
  build_image "$image" "$context"
  echo "   try: docker run --rm $image --help"
}

# ---- tracemesh-prometheus:local -----------------------------------------------
# Debian's Prometheus for docker-compose.local.yml, where upstream's
# prom/prometheus cannot be pulled. The compose files pass its flags; the CMD
# below only makes a bare `docker run` of the image work.
build_prometheus_image() {
  if [ ! -x "$prometheus_binary" ]; then
    [ "$prometheus_only" = false ] ||
      die "--prometheus-only: no Prometheus binary at $prometheus_binary (apt-get install prometheus)"
    echo "== skipped $prometheus_image: no Prometheus binary at $prometheus_binary."
    echo "   Install Debian's package (apt-get install prometheus) or set PROMETHEUS_BINARY;"
    echo "   docker-compose.local.yml runs Prometheus (--profile metrics) only from this image."
    return 0
  fi
  new_context
  mkdir -p "$rootfs/usr/bin" "$rootfs/etc/prometheus"
  echo "== root filesystem from $prometheus_binary"
  echo "   $("$prometheus_binary" --version 2>&1 | head -n 1)"
  cp -L "$prometheus_binary" "$rootfs/usr/bin/prometheus"
  chmod 0755 "$rootfs/usr/bin/prometheus"
  copy_libraries "$prometheus_binary" "$rootfs"
  write_user "$rootfs" prometheus /prometheus
  # Left out: Debian's web UI (/usr/share/prometheus/web), whose links to
  # /usr/share/javascript would add some 220 MB. The HTTP API, which Grafana
  # queries (and curl .../api/v1/targets), works without it.
  # /prometheus is the storage (--storage.tsdb.path, as in upstream's image),
  # owned by 10001 so the non-root process can write it.
  cat >"$context/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
COPY --chown=10001:10001 data/ /prometheus/
LABEL org.opencontainers.image.title="tracemesh-prometheus" \\
      org.opencontainers.image.revision="$revision" \\
      org.opencontainers.image.description="Debian's prometheus, built locally by scripts/build-images.sh"
USER 10001:10001
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
EOF
  build_image "$prometheus_image" "$context"
  echo "   try: docker run --rm $prometheus_image --version"
}

if [ "$prometheus_only" = false ]; then
  build_tracemesh_image
fi
build_prometheus_image
