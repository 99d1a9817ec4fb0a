#!/usr/bin/env python3
"""The HTTP ingest over HTTPS with client certificates (mutual TLS).

Generates a CA, a server certificate for 127.0.0.1, a client certificate
from that CA and one from another CA (openssl), then:
  - `cotflow config check` refuses a missing key, a wrong CA file and a
    client CA without a server certificate, listing each (exit 2);
  - `cotflow run` with ingest.tls_cert and ingest.tls_client_ca answers a
    client that presents its certificate (202, the records in Kafka, seen
    in the file sink), and refuses the handshake of a client without one,
    of one whose certificate another CA signed, and plain HTTP.
Needs COTFLOW_BIN; exit 77 (skipped) without openssl.
"""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import yaml

# tests/cotflow_child.py: what the Python tests share about a cotflow child.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from cotflow_child import free_port, stop  # noqa: E402

BIN = os.environ.get("COTFLOW_BIN", "build/cotflow")
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(d, name):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=" + name, "-keyout", key, "-out", crt)
    return key, crt


def make_cert(d, name, ca, san=None):
    key, csr = os.path.join(d, name + ".key"), os.path.join(d, name + ".csr")
    crt = os.path.join(d, name + ".crt")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name,
            "-keyout", key, "-out", csr)
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\n" % (san or "DNS:" + name))
    openssl("x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0],
            "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", crt)
    return key, crt


def write_config(d, settings):
    tree = {}
    for key, value in settings.items():
        section, name = key.split(".", 1)
        tree.setdefault(section, {})[name] = value
    path = os.path.join(d, "cotflow-%d.yaml" % free_port())
    with open(path, "w") as f:
        yaml.safe_dump(tree, f)
    return path


def env():
    return {k: v for k, v in os.environ.items() if not k.startswith("COTFLOW_")}


def post(port, context, body):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context,
                                       timeout=20)
    try:
        conn.request("POST", "/v1/detections", body,
                     {"Content-Type": "application/x-ndjson"})
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def client_context(ca, cert=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert[1], cert[0])
    return ctx


def main():
    if not shutil.which("openssl"):
        print("openssl is not installed: skipped")
        return 77
    d = tempfile.mkdtemp(prefix="cotflow-ingest-tls-")
    try:
        return run(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run(d):
    ca = make_ca(d, "ingest-ca")
    other_ca = make_ca(d, "other-ca")
    server = make_cert(d, "server", ca, "IP:127.0.0.1")
    client = make_cert(d, "sensor-gw", ca)
    stranger = make_cert(d, "stranger", other_ca)
    pem = os.path.join(d, "server.pem")
    with open(pem, "w") as out:
        for part in (server[1], server[0]):
            with open(part) as f:
                out.write(f.read())

    # config check lists every problem of the TLS settings.
    bad = write_config(d, {
        "kafka.brokers": "embedded", "ingest.address": "127.0.0.1:9",
        "ingest.tls_cert": server[1],  # the certificate without its key
        "ingest.tls_client_ca": server[0]})  # a key, not a CA
    r = subprocess.run([BIN, "config", "check", "--config", bad], env=env(),
                       capture_output=True, text=True)
    check(r.returncode == 2, "config check exits 2 on bad TLS files")
    check("ingest.tls_cert: no private key" in r.stderr,
          "config check names the missing key")
    check("ingest.tls_client_ca: no CA certificate" in r.stderr,
          "config check names the bad client CA file")
    lone = write_config(d, {"ingest.address": "127.0.0.1:9",
                            "ingest.tls_client_ca": ca[1]})
    r = subprocess.run([BIN, "config", "check", "--config", lone], env=env(),
                       capture_output=True, text=True)
    check(r.returncode == 2 and "needs ingest.tls_cert" in r.stderr,
          "a client CA without a server certificate is refused")

    port, ops = free_port(), free_port()
    sink = os.path.join(d, "out.cot")
    cfg = write_config(d, {
        "kafka.brokers": "embedded", "ingest.address": "127.0.0.1:%d" % port,
        "ingest.tls_cert": pem, "ingest.tls_client_ca": ca[1],
        "http.address": "127.0.0.1:%d" % ops, "sinks.file": sink})
    log = open(os.path.join(d, "run.log"), "w+")
    proc = subprocess.Popen([BIN, "run", "--config", cfg], env=env(),
                            stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), 1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    print(log.read())
                    check(False, "cotflow run listens with TLS")
                    return 1
                time.sleep(0.1)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = "".join(json.dumps({"id": "tls-%d" % i, "time": now,
                                   "lat": 1, "lon": 2}) + "\n"
                       for i in range(3))
        status, answer = post(port, client_context(ca[1], client), body)
        check(status == 202, "a client with its certificate gets 202 (%d %s)"
              % (status, answer[:200]))
        # A client that resumes its TLS session (curl, Java, Go do): each
        # request on a connection of its own, the second resumed.
        ctx = client_context(ca[1], client)
        session, answers, reused = None, [], []
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", port), 10) as raw:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1",
                                     session=session) as tls:
                    tls.sendall(("POST /v1/detections HTTP/1.1\r\n"
                                 "Host: x\r\nContent-Length: %d\r\n"
                                 "Connection: close\r\n\r\n%s"
                                 % (len(body), body)).encode())
                    reply = b""
                    while True:
                        chunk = tls.recv(65536)
                        if not chunk:
                            break
                        reply += chunk
                    answers.append(reply.split(b"\r\n", 1)[0].decode())
                    reused.append(tls.session_reused)
                    session = tls.session
        check(answers == ["HTTP/1.1 202 Accepted"] * 2 and reused[1],
              "a resumed TLS session is served (%s, resumed %s)"
              % (answers, reused))
        for name, ctx in (("no certificate", client_context(ca[1])),
                          ("a certificate of another CA",
                           client_context(ca[1], stranger))):
            try:
                status, _ = post(port, ctx, body)
                check(False, "a client with %s is refused (got %d)"
                      % (name, status))
            except (ssl.SSLError, ConnectionError, OSError):
                check(True, "a client with %s is refused" % name)
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            plain.request("POST", "/v1/detections", body)
            status = plain.getresponse().status
            check(False, "plain HTTP is refused (got %d)" % status)
        except (http.client.HTTPException, ConnectionError, OSError):
            check(True, "plain HTTP is refused")
        finally:
            plain.close()
        got = []
        while time.monotonic() < deadline:
            if os.path.exists(sink):
                with open(sink) as f:
                    got = [line for line in f.read().split("\n") if line]
            if len(got) >= 9:
                break
            time.sleep(0.1)
        check(len(got) >= 3 and all('uid="tls-%d"' % i in "".join(got)
                                    for i in range(3)),
              "the records reach the output (%d events)" % len(got))
    finally:
        stop(proc)
        log.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
