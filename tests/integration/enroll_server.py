#!/usr/bin/env python3
"""A TAK Server enrollment port for the tests, following the public API
shape TAK clients use:

  GET  /Marti/api/tls/config             what a certificate's subject holds
                                         (<nameEntry name= value=/>)
  POST /Marti/api/tls/signClient/v2?clientUid=ID&version=V
       body: the certificate request, base64 without PEM lines
       Accept: application/json -> {"signedCert": ..., "ca0": ...}

both with HTTP basic authentication. Usage:

  enroll_server.py DIR USER PASSWORD

makes a CA and a server certificate for 127.0.0.1 in DIR (ca.pem,
server.pem, server.key: the tests reuse them for a TLS receiver), listens
on 127.0.0.1 (a free port), prints "port N", and serves until killed. Each
certificate it signs is logged on stdout as "signed UID SUBJECT".
"""
import base64
import http.server
import json
import pathlib
import ssl
import subprocess
import sys
import urllib.parse

directory, user, password = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
directory.mkdir(parents=True, exist_ok=True)


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, check=True,
                          capture_output=True).stdout


ca_key, ca = directory / "ca.key", directory / "ca.pem"
openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=cotflow test TAK CA", "-keyout", str(ca_key),
        "-out", str(ca))
key, csr, cert = (directory / "server.key", directory / "server.csr",
                  directory / "server.pem")
openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", str(key), "-out", str(csr))
ext = directory / "server.ext"
ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey",
        str(ca_key), "-set_serial", "1", "-days", "2", "-extfile", str(ext),
        "-out", str(cert))
serial = [100]


def pem_body(pem):
    return "".join(l for l in pem.splitlines() if not l.startswith("-----"))


class Enrollment(http.server.BaseHTTPRequestHandler):
    def authorized(self):
        want = "Basic " + base64.b64encode(
            f"{user}:{password}".encode()).decode()
        if self.headers.get("Authorization") == want:
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="tak"')
        self.end_headers()
        return False

    def reply(self, body, content_type):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path != "/Marti/api/tls/config":
            return self.send_error(404)
        if self.authorized():
            self.reply('<?xml version="1.0" encoding="UTF-8"?>'
                       '<ns2:certificateConfig xmlns:ns2="com.bbn.marti.config">'
                       '<nameEntries><nameEntry name="O" value="TAK Test"/>'
                       '<nameEntry name="OU" value="cotflow &amp; friends"/>'
                       '</nameEntries></ns2:certificateConfig>',
                       "application/xml")

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/Marti/api/tls/signClient/v2":
            return self.send_error(404)
        if not self.authorized():
            return
        uid = urllib.parse.parse_qs(url.query).get("clientUid", [""])[0]
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        request = ("-----BEGIN CERTIFICATE REQUEST-----\n" + body.strip()
                   + "\n-----END CERTIFICATE REQUEST-----\n")
        serial[0] += 1
        signed = openssl("x509", "-req", "-CA", str(ca), "-CAkey",
                         str(ca_key), "-set_serial", str(serial[0]),
                         "-days", "2", data=request.encode())
        subject = openssl("x509", "-noout", "-subject",
                          data=signed).decode().strip()
        print(f"signed {uid} {subject}", flush=True)
        self.reply(json.dumps({"signedCert": pem_body(signed.decode()),
                               "ca0": pem_body(ca.read_text())}),
                   "application/json")

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Enrollment)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(str(cert), str(key))
server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"port {server.server_address[1]}", flush=True)
server.serve_forever()
