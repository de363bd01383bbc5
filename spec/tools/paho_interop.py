#!/usr/bin/python3
"""Runs Eclipse Paho's MQTT 5 interoperability suite (interoperability/client_test5.py of
a checkout of https://github.com/eclipse/paho.mqtt.testing) against iotlua-emulator and
against Debian's mosquitto, both on 127.0.0.1, and prints the results side by side.

    spec/tools/paho_interop.py PATH-TO-PAHO-CHECKOUT [--build-dir build] [-k NAME]

A manual check (not in ctest): the suite is not part of this project and is never
copied into it. The suite uses QoS 2 throughout, which AWS IoT refuses by design (a
subscription asking for it gets no SUBACK), so it is run with QoS 2 taken out: the
script copies the suite's folder to a temporary directory and rewrites the copy's
client_test5.py as it loads it (an ast pass) so that every QoS 2 becomes QoS 1 —
publishes (`for qos in range(3)` publishes at min(qos, 1)), subscription options,
wills (the suite's client defaults to will QoS 2), `qos = 2`, and the checks that a
QoS 2 message arrived. Nothing else in the suite changes. Both brokers run the
rewritten suite, so every difference left is the brokers'.

The emulator runs with its defaults (AWS IoT's limits: keep alive 30..1200 s and the
rest); mosquitto with `listener PORT 127.0.0.1`, anonymous clients allowed and no
persistence (its port is found by binding port 0 first, then given to mosquitto).
"""

import argparse
import ast
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
PER_TEST = 150                  # seconds a test may take (test_will_delay needs about 100)
# Tests that cannot run without QoS 2: test_flow_control2 expects a DISCONNECT 0x93 after
# sending one message more than the server's Receive Maximum without completing any; a
# server acknowledges QoS 1 at once, so only QoS 2 (PUBREC outstanding) can exceed it.
EXCLUDED = {"test_flow_control2"}


class NoQos2(ast.NodeTransformer):
    """QoS 2 becomes QoS 1 wherever the suite asks for or expects it."""

    @staticmethod
    def _two(node):
        return isinstance(node, ast.Constant) and node.value == 2

    @staticmethod
    def _qos_field(node):
        """callback.messages[i][2]: the QoS of a received message."""
        return isinstance(node, ast.Subscript) and NoQos2._two(node.slice)

    def visit_Call(self, node):
        self.generic_visit(node)
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        if name == "publish" and len(node.args) >= 3:
            if self._two(node.args[2]):
                node.args[2] = ast.Constant(1)              # publish(topic, payload, 2)
            elif isinstance(node.args[2], ast.Name):        # for qos in range(3): publish
                node.args[2] = ast.Call(ast.Name("min", ast.Load()),
                                        [node.args[2], ast.Constant(1)], [])
        if name == "SubscribeOptions" and node.args and self._two(node.args[0]):
            node.args[0] = ast.Constant(1)                  # maximum QoS 2
        if name == "connect" and any(k.arg == "willFlag" for k in node.keywords) and \
                not any(k.arg == "willQoS" for k in node.keywords):
            node.keywords.append(ast.keyword("willQoS", ast.Constant(1)))  # default 2
        if name == "assertEqual" and len(node.args) >= 2 and self._qos_field(node.args[0]) \
                and self._two(node.args[1]):
            node.args[1] = ast.Constant(1)                  # a message's QoS is 2
        for kw in node.keywords:
            if kw.arg in ("qos", "willQoS") and self._two(kw.value):
                kw.value = ast.Constant(1)
        return node

    def visit_Assign(self, node):
        self.generic_visit(node)
        if len(node.targets) == 1 and getattr(node.targets[0], "id", None) == "qos" \
                and self._two(node.value):
            node.value = ast.Constant(1)                    # qos = 2
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        if self._two(node.left) and isinstance(node.ops[0], ast.In):
            node.left = ast.Constant(1)                     # 2 in qoss
        if self._qos_field(node.left) and isinstance(node.ops[0], ast.Eq) and \
                self._two(node.comparators[0]):
            node.comparators[0] = ast.Constant(1)           # messages[i][2] == 2
        return node


RUNNER = r'''
import sys, unittest
sys.path.insert(0, sys.argv[1])
import client_test5 as t
t.host, t.port = "127.0.0.1", int(sys.argv[2])
t.topic_prefix = "client_test5/"
names = unittest.TestLoader().getTestCaseNames(t.Test)
if sys.argv[3] == "--list":
    print("\n".join(names))
    sys.exit(0)
suite = unittest.TestSuite([t.Test(sys.argv[3])])
runner = unittest.TextTestRunner(verbosity=2, stream=sys.stdout)
sys.exit(0 if runner.run(suite).wasSuccessful() else 1)
'''


def prepare_suite(checkout, workdir):
    src = os.path.join(checkout, "interoperability")
    if not os.path.isfile(os.path.join(src, "client_test5.py")):
        sys.exit(f"paho_interop: no interoperability/client_test5.py under {checkout}")
    dst = os.path.join(workdir, "interoperability")
    shutil.copytree(src, dst)
    path = os.path.join(dst, "client_test5.py")
    with open(path) as f:
        tree = ast.parse(f.read())
    tree = ast.fix_missing_locations(NoQos2().visit(tree))
    with open(path, "w") as f:
        f.write(ast.unparse(tree))
    with open(os.path.join(workdir, "run_suite.py"), "w") as f:
        f.write(RUNNER)
    return dst


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"paho_interop: {what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"paho_interop: {what} did not listen on {port}")


def start_emulator(build_dir, workdir, extra):
    ready = os.path.join(workdir, "ready.json")
    if os.path.exists(ready):
        os.unlink(ready)
    proc = subprocess.Popen([os.path.join(build_dir, "iotlua-emulator"), "--http-port", "0",
                             "--mqtt-port", "0", "--ready-file", ready, *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(ready):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit("paho_interop: the emulator did not start")
        time.sleep(0.05)
    with open(ready) as f:
        port = int(json.load(f)["mqtt"].rsplit(":", 1)[1])
    return proc, port


def start_mosquitto(binary, workdir):
    port = free_port()
    conf = os.path.join(workdir, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([binary, "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port, proc, "mosquitto")
    return proc, port


def suite_names(workdir, suite_dir, only):
    r = subprocess.run([sys.executable, os.path.join(workdir, "run_suite.py"), suite_dir, "0",
                        "--list"], cwd=suite_dir, capture_output=True, text=True, check=True)
    names = r.stdout.split()
    return [n for n in names if (not only or only in n) and n not in EXCLUDED]


def run_one(workdir, suite_dir, port, name, log):
    """One test in a process of its own (some of the suite's waits have no end): ok,
    FAIL, ERROR or TIMEOUT; its output is appended to log."""
    log.write(f"==== {name}\n")
    try:
        r = subprocess.run([sys.executable, "-u", os.path.join(workdir, "run_suite.py"),
                            suite_dir, str(port), name], cwd=suite_dir, capture_output=True,
                           text=True, timeout=PER_TEST)
    except subprocess.TimeoutExpired as e:
        log.write((e.stdout or b"").decode(errors="replace"))
        log.write(f"\n(still running after {PER_TEST} s: stopped)\n")
        return "TIMEOUT"
    log.write(r.stdout + r.stderr)
    log.flush()
    if r.returncode == 0:
        return "ok"
    return "ERROR" if "errors=" in r.stdout + r.stderr else "FAIL"


def run_suite(workdir, suite_dir, port, names, log_path):
    """Runs each test against port; the output goes to log_path as it comes."""
    with open(log_path, "w") as log:
        return {name: run_one(workdir, suite_dir, port, name, log) for name in names}


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkout", help="a checkout of eclipse/paho.mqtt.testing")
    ap.add_argument("--build-dir", default=os.path.join(SOURCE_DIR, "build"))
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    ap.add_argument("-k", dest="only", help="run only the tests whose name contains this")
    ap.add_argument("--logs", help="keep each broker's suite output in this directory")
    ap.add_argument("--emulator-arg", action="append", default=[], metavar="ARG",
                    help="one more argument for iotlua-emulator, e.g. "
                         "--emulator-arg=--keep-alive-range=1:1200 (repeatable)")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="paho-interop-")
    logs = args.logs or workdir
    os.makedirs(logs, exist_ok=True)
    results = {}
    try:
        suite_dir = prepare_suite(os.path.abspath(args.checkout), workdir)
        names = suite_names(workdir, suite_dir, args.only)
        for name, start in (("emulator", lambda: start_emulator(args.build_dir, workdir,
                                                            args.emulator_arg)),
                            ("mosquitto", lambda: start_mosquitto(args.mosquitto, workdir))):
            proc, port = start()
            try:
                results[name] = run_suite(workdir, suite_dir, port, names,
                                          os.path.join(logs, f"{name}.log"))
            finally:
                stop(proc)
    finally:
        if not args.logs:
            print(f"(suite output kept in {workdir}: emulator.log, mosquitto.log)")
    names = sorted(set(results["emulator"]) | set(results["mosquitto"]))
    print(f"{'test':34} {'emulator':10} mosquitto")
    for n in names:
        e, m = results["emulator"].get(n, "-"), results["mosquitto"].get(n, "-")
        print(f"{n:34} {e:10} {m}{'' if e == m else '   <- differs'}")
    for name in ("emulator", "mosquitto"):
        ok = sum(v == "ok" for v in results[name].values())
        print(f"{name}: {ok} of {len(results[name])} passed")
    print("not run (QoS 2 only): " + ", ".join(sorted(EXCLUDED)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
