# emulator.sh — sourced by the shell bench scripts here: starts emulators on ephemeral
# ports of 127.0.0.1 and stops them (and removes $TMP) when the script exits.
#   needs $EMU (the emulator binary) and $TMP (a scratch folder the script made)
#   start NAME ARGS...   starts one, waits for its ready file; sets $URL (its HTTP URL)
#                        and $EPID (its process id)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

start() {
    name=$1; shift
    "$EMU" --http-port 0 --mqtt-port 0 --ready-file "$TMP/$name.json" "$@" \
        2>"$TMP/$name.err" &
    EPID=$!
    PIDS="$PIDS $EPID"
    i=0
    while [ ! -s "$TMP/$name.json" ]; do
        i=$((i + 1))
        [ $i -lt 500 ] || { echo "emulator did not start:" >&2; cat "$TMP/$name.err" >&2; exit 1; }
        sleep 0.01
    done
    URL=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$TMP/$name.json")
}
