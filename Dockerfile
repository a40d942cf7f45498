# A container image of sylk-gateway: multi-stage (build, then a slim runtime), runs as a
# non-root user, state in the /data volume.
#   docker build -t sylk-gateway .
#   docker run --network host -v sylk-data:/data sylk-gateway
# Host networking is the simple way: WebRTC media (UDP 10888 and up, RTP 30000-39999) needs
# the real addresses in its ICE candidates; with port mapping, set --advertise-ip to the host's
# public address and publish 10888/tcp (HTTPS/WSS), 10888/udp (media, one more port per extra
# shard), 10889/tcp (ICE-TCP), 5060/udp+tcp (SIP), 30000-39999/udp (RTP toward SIP).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin sylk-gateway

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /data --shell /usr/sbin/nologin sylk \
    && mkdir /data && chown sylk:sylk /data
COPY --from=build /src/target/release/sylk-gateway /usr/bin/sylk-gateway
USER sylk
WORKDIR /data
VOLUME /data
ENV SYLK_DATA_DIR=/data \
    SYLK_ADMIN_LISTEN=127.0.0.1:10880
EXPOSE 10888/tcp 10888/udp 10889/tcp 5060/udp 5060/tcp
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/bin/sylk-gateway", "status"]
ENTRYPOINT ["/usr/bin/sylk-gateway"]
