# iamgate container image: a multi-stage build, run as an unprivileged user.
#
#   docker build -t iamgate .
#   docker run --rm -p 8080:8080 -p 8081:8081 \
#     -v "$PWD/policies:/etc/iamgate/policies:ro" iamgate
#
# The image holds the binary and a container configuration (deploy/docker/iamgate.toml): HTTP on
# 0.0.0.0:8080, the admin listener (/metrics, /healthz, /readyz) on 0.0.0.0:8081, the policy store at
# /etc/iamgate/policies (mount it), the built-in object store in /var/lib/iamgate/data. No policy store,
# no credentials and no certificate are baked in. See docs/OPERATIONS.md and deploy/kubernetes/.

ARG RUST_VERSION=1.85
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# Dependencies first, so that a source change does not rebuild them: a stub crate with the same
# manifest and lock file.
COPY Cargo.toml Cargo.lock ./
# The build settings (mimalloc without transparent huge pages: see .cargo/config.toml).
COPY .cargo ./.cargo
# The library crates (policy language, SigV4 verifier) change less often than the gateway.
COPY crates ./crates
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && echo '' > src/lib.rs \
    && for bench in route; do echo 'fn main() {}' > benches/$bench.rs; done \
    && cargo build --profile dist --locked --bin iamgate \
    && rm -rf src benches
COPY src ./src
COPY benches ./benches
# Make cargo see the real sources as newer than the stub's build.
RUN touch src/main.rs src/lib.rs \
    && cargo build --profile dist --locked --bin iamgate \
    && strip target/dist/iamgate

FROM debian:bookworm-slim
# ca-certificates: HTTPS upstreams are verified against the system's trust store.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 iamgate \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin iamgate \
    && mkdir -p /etc/iamgate/policies /var/lib/iamgate/data \
    && chown -R 10001:10001 /var/lib/iamgate
COPY --from=build /src/target/dist/iamgate /usr/local/bin/iamgate
COPY deploy/docker/iamgate.toml /etc/iamgate/iamgate.toml
USER 10001:10001
WORKDIR /var/lib/iamgate
EXPOSE 8080 8443 8081
# SIGTERM: stop accepting, finish requests in flight for up to [limits] shutdown_grace_secs, exit.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/iamgate"]
CMD ["serve", "--config", "/etc/iamgate/iamgate.toml"]
