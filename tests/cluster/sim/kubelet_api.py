"""The kubelets' HTTPS API as the API server reaches it: pods/log.

The API server serves pods/log by proxying GET /containerLogs/<namespace>/<pod>/<container>
to the kubelet of the pod's node, at the node's address and kubelet port
(k8s.io/kubernetes v1.34 pkg/registry/core/pod/strategy.go LogLocation,
pkg/kubelet/client/kubelet_client.go). The simulated nodes' addresses exist
only in the API, so the local cluster's kube-apiserver dials them through its
egress selector (--egress-selector-config-file, egress "cluster", HTTP
CONNECT over a unix socket: k8s.io/apiserver v0.34
pkg/server/egressselector/egress_selector.go), as a control plane behind
konnectivity does. This module is the other end of that socket: a CONNECT to
a simulated node's kubelet port is answered by that node's kubelet over TLS;
a CONNECT elsewhere is tunnelled as a konnectivity agent would.

What the kubelet answers follows k8s.io/kubernetes v1.34 pkg/kubelet/server/server.go
getContainerLogs and pkg/kubelet/kubelet_pods.go validateContainerLogStatus.
Deviations (see README.md): the API server presents no client certificate (the
local cluster runs without --kubelet-client-certificate), so the kubelet
checks no caller: only the cluster directory's owner can reach the socket;
`follow` returns what the container printed and ends instead of waiting for
more.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import logging
import os
import select
import socket
import socketserver
import ssl
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from . import workload
from .kube import parse_time

if TYPE_CHECKING:
    from .simulator import Simulator

log = logging.getLogger("sim.kubelet_api")

MAX_HEAD = 16384


def _serving_context() -> ssl.SSLContext:
    """A TLS server context with a self-signed kubelet serving certificate (the API server does not check it:
    without --kubelet-certificate-authority its kubelet transport skips verification, kubelet_client.go)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubelet")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365)).sign(key, hashes.SHA256()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as d:
        crt, pem = Path(d) / "kubelet.crt", Path(d) / "kubelet.key"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        os.chmod(pem, 0o600)
        ctx.load_cert_chain(crt, pem)
    return ctx


class _Egress(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    sim: Simulator
    tls: ssl.SSLContext


class _Connect(socketserver.BaseRequestHandler):
    """One CONNECT from the API server's egress dialer."""

    server: _Egress

    def handle(self) -> None:
        sock: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk or len(head) > MAX_HEAD:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        if len(parts) != 3 or parts[0] != "CONNECT":
            sock.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _colon, port = parts[1].rpartition(":")
        host = host.strip("[]")
        node = self.server.sim.kubelet.node_at(host, int(port)) if port.isdigit() else None
        if node is not None:
            sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            try:
                tls = self.server.tls.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log.debug("TLS with the API server failed: %s", e)
                return
            with tls:
                _Kubelet(tls, ("kube-apiserver", 0), self.server, node=node)
            return
        self._tunnel(sock, host, port)

    @staticmethod
    def _tunnel(sock: socket.socket, host: str, port: str) -> None:
        """Anything else the cluster network would reach (a webhook on loopback)."""
        try:
            upstream = socket.create_connection((host, int(port)), timeout=5)
        except (OSError, ValueError) as e:
            sock.sendall(f"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nX-Reason: {e}\r\n\r\n"
                         .encode("latin-1", "replace"))
            return
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with upstream:
            upstream.settimeout(None)
            peers = {sock: upstream, upstream: sock}
            while True:
                ready = select.select(list(peers), [], [], 300)[0]
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)


class _Kubelet(http.server.BaseHTTPRequestHandler):
    """The kubelet of one node, on a TLS connection from the API server."""

    protocol_version = "HTTP/1.1"  # the API server's transport keeps connections open
    server_version = "kubelet"
    timeout = 300  # an idle kept-alive connection ends

    def __init__(self, request, client_address, server, *, node: dict) -> None:
        self.node = node
        super().__init__(request, client_address, server)

    def log_message(self, format: str, *args) -> None:
        log.debug("%s: " + format, self.node["metadata"]["name"], *args)

    def _reply(self, code: int, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.split("/")
        if len(parts) != 5 or parts[1] != "containerLogs":
            self._reply(404, "404 page not found\n")  # exec, attach, port-forward, stats: not simulated
            return
        namespace, name, container = parts[2:]
        code, text = container_logs(self.server.sim, self.node, namespace, name, container,  # type: ignore[attr-defined]
                                    urllib.parse.parse_qs(url.query))
        self._reply(code, text)


def _container_state(pod: dict, container: str) -> dict | None:
    st = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in st.get(key) or []:
            if cs.get("name") == container:
                return cs.get("state") or {}
    return None


def _first(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def container_logs(sim: Simulator, node: dict, namespace: str, name: str, container: str,
                   query: dict[str, list[str]]) -> tuple[int, str]:
    """(HTTP status, body) of GET /containerLogs/namespace/name/container on this node's kubelet; errors as
    go-restful's WriteError writes them (the error's text, no newline)."""
    pod = sim.pods.get(f"{namespace}/{name}")
    if pod is None or (pod.get("spec") or {}).get("nodeName") != node["metadata"]["name"]:
        return 404, f'pod "{name}" does not exist'
    spec = pod.get("spec") or {}
    specs = [c for key in ("containers", "initContainers", "ephemeralContainers") for c in spec.get(key) or []]
    cspec = next((c for c in specs if c.get("name") == container), None)
    if cspec is None:
        return 404, f'container "{container}" not found in pod "{name}"'
    now = _container_state(pod, container)
    if now is None:
        return 400, f'container "{container}" in pod "{name}" is not available'
    if _first(query, "previous") in ("true", "1"):
        return 400, f'previous terminated container "{container}" in pod "{name}" not found'
    if "running" not in now and "terminated" not in now:
        reason = (now.get("waiting") or {}).get("reason")
        if reason:
            return 400, f'container "{container}" in pod "{name}" is waiting to start: {reason}'
        return 400, f'container "{container}" in pod "{name}" is waiting to start - no logs yet'
    started = (now.get("running") or now.get("terminated") or {}).get("startedAt") or ""
    text = workload.container_output(cspec, sim.kubelet.kernel_of(pod, node))
    return 200, _select(text, started, query)


def _select(text: str, started: str, query: dict[str, list[str]]) -> str:
    """PodLogOptions on the log: every line was written when the container started."""
    lines = text.splitlines(keepends=True)
    since_seconds, since_time = _first(query, "sinceSeconds"), _first(query, "sinceTime")
    written = parse_time(started)
    if written is not None and (since_seconds or since_time):
        since = (time.time() - float(since_seconds)) if since_seconds else (parse_time(since_time) or 0.0)
        if written < since:
            lines = []
    tail = _first(query, "tailLines")
    if tail is not None and tail.lstrip("-").isdigit() and int(tail) >= 0:
        lines = lines[len(lines) - int(tail):] if int(tail) else []
    if _first(query, "timestamps") in ("true", "1"):
        stamp = started.replace("Z", ".000000000Z") if started.endswith("Z") and "." not in started else started
        lines = [f"{stamp} {line}" for line in lines]
    out = "".join(lines)
    limit = _first(query, "limitBytes")
    if limit is not None and limit.isdigit():
        out = out.encode()[: int(limit)].decode(errors="ignore")
    return out


class EgressServer:
    """The unix socket the API server's egress selector dials (see the module's docstring)."""

    def __init__(self, sim: Simulator, path: str) -> None:
        self.sim = sim
        self.path = path
        self._server: _Egress | None = None

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # left by a simulator that was killed
        server = _Egress(self.path, _Connect)
        os.chmod(self.path, 0o600)
        server.sim = self.sim
        server.tls = _serving_context()
        self._server = server
        threading.Thread(target=server.serve_forever, name="kubelet-api", daemon=True).start()
        log.info("kubelet API behind the egress socket %s", self.path)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
