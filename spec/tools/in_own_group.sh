#!/usr/bin/env bash
# spec/tools/in_own_group.sh CMD [ARGS...] — runs one test command in a process group of
# its own and, once it has ended (passed, failed or crashed), stops whatever it left
# running in that group. A spec whose process dies before its clean-up (an ASan abort,
# a crash) would otherwise leave the emulators and helper servers it started running
# after the test. Exits with the command's status and says on stderr when it had to stop
# something.
set -m                          # job control: the command's job gets a group of its own
"$@" &
group=$!
wait "$group"
rc=$?

# 0 when a process of the group is still running (zombies not yet reaped do not count)
group_alive() {
  local stat line fields
  for stat in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null < "$stat" || continue
    read -r -a fields <<< "${line##*) }"      # after the command name: state ppid pgrp
    [ "${fields[0]}" != Z ] && [ "${fields[2]}" = "$group" ] && return 0
  done
  return 1
}

if group_alive; then
  echo "in_own_group: the test left processes running in its group; stopping them" >&2
  kill -TERM -- "-$group" 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do group_alive || break; sleep 0.2; done
  kill -KILL -- "-$group" 2>/dev/null
fi
exit "$rc"
