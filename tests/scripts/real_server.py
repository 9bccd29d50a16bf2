"""Starts the real `kvactor serve` on the bundled model at an unused loopback port, for tests.

KVACTOR_BIN names the executable and KVACTOR_MODELS_DIR the model directory (ctest sets
both). The server runs from the repository root so it finds console/.
"""

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN = os.environ.get("KVACTOR_BIN", os.path.join(REPO, "build", "kvactor"))
MODELS = os.environ.get("KVACTOR_MODELS_DIR", os.path.join(REPO, "..", "shared", "models"))


def unused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_available():
    """(True, "") if the binary has a serve command, else (False, why)."""
    if not os.access(BIN, os.X_OK):
        return False, "no kvactor executable at " + BIN
    listing = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=30).stdout
    if not any(line.split()[:1] == ["serve"] for line in listing.splitlines()):
        return False, "this kvactor has no serve command yet"
    return True, ""


class RealServer:
    def __init__(self, log_path, extra_args=()):
        self.port = unused_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--model", os.path.join(MODELS, "stories260K.bin"),
             "--tokenizer", os.path.join(MODELS, "tok512.bin"), "--host", "127.0.0.1",
             "--port", str(self.port), *extra_args],
            cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.close()
                raise RuntimeError("kvactor serve exited with %s (log: %s)" % (self.proc.returncode, log_path))
            try:
                urllib.request.urlopen(self.url + "/health", timeout=2).read()
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.close()
        raise RuntimeError("kvactor serve not healthy after 30 s (log: %s)" % log_path)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
