# syntax=docker/dockerfile:1
#
# powerjockey in a container: a static binary on distroless, as a non-root user.
#
#   docker build $(deploy/package.sh -print-build-args) -t powerjockey .
#   (VERSION, COMMIT and BUILD_DATE as the .deb and .rpm of the same commit
#   have them; without them the binary says "devel")
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
# .git is not in the build context (.dockerignore): the version, commit and
# date come in as build arguments, through -ldflags (pkg/buildinfo).
ARG VERSION=devel
ARG COMMIT=
ARG BUILD_DATE=
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w \
      -X github.com/powerjockey/powerjockey/pkg/buildinfo.version=${VERSION} \
      -X github.com/powerjockey/powerjockey/pkg/buildinfo.commit=${COMMIT} \
      -X github.com/powerjockey/powerjockey/pkg/buildinfo.date=${BUILD_DATE}" \
      -o /out/powerjockey ./cmd/powerjockey \
 && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=devel
ARG COMMIT=
ARG BUILD_DATE=
# OCI annotations: which build the image holds (docker inspect, registries).
LABEL org.opencontainers.image.title="powerjockey" \
      org.opencontainers.image.description="IPMI and Redfish endpoints for machines without a BMC" \
      org.opencontainers.image.source="https://github.com/powerjockey/powerjockey" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${BUILD_DATE}"
# distroless/static carries ca-certificates and tzdata; nonroot is uid 65532.
COPY --from=build /out/powerjockey /powerjockey
# A volume created from the image keeps this owner: the daemon can write it.
COPY --from=build --chown=65532:65532 /out/state /var/lib/powerjockey
USER 65532:65532
VOLUME ["/var/lib/powerjockey"]
EXPOSE 623/udp 6230-6299/udp 9623/tcp
ENTRYPOINT ["/powerjockey", "serve", "--config", "/etc/powerjockey/powerjockey.yaml"]
