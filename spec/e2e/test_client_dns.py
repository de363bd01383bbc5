"""The native HTTP transport's host-name wait against a resolver that is slow or does not
answer: a getaddrinfo that takes seconds (an LD_PRELOAD shim built here, standing in for
a name server that does not reply) must not hold a call past its connect timeout, and
calls queued behind it for other hosts go on while it waits. The shim delays only names under
.slow.test; everything else goes to the real getaddrinfo."""
import json
import os
import subprocess

import pytest

from conftest import BUILD_DIR, Emulator

HOST = os.environ.get("IOTLUA_HOST", os.path.join(BUILD_DIR, "iotlua"))

# never.slow.test: 5 s, then "not known"; soon.slow.test: 0.3 s, then 127.0.0.1
SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <string.h>
#include <time.h>

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
                      struct addrinfo **);

static void pause_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    gai_fn real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    if (node && strcmp(node, "never.slow.test") == 0) {
        pause_ms(5000);
        return EAI_NONAME;
    }
    if (node && strcmp(node, "soon.slow.test") == 0) {
        pause_ms(300);
        return real("127.0.0.1", service, hints, res);
    }
    return real(node, service, hints, res);
}
"""

SCRIPT = r"""
local iotlua = require("iotlua")
local core = require("iotlua.core")
local cjson = require("cjson")
local port, connect_timeout, attempts = arg[1], tonumber(arg[2]), tonumber(arg[3])
local function client(host)
  return assert(iotlua.client{
    endpoint = "http://" .. host .. ":" .. port, region = "us-east-1",
    connect_timeout = connect_timeout, max_attempts = attempts,
    credentials = { access_key_id = "AKIAIOSFODNN7EXAMPLE",
                    secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" } })
end
-- a payload read from a file goes through libcurl (the native transport takes bodies in
-- memory only): "127.0.0.1 file" is such a call, queued behind the others
local payload_path = os.tmpname()
local f = assert(io.open(payload_path, "wb")); f:write("from a file"); f:close()
local calls = { "never.slow.test", "127.0.0.1", "soon.slow.test", "127.0.0.1 file" }
local out = {}
local t0 = core.now()
iotlua.map(calls, function(call)
  local host, from_file = call:match("^(%S+)( file)$")
  host = host or call
  local payload = from_file and assert(io.open(payload_path, "rb")) or "x"
  local r, err = client(host):publish{ topic = "dns/t", payload = payload }
  out[call] = r and { ok = true } or { ok = false, code = err.code, message = err.message,
                                       attempts = err.attempts }
  out[call].ms = math.floor((core.now() - t0) * 1000)
end, { concurrency = #calls })
os.remove(payload_path)
out.transports = core.http_stats()
print(cjson.encode(out))
"""


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    d = tmp_path_factory.mktemp("dns-shim")
    src, lib = d / "slow_resolver.c", d / "slow_resolver.so"
    src.write_text(SHIM)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src), "-ldl"], check=True)
    return str(lib)


@pytest.fixture(scope="module")
def emulator():
    emu = Emulator()
    yield emu
    emu.stop()


def run(shim, emulator, tmp_path, connect_timeout, attempts):
    script = tmp_path / "dns.lua"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_EC2_METADATA_DISABLED="true", LD_PRELOAD=shim,
               # under ASan the shim comes before its runtime in the library list
               ASAN_OPTIONS=":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                   "verify_asan_link_order=0"])))
    p = subprocess.run([HOST, str(script), str(emulator.http_port), str(connect_timeout),
                        str(attempts)], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("attempts", [1, 2])
def test_a_resolver_that_does_not_answer_is_bounded_by_the_connect_timeout(
        shim, emulator, tmp_path, attempts):
    out = run(shim, emulator, tmp_path, 0.5, attempts)
    never = out["never.slow.test"]
    assert (never["ok"], never["code"], never["attempts"]) == (False, "TimeoutError", attempts)
    assert "still waiting for its host name to resolve" in never["message"], never
    # each attempt gave up at its connect timeout, not at the resolver's 5 s
    assert never["ms"] < 4000, never
    # the calls queued behind it went on: an IP address, a name that resolves in time
    assert out["127.0.0.1"]["ok"] and out["soon.slow.test"]["ok"], out


def test_a_slow_answer_within_the_connect_timeout_is_used(shim, emulator, tmp_path):
    out = run(shim, emulator, tmp_path, 3, 1)
    assert out["soon.slow.test"]["ok"], out
    assert out["never.slow.test"]["code"] == "TimeoutError"


def test_calls_for_other_hosts_do_not_wait_behind_a_slow_name(shim, emulator, tmp_path):
    # never.slow.test is first in the queue and waits its whole connect timeout (3 s);
    # the IP address, the name that resolves in 0.3 s and a call libcurl carries are
    # queued behind it and finish long before it (before they were held until it timed
    # out, at ~3 s)
    out = run(shim, emulator, tmp_path, 3, 1)
    never = out["never.slow.test"]
    assert never["code"] == "TimeoutError" and never["ms"] >= 2900, never
    for call in ("127.0.0.1", "soon.slow.test", "127.0.0.1 file"):
        assert out[call]["ok"] and out[call]["ms"] < 1500, (call, out)
    # the file's call went through libcurl, the two others on the native transport
    assert (out["transports"]["libcurl"], out["transports"]["native"]) == (1, 2), out
    assert [m["payloadText"] for m in emulator.published("dns/t")[-3:]].count("from a file") == 1
