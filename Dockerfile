# The device endpoint in a container: `iotrules serve` on port 8883 (MQTT over TLS with client
# certificates) and 443 (MQTT over WebSocket), with the rules and the registry mounted in.
#
#   iotrules fleet fleet                # or your own registry and server certificate
#   docker build -t iotrules .
#   docker run --rm -p 8883:8883 -v "$PWD/fleet:/fleet:ro" -v "$PWD/examples/rules:/rules:ro" \
#     -v iotrules-state:/var/lib/iotrules iotrules
#
# Any other command works the same way: `docker run --rm -v "$PWD:/work" -w /work iotrules check .`

# The toolchain rust-toolchain.toml pins.
FROM rust:1.95.0-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p iotrules-runtime -p iotrules-lsp

FROM debian:bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --uid 10001 --home-dir /var/lib/iotrules --create-home iotrules
COPY --from=build /src/target/release/iotrules /src/target/release/iotrules-lsp /usr/local/bin/
USER iotrules
# Sessions, the rules' in-flight messages and the shadows survive restarts on this volume.
ENV IOTRULES_STATE_DIR=/var/lib/iotrules
VOLUME /var/lib/iotrules
EXPOSE 8883 443
ENTRYPOINT ["iotrules"]
CMD ["serve", "/rules", "--registry", "/fleet/registry", "--wss-port", "443"]
