# syntax=docker/dockerfile:1
#
# powerjockey in a container: a static binary on distroless, as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t powerjockey .
#   docker run --network host -v /etc/powerjockey:/etc/powerjockey:ro \
#     -v powerjockey-state:/var/lib/powerjockey powerjockey
#
# Ports: IPMI is UDP, one port per node (6230 and up by convention: a non-root
# process can bind them). Port 623 needs NET_BIND_SERVICE, which Docker and
# Kubernetes give only to root: run with --user 0 --cap-drop ALL
# --cap-add NET_BIND_SERVICE (and NET_RAW for wol.interface) for it. The
# endpoints must be reachable by Ironic on the provisioning network, hence
# --network host (or publish every node's UDP port). The HTTP API (9623) can
# switch power: keep http.listen on 127.0.0.1.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/powerjockey ./cmd/powerjockey \
 && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
# distroless/static carries ca-certificates and tzdata; nonroot is uid 65532.
COPY --from=build /out/powerjockey /powerjockey
# A volume created from the image keeps this owner: the daemon can write it.
COPY --from=build --chown=65532:65532 /out/state /var/lib/powerjockey
USER 65532:65532
VOLUME ["/var/lib/powerjockey"]
EXPOSE 623/udp 6230-6299/udp 9623/tcp
ENTRYPOINT ["/powerjockey", "serve", "--config", "/etc/powerjockey/powerjockey.yaml"]
