# syntax=docker/dockerfile:1
# Build: docker build -t registry.example/tandem:$(git rev-parse --short HEAD) .
# A small image: the `tandem` binary on distroless (glibc + CA certificates,
# no shell), running as a non-root user.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p tandem \
    && cp target/release/tandem /tandem

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /tandem /usr/local/bin/tandem
USER 65532:65532
# Writable for the nonroot user: the embedded SQLite default (tandem.db) works
# with a plain `docker run`; deployments set DATABASE_URL to PostgreSQL.
WORKDIR /home/nonroot
EXPOSE 8080
ENV BIND_ADDR=0.0.0.0:8080 LOG_FORMAT=json
# For `docker run` (Kubernetes uses the Deployment's HTTP probes instead):
# the binary asks its own /healthz, as the image has no shell or curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/tandem", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tandem"]
CMD ["serve"]
