#!/usr/bin/env bash
# Runs every test: vet, unit and end-to-end tests (with the race detector),
# then a bounded run of every fuzz target. This is the README's test command
# and what .ci/run calls. Each fuzz target runs for a number of executions
# (about 10 s each on the 2-core machine); FUZZTIME (a duration such as 60s,
# or a count such as 1000000x) replaces them all.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-}

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

echo "== fuzz targets, ${fuzztime:-about 10 s} each"
# package:target:executions for every decoder of bytes from the network.
# Counts, not a duration: a duration's deadline races the workers in Go
# before 1.27 (below); a count has no deadline. Each is about 10 s of that
# target's rate on the 2-core machine (fresh-clone .ci/run, 2026-11-26).
targets=(
  ./pkg/ipmi:FuzzEndpointDatagram:50000
  ./pkg/ipmi:FuzzDispatch:150000
  ./pkg/ipmi:FuzzInSession:10000
  ./pkg/ipmi:FuzzBMCCommands:150000
  ./pkg/ipmi:FuzzSOLPayload:150000
  ./pkg/internal/snmpagent:FuzzAgentDatagram:250000
  ./pkg/sim:FuzzMagicPacket:200000
  ./pkg/redfish:FuzzDecoders:40000
  ./pkg/boot:FuzzRequest:150000
  ./pkg/boot:FuzzParseMAC:150000
  ./pkg/httpapi:FuzzAuthRequest:50000
  ./pkg/power/pdu:FuzzSNMPResponse:200000
  ./pkg/internal/snmpagent/snmprec:FuzzParse:400000
)
# Go before 1.27 can fail a target with a bare "context deadline exceeded"
# when a -fuzztime duration ends while a worker is mid-call (golang/go#75804, a race in
# the coordinator, fixed in go1.27). That failure writes no failing input,
# where every real finding (crash, hang, t.Fatal) writes one under
# testdata/fuzz/<target>/. So a failure that wrote nothing and ended with
# that line is run once more; anything else, or a second such failure,
# fails the run.
fuzz_one() { # pkg name fuzztime
  local pkg=$1 name=$2 budget=$3 dir="$1/testdata/fuzz/$2" before after out rc
  before=$(ls "$dir" 2>/dev/null | sort || true)
  out=$(mktemp)
  rc=0
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$budget" "$pkg" 2>&1 | tee "$out" || rc=$?
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
  IFS=: read -r pkg name count <<<"$t"
  budget=${fuzztime:-${count}x}
  echo "-- $name ($pkg, $budget)"
  rc=0
  fuzz_one "$pkg" "$name" "$budget" || rc=$?
  if ((rc == 75)); then
    echo "-- $name: the fuzz coordinator's deadline race (golang/go#75804), no failing input; once more"
    fuzz_one "$pkg" "$name" "$budget" || { echo "-- $name failed again"; exit 1; }
  elif ((rc != 0)); then
    exit "$rc"
  fi
done
echo "== all tests passed"
