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
# Go before 1.27 can fail a target with a bare "context deadline exceeded"
# when -fuzztime ends while a worker is mid-call (golang/go#75804, a race in
# the coordinator, fixed in go1.27). That failure writes no failing input,
# where every real finding (crash, hang, t.Fatal) writes one under
# testdata/fuzz/<target>/. So a failure that wrote nothing and ended with
# that line is run once more; anything else, or a second such failure,
# fails the run.
fuzz_one() { # pkg name
  local pkg=$1 name=$2 dir="$1/testdata/fuzz/$2" before after out rc
  before=$(ls "$dir" 2>/dev/null | sort || true)
  out=$(mktemp)
  rc=0
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tee "$out" || rc=$?
  after=$(ls "$dir" 2>/dev/null | sort || true)
  if ((rc != 0)) && [ "$before" = "$after" ] &&
    grep -q '^    context deadline exceeded$' "$out" &&
    ! grep -q 'Failing input written to' "$out"; then
    rm -f "$out"
    return 75
  fi
  rm -f "$out"
  return "$rc"
}
for t in "${targets[@]}"; do
  pkg=${t%%:*} name=${t##*:}
  echo "-- $name ($pkg)"
  rc=0
  fuzz_one "$pkg" "$name" || rc=$?
  if ((rc == 75)); then
    echo "-- $name: the fuzz coordinator's deadline race (golang/go#75804), no failing input; once more"
    fuzz_one "$pkg" "$name" || { echo "-- $name failed again"; exit 1; }
  elif ((rc != 0)); then
    exit "$rc"
  fi
done
echo "== all tests passed"
