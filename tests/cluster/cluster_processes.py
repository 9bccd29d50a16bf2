"""Starts `kvactor serve --node-port 0` nodes and a `kvactor route` router as separate
processes on loopback, for the cluster tests and bench/route_bench.py.

KVACTOR_BIN names the executable and KVACTOR_MODELS_DIR the model directory (ctest sets
both). Ports are ephemeral: each process logs the ones it bound and we read them back.
"""

import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN = os.environ.get("KVACTOR_BIN", os.path.join(REPO, "build", "kvactor"))
MODELS = os.environ.get("KVACTOR_MODELS_DIR", os.path.join(REPO, "..", "shared", "models"))
MODEL_ARGS = ["--model", os.path.join(MODELS, "stories260K.bin"), "--tokenizer", os.path.join(MODELS, "tok512.bin")]


def wait_for(predicate, timeout, what, interval=0.05):
    """Polls predicate() until it returns a true value (returned) or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class Process:
    """A kvactor process whose log we read for the addresses it bound."""

    def __init__(self, args, prefix, ns=None):
        self.log_file = tempfile.NamedTemporaryFile("w+", prefix=prefix, suffix=".log", delete=False)
        command = [BIN] + args
        if ns:
            command = ["ip", "netns", "exec", ns] + command
        self.proc = subprocess.Popen(command, cwd=REPO, stdout=self.log_file, stderr=subprocess.STDOUT)

    def log(self):
        with open(self.log_file.name) as f:
            return f.read()

    def wait_log(self, pattern, timeout=30):
        def found():
            if self.proc.poll() is not None:
                raise AssertionError("%s exited with %s:\n%s" % (self.proc.args, self.proc.returncode, self.log()))
            return re.search(pattern, self.log())
        return wait_for(found, timeout, "'%s' in %s" % (pattern, self.log_file.name))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)  # stop() still closes and removes the log

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log_file.close()
        if not os.environ.get("KVACTOR_KEEP_LOGS") and os.path.exists(self.log_file.name):
            os.unlink(self.log_file.name)  # a failure has already quoted it (wait_log) or set KVACTOR_KEEP_LOGS=1
        return self.proc.returncode


class Node(Process):
    def __init__(self, extra=(), node_port=0, host="127.0.0.1", ns=None):
        super().__init__(["serve", *MODEL_ARGS, "--host", host, "--port", "0", "--node-port", str(node_port), *extra],
                         "kvactor-node-", ns)
        self.url = "http://" + self.wait_log(r"on http://([0-9.]+:\d+)").group(1)
        self.node_address = self.wait_log(r"cluster node on ([0-9.]+:\d+)").group(1)


class Router(Process):
    def __init__(self, nodes, extra=(), expect_up=None, key=None):
        self.key = key  # Bearer key of an admin tenant when the router has --api-keys-file
        addresses = ",".join(n if isinstance(n, str) else n.node_address for n in nodes)
        super().__init__(["route", *MODEL_ARGS, "--host", "127.0.0.1", "--port", "0", "--nodes", addresses,
                          "--reconnect-ms", "100", *extra], "kvactor-router-")
        self.url = "http://" + self.wait_log(r"on http://([0-9.]+:\d+)").group(1)
        want = len(nodes) if expect_up is None else expect_up
        self.wait_nodes_up(want)

    def cluster(self):
        return get_json(self.url + "/v1/inspect/cluster", key=self.key)

    def wait_nodes_up(self, count, timeout=30):
        return wait_for(lambda: sum(n["state"] == "up" for n in self.cluster()["nodes"]) >= count, timeout,
                        "%d node(s) up" % count)


def get_json(url, timeout=30, key=None):
    headers = {"Authorization": "Bearer " + key} if key else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as r:
        return json.loads(r.read())


def post(url, body, timeout=60, key=None):
    """(status, parsed JSON body) of a POST; HTTP errors are answers, not exceptions."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def completion(base_url, prompt, max_tokens, timeout=60, **sampling):
    body = {"prompt": prompt, "max_tokens": max_tokens}
    body.update(sampling)
    return post(base_url + "/v1/completions", body, timeout)


def stream_completion(base_url, prompt, max_tokens, timeout=60, **sampling):
    """Text of an SSE /v1/completions stream and the error object it carried, if any."""
    body = {"prompt": prompt, "max_tokens": max_tokens, "stream": True}
    body.update(sampling)
    request = urllib.request.Request(base_url + "/v1/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    text, error = "", None
    with urllib.request.urlopen(request, timeout=timeout) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if "error" in event:
                error = event["error"]
            else:
                text += event["choices"][0]["text"]
    return text, error


def node_pages(node):
    return get_json(node.url + "/v1/inspect/cache?depth=0")
