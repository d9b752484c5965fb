# A small runtime image of the `lockerlab` binary, with the shipped
# scenarios and models, for cluster runs (deploy/kubernetes, docs/scale.md):
#   docker build -t lockerlab .
#   docker run --rm lockerlab simulate scenarios/quickstart.toml
# Stage 1 builds with the workspace's toolchain; stage 2 is Debian slim
# with the binary alone (it links only glibc; SQLite is bundled).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin lockerlab \
 && strip target/release/lockerlab

FROM debian:bookworm-slim
COPY --from=build /src/target/release/lockerlab /usr/local/bin/lockerlab
COPY scenarios /opt/lockerlab/scenarios
COPY models /opt/lockerlab/models
COPY policies /opt/lockerlab/policies
WORKDIR /opt/lockerlab
# Not root: a shard needs only its partials directory.
USER 65532:65532
ENTRYPOINT ["lockerlab"]
CMD ["--help"]
