#!/usr/bin/env bash
# Runs every test: vet, unit and end-to-end tests (with the race detector),
# then a bounded run of every fuzz target. This is the README's test command
# and what .ci/run calls. FUZZTIME (default 10s) bounds each fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}

echo "== go vet"
go vet ./...

echo "== unit and end-to-end tests"
go test -race -count=1 -timeout 20m ./...

# The packager is a module of its own (deploy/package: nfpm stays out of
# the daemon's dependencies): it builds the .deb and .rpm twice and checks
# them with dpkg-deb, lintian, rpm and systemd-analyze.
echo "== packages"
go -C deploy/package vet ./...
go -C deploy/package test -count=1 -timeout 10m ./...

echo "== fuzz targets, ${fuzztime} each"
# package:target for every decoder of bytes from the network.
targets=(
  ./pkg/ipmi:FuzzEndpointDatagram
  ./pkg/ipmi:FuzzDispatch
  ./pkg/ipmi:FuzzInSession
  ./pkg/ipmi:FuzzBMCCommands
  ./pkg/ipmi:FuzzSOLPayload
  ./pkg/internal/snmpagent:FuzzAgentDatagram
  ./pkg/sim:FuzzMagicPacket
  ./pkg/redfish:FuzzDecoders
  ./pkg/boot:FuzzRequest
  ./pkg/boot:FuzzParseMAC
  ./pkg/httpapi:FuzzAuthRequest
  ./pkg/power/pdu:FuzzSNMPResponse
  ./pkg/internal/snmpagent/snmprec:FuzzParse
)
for t in "${targets[@]}"; do
  pkg=${t%%:*} name=${t##*:}
  echo "-- $name ($pkg)"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
done
echo "== all tests passed"
