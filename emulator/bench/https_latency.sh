#!/bin/sh
# https_latency.sh — time per request of sequential signed Publishes over ONE keep-alive
# connection, HTTPS and plain HTTP (a latency probe, not a throughput test).
#
#   emulator/bench/https_latency.sh [BUILD_DIR]     (default: ./build)
#   env: REQUESTS (200)
#
# Starts one emulator with a throw-away self-signed certificate (openssl) and one without
# TLS, both on ephemeral ports of 127.0.0.1, and runs REQUESTS signed Publishes one after
# the other on one connection with two clients each:
#   curl    --aws-sigv4 (an independent signer); its -w times per transfer
#   iotlua  BUILD_DIR/iotlua running iot:publish in a loop (when built)
# Prints the mean and median milliseconds per request of each run. A request that waits
# on Nagle's algorithm + delayed ACK takes ~40 ms on loopback; one that does not, well
# under 1 ms.
set -eu
BUILD_DIR=${1:-build}
REQUESTS=${REQUESTS:-200}
EMU="$BUILD_DIR/iotlua-emulator"
[ -x "$EMU" ] || { echo "https_latency.sh: no $EMU (build it first)" >&2; exit 1; }
AKID=AKIAIOSFODNN7EXAMPLE
SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

TMP=$(mktemp -d)
. "$(dirname "$0")/emulator.sh"    # start NAME ARGS..., cleanup on exit

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
    -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null

# stats LABEL — reads seconds per request (one a line) on stdin, prints mean and median ms.
stats() {
    sort -n | awk -v label="$1" '{ t[NR] = $1 * 1000; s += t[NR] }
        END { if (NR == 0) { print label ": no requests"; exit 1 }
              printf "%-22s %4d requests: mean %7.2f ms, median %7.2f ms per request\n",
                     label, NR, s / NR, t[int((NR + 1) / 2)] }'
}

# run_curl LABEL — REQUESTS signed Publishes with curl on one connection; the first
# transfer (connect + handshake) is left out of the figures.
run_curl() {
    : > "$TMP/urls.cfg"
    i=0
    while [ $i -lt "$REQUESTS" ]; do
        printf 'url = "%s/topics/bench?qos=0"\noutput = "/dev/null"\n' "$URL" >> "$TMP/urls.cfg"
        i=$((i + 1))
    done
    printf 'url = "%s/topics/bench?qos=0"\noutput = "/dev/null"\n' "$URL" >> "$TMP/urls.cfg"
    curl -s --cacert "$TMP/cert.pem" --aws-sigv4 "aws:amz:us-east-1:iotdata" \
         --user "$AKID:$SECRET" -d '{"n":1}' -K "$TMP/urls.cfg" \
         -w '%{http_code} %{num_connects} %{time_total}\n' > "$TMP/curl.out"
    bad=$(awk '$1 != 200' "$TMP/curl.out" | wc -l)
    conns=$(awk '{ c += $2 } END { print c }' "$TMP/curl.out")
    [ "$bad" -eq 0 ] || { echo "curl: $bad responses were not 200" >&2; exit 1; }
    [ "$conns" -eq 1 ] || echo "note: curl opened $conns connections"
    tail -n +2 "$TMP/curl.out" | awk '{ print $3 }' | stats "$1"
}

# run_iotlua LABEL — the same with the iotlua host (module client, one connection).
run_iotlua() {
    [ -x "$BUILD_DIR/iotlua" ] || { echo "$1: skipped (no $BUILD_DIR/iotlua)"; return; }
    cat > "$TMP/loop.lua" <<'LUA'
local iotlua = require("iotlua")
local url, ca, n = arg[1], arg[2], tonumber(arg[3])
local iot = assert(iotlua.client{endpoint = url, region = "us-east-1", ca_bundle = ca,
    max_connections = 1,
    credentials = {access_key_id = "AKIAIOSFODNN7EXAMPLE",
                   secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}})
assert(iot:publish{topic = "bench", qos = 0, payload = '{"n":1}'})   -- connect + handshake
local clock = io.popen and function()
  local f = io.popen("date +%s.%N"); local t = tonumber(f:read("l")); f:close(); return t
end
local t0 = clock()
for _ = 1, n do
  local r, err = iot:publish{topic = "bench", qos = 0, payload = '{"n":1}'}
  assert(r, err)
end
io.write(string.format("%.6f\n", (clock() - t0) / n))
LUA
    per=$("$BUILD_DIR/iotlua" "$TMP/loop.lua" "$URL" "$TMP/cert.pem" "$REQUESTS")
    # one figure (the mean over the loop), REQUESTS times, so stats prints it as both
    i=0
    while [ $i -lt "$REQUESTS" ]; do echo "$per"; i=$((i + 1)); done | stats "$1"
}

start tls --http-tls-cert "$TMP/cert.pem" --http-tls-key "$TMP/key.pem"
run_curl "https, curl"
run_iotlua "https, iotlua (mean)"
start plain
run_curl "http, curl"
run_iotlua "http, iotlua (mean)"
