#!/usr/bin/env bash
# spec/tools/in_own_group_check.sh — checks in_own_group.sh: a command that exits 3 and
# leaves a process behind gives 3, and the process is stopped; a clean command gives 0.
set -u
here=$(dirname "$0")
pidfile=$(mktemp)
trap 'rm -f "$pidfile"' EXIT
"$here/in_own_group.sh" bash -c 'sleep 300 & echo $! > "$1"; exit 3' left "$pidfile" 2>/dev/null
rc=$?
[ "$rc" = 3 ] || { echo "FAIL: exit status $rc, not 3"; exit 1; }
left=$(cat "$pidfile")
state=$(awk '{print $3}' "/proc/$left/stat" 2>/dev/null)   # gone, or a zombie: stopped
if [ -n "$state" ] && [ "$state" != Z ]; then
  kill "$left"
  echo "FAIL: process $left left running"
  exit 1
fi
"$here/in_own_group.sh" true || { echo "FAIL: a clean command did not give 0"; exit 1; }
echo "ok: status kept, what was left stopped"
