#!/bin/sh
# http_publish.sh — throughput of the emulator's Publish over HTTP/1.1 keep-alive.
#
#   emulator/bench/http_publish.sh [BUILD_DIR]      (default: ./build)
#   env: CONNECTIONS (64), THREADS (1), DURATION (10s), PAYLOAD_BYTES (64),
#        TLS (0; 1: HTTPS with a throw-away self-signed P-256 certificate, keep-alive)
#
# Two runs of wrk against two emulators started here on ephemeral ports:
#   unsigned  --no-verify-signatures: the ceiling of evhttp + routing + broker_publish
#   signed    SigV4 verified on every request: wrk replays one request that botocore
#             (an independent signer) signed just before the run, so X-Amz-Date stays
#             inside the 5-minute skew window for runs shorter than that. The emulator
#             does all the work of a fresh signature each time (canonical request,
#             signing key, HMAC, body hash); only the client side is precomputed.
# Needs wrk and /usr/bin/python3 with botocore. Prints wrk's report for each run.
set -eu
BUILD_DIR=${1:-build}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
DURATION=${DURATION:-10s}
PAYLOAD_BYTES=${PAYLOAD_BYTES:-64}
EMU="$BUILD_DIR/iotlua-emulator"
[ -x "$EMU" ] || { echo "http_publish.sh: no $EMU (build it first)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "http_publish.sh: wrk is not installed" >&2; exit 1; }

TMP=$(mktemp -d)
. "$(dirname "$0")/emulator.sh"    # start NAME ARGS..., cleanup on exit

TLS_ARGS=""
if [ "${TLS:-0}" = 1 ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 1 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 2>/dev/null
    TLS_ARGS="--http-tls-cert $TMP/cert.pem --http-tls-key $TMP/key.pem"
fi

# cpu PID — the process's user+system CPU time so far, in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run_wrk — wrk against $URL with $EPID's CPU use measured around it: besides wrk's
# report, prints the emulator's CPU time per request and what one full core would serve
# (a figure that holds when other processes share the machine).
run_wrk() {
    c0=$(cpu "$EPID")
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$TMP/publish.lua" "$URL" | tee "$TMP/wrk.out"
    c1=$(cpu "$EPID")
    awk -v ticks="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" '
        / requests in / { n = $1 }
        END { if (n > 0 && ticks > 0) {
                us = ticks / hz * 1e6 / n
                printf "emulator CPU: %.1f s for %d requests = %.1f us/request = %.0f requests/s per core\n", ticks / hz, n, us, 1e6 / us } }' "$TMP/wrk.out"
}

cat > "$TMP/publish.lua" <<'LUA'
-- One fixed request, replayed on every connection (keep-alive).
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH")
wrk.body = os.getenv("BENCH_BODY")
local authz = os.getenv("BENCH_AUTHORIZATION")
if authz and authz ~= "" then
  wrk.headers["Authorization"] = authz
  wrk.headers["X-Amz-Date"] = os.getenv("BENCH_AMZ_DATE")
end
function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
    wrk.thread:stop()
  end
end
LUA

BODY=$(head -c "$PAYLOAD_BYTES" /dev/zero | tr '\0' 'x')
export BENCH_PATH="/topics/bench%2Fpublish?qos=0" BENCH_BODY="$BODY"

echo "== unsigned (--no-verify-signatures): $CONNECTIONS connections, $DURATION, $PAYLOAD_BYTES-byte payload"
# shellcheck disable=SC2086
start unsigned --no-verify-signatures $TLS_ARGS
BENCH_AUTHORIZATION="" run_wrk

echo "== signed (SigV4 verified): $CONNECTIONS connections, $DURATION, $PAYLOAD_BYTES-byte payload"
# shellcheck disable=SC2086
start signed $TLS_ARGS
eval "$(/usr/bin/python3 - "$URL$BENCH_PATH" "$BODY" <<'PY'
import sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, body = sys.argv[1], sys.argv[2].encode()
req = AWSRequest(method="POST", url=url, data=body)
SigV4Auth(Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
          "iotdata", "us-east-1").add_auth(req)
print("export BENCH_AUTHORIZATION='%s' BENCH_AMZ_DATE='%s'"
      % (req.headers["Authorization"], req.headers["X-Amz-Date"]))
PY
)"
run_wrk
