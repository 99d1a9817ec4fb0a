"""What the Python tests share about a `cotflow` child process: a free port
for it to listen on, and stopping it as an operator would (SIGTERM, then
the drain's grace period, then SIGKILL). Imported by
tests/conformance/conformance.py and tests/integration/ingest_tls.py."""

import signal
import socket
import subprocess


def free_port():
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc, timeout=30):
    """Stops `proc` (a subprocess.Popen of cotflow): SIGTERM drains it;
    past `timeout` seconds it is killed. Returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
