# syntax=docker/dockerfile:1
# Multi-stage: a cached dependency layer, then the app, then a slim runtime.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
ENV CARGO_TERM_COLOR=never
# 1. dependencies only (cached until Cargo.toml / Cargo.lock change)
#    (the workspace names the tools crate; the server build never compiles it)
COPY Cargo.toml Cargo.lock ./
COPY tools/Cargo.toml ./tools/
RUN mkdir -p src tests/api tools/src \
 && echo 'fn main() {}' > src/main.rs \
 && echo '' > src/lib.rs \
 && echo '' > tests/api/main.rs \
 && echo '' > tools/src/lib.rs \
 && cargo build --release --locked --bin kilat \
 && rm -rf src tests tools/src
# 2. the application
COPY src ./src
COPY migrations ./migrations
COPY tests ./tests
COPY tools ./tools
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin kilat

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home kilat
WORKDIR /app
COPY --from=build /src/target/release/kilat /usr/local/bin/kilat
COPY config ./config
USER kilat
ENV KILAT_ENVIRONMENT=production \
    KILAT__SERVER__HOST=0.0.0.0 \
    KILAT__SERVER__PORT=8080
EXPOSE 8080
ENTRYPOINT ["kilat"]
CMD ["serve"]
