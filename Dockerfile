# The tracemesh image: one image for every subcommand.
#
#   docker build -t tracemesh:local .
#   docker run --rm tracemesh:local service gateway --listen 0.0.0.0:8080 ...
#   docker run --rm tracemesh:local collector --host 0.0.0.0
#   docker run --rm tracemesh:local run --gateway http://gateway:8080 ...
#
# `docker compose build` uses this file too (the `build:` sections of
# docker-compose.yml). On a machine without a registry the base images below
# cannot be pulled: scripts/build-images.sh builds the same runtime image
# from the local release binary instead (same ENTRYPOINT, USER and ENV,
# which tests/compose_files.rs checks).
#
# Both base images are build arguments, so a mirror or a pinned digest can
# be used without editing this file:
#   docker build --build-arg BUILDER_IMAGE=registry.example/rust:1.95-bookworm .

ARG BUILDER_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build: the release binary ---------------------------------------------
FROM ${BUILDER_IMAGE} AS builder
WORKDIR /src
# The whole workspace (minus what .dockerignore leaves out): protobuf is
# compiled by protox and SQLite is bundled, so cargo needs nothing else.
# A cold build takes a few minutes; Docker's layer cache skips it as long as
# no source file changed.
COPY . .
# --locked: exactly the versions in Cargo.lock, as CI builds them.
# strip --strip-debug: the release profile keeps line tables for developers'
# backtraces; the image does not need them (function names stay).
RUN cargo build --release --locked -p tracemesh \
    && strip --strip-debug -o /tracemesh target/release/tracemesh

# ---- runtime: the binary on a slim Debian ----------------------------------
# Same Debian release as the builder, so the glibc the binary was linked
# against is the one it runs with.
FROM ${RUNTIME_IMAGE}
# - ca-certificates: the OTLP/HTTP exporter's client (reqwest with rustls)
#   loads the system's CA certificates when it is built and refuses to start
#   without any; with them, services can also export over https.
# - A fixed non-root uid/gid (10001, as scripts/build-images.sh), so volume
#   ownership is the same whichever way the image was built. /data holds the
#   services' SQLite files; a named volume mounted there inherits its owner.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 tracemesh \
    && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin tracemesh \
    && mkdir -p /data \
    && chown 10001:10001 /data
COPY --from=builder /tracemesh /usr/local/bin/tracemesh
ENV TRACEMESH_DATA_DIR=/data TRACEMESH_LOG_FORMAT=json
USER 10001:10001
WORKDIR /data
# Health checks: the image runs any subcommand on any port, so it declares
# no HEALTHCHECK of its own; each container says what to probe, with the
# binary itself (no curl or shell needed), e.g. in compose:
#   healthcheck:
#     test: ["CMD", "/usr/local/bin/tracemesh", "probe", "http://127.0.0.1:8080/healthz"]
# or `tracemesh probe tcp://127.0.0.1:50051` for a gRPC service. Exit 0 is
# healthy, 1 unhealthy (with the reason), within --timeout-ms (2 s).
ENTRYPOINT ["/usr/local/bin/tracemesh"]
CMD ["--help"]
