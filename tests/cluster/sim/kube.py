"""Thin I/O on the official kubernetes client: JSON requests, informers, a work queue, events.

Objects are plain dicts (the JSON the API server sends): the simulator does
not need typed models, and decoding 100 nodes into them on every change would
cost more CPU than the whole simulation.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import queue
import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.watch.watch import iter_resp_lines

log = logging.getLogger(__name__)

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s: str | None) -> float | None:
    if not s:
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class ApiError(Exception):
    def __init__(self, status: int, body: Any, method: str = "", path: str = "") -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        self.reason = self.body.get("reason", "")
        self.message = self.body.get("message") or (body if isinstance(body, str) else "")
        super().__init__(f"{method} {path}: {status} {self.reason}: {self.message}")

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"


def abort_connection(conn: Any) -> None:
    """Closes a client connection with a reset (SO_LINGER 0).

    When the API server goes away it closes our keep-alive connections first;
    a normal close from our side would then leave its end in TIME_WAIT and
    keep its port taken for a minute, so a restart on the same port fails.
    A reset frees it at once.
    """
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            # wakes a thread blocked reading it (it holds the response's buffer lock)
            socket.socket.shutdown(sock, socket.SHUT_RD)  # sends nothing; the close resets
    with contextlib.suppress(Exception):
        conn.close()


class ConnectionReaper:
    """Resets every idle pooled connection as soon as the server closes it (see abort_connection)."""

    def __init__(self, pool_manager: Any) -> None:
        self.pm = pool_manager
        self._stop = threading.Event()

    def start(self) -> ConnectionReaper:
        threading.Thread(target=self._run, name="connection-reaper", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _idle(self) -> list[tuple[Any, Any]]:
        out = []
        for key in list(self.pm.pools.keys()):
            try:
                pool = self.pm.pools[key]
            except KeyError:
                continue
            q = getattr(pool, "pool", None)
            if q is None:
                continue
            with q.mutex:
                conns = [c for c in q.queue if c is not None and getattr(c, "sock", None) is not None]
            out += [(q, c) for c in conns]
        return out

    def close_all(self) -> None:
        for q, c in self._idle():
            self._take(q, c)

    @staticmethod
    def _take(q: Any, conn: Any) -> None:
        with q.mutex:
            for i, c in enumerate(q.queue):
                if c is conn:
                    q.queue[i] = None  # the slot stays, a new connection will be made
                    break
            else:
                return  # a worker took it meanwhile: not ours to close
        abort_connection(conn)

    def _run(self) -> None:
        while not self._stop.is_set():
            idle = self._idle()
            if not idle:
                self._stop.wait(0.05)
                continue
            by_fd = {}
            for q, c in idle:
                with contextlib.suppress(Exception):
                    by_fd[c.sock.fileno()] = (q, c)
            try:
                readable = select.select(list(by_fd), [], [], 0.05)[0]
            except (OSError, ValueError):
                continue
            for fd in readable:
                # An idle HTTP/1.1 connection that turns readable is being closed by the server.
                self._take(*by_fd[fd])


class Kube:
    """JSON requests through an ApiClient (auth, TLS and proxies as configured)."""

    def __init__(self, api_client: client.ApiClient, user_agent: str | None = None) -> None:
        self.api = api_client
        if user_agent:
            self.api.user_agent = user_agent
        self.reaper: ConnectionReaper | None = None

    def start_reaper(self) -> None:
        if self.reaper is None:
            self.reaper = ConnectionReaper(self.api.rest_client.pool_manager).start()

    def close(self) -> None:
        """Resets the idle connections (the server's port is free at once)."""
        if self.reaper is not None:
            self.reaper.stop()
        ConnectionReaper(self.api.rest_client.pool_manager).close_all()

    @classmethod
    def from_kubeconfig(cls, path: str, pool_size: int = 48, user_agent: str | None = None) -> Kube:
        cfg = client.Configuration()
        config.load_kube_config(config_file=path, client_configuration=cfg)
        cfg.connection_pool_maxsize = pool_size  # watches hold connections for their lifetime
        return cls(client.ApiClient(cfg), user_agent)

    def _prepare(self, method: str, path: str, query: dict | None, body: Any, content_type: str | None):
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        q = [(k, v) for k, v in (query or {}).items() if v is not None]
        method_, url, headers, body_, _post_params = self.api.param_serialize(
            method, path, query_params=q, header_params=headers, body=body, auth_settings=["BearerToken"])
        return method_, url, headers, body_

    def request(self, method: str, path: str, *, query: dict | None = None, body: Any = None,
                content_type: str | None = None, timeout: float = 30.0) -> Any:
        m, url, headers, b = self._prepare(method, path, query, body, content_type)
        resp = self.api.rest_client.request(m, url, headers=headers, body=b, _request_timeout=timeout)
        data = resp.read()
        text = data.decode("utf-8", errors="replace") if data else ""
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        if resp.status >= 400:
            raise ApiError(resp.status, parsed, method, path)
        return parsed

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query or None)

    def create(self, path: str, body: dict) -> Any:
        return self.request("POST", path, body=body, query={"fieldManager": "machine-config-simulator"})

    def merge_patch(self, path: str, body: dict) -> Any:
        return self.request("PATCH", path, body=body, content_type=MERGE)

    def strategic_patch(self, path: str, body: dict) -> Any:
        return self.request("PATCH", path, body=body, content_type=STRATEGIC)

    def delete(self, path: str, body: dict | None = None) -> Any:
        return self.request("DELETE", path, body=body)

    def stream(self, path: str, query: dict, read_timeout: float):
        m, url, headers, _body = self._prepare("GET", path, query, None, None)
        resp = self.api.rest_client.request(m, url, headers=headers, _request_timeout=(10, read_timeout))
        if resp.status >= 400:
            data = resp.read()
            try:
                body = json.loads(data)
            except ValueError:
                body = data.decode(errors="replace")
            raise ApiError(resp.status, body, "WATCH", path)
        return resp.response


# -- paths ---------------------------------------------------------------------------

MCO = "/apis/machineconfiguration.openshift.io/v1"


def node_path(name: str = "") -> str:
    return "/api/v1/nodes" + (f"/{name}" if name else "")


def pod_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/pods" + (f"/{name}" if name else "")


def mc_path(name: str = "") -> str:
    return f"{MCO}/machineconfigs" + (f"/{name}" if name else "")


def mcp_path(name: str = "") -> str:
    return f"{MCO}/machineconfigpools" + (f"/{name}" if name else "")


def cm_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def obj_key(obj: dict) -> str:
    md = obj["metadata"]
    return f"{md['namespace']}/{md['name']}" if md.get("namespace") else md["name"]


def rv_int(obj: dict | None) -> int:
    try:
        return int((obj or {}).get("metadata", {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


# -- informers -----------------------------------------------------------------------

Handler = Callable[[dict | None, dict | None], None]


class Informer:
    """List, then watch; a cache of the objects and a handler called on every change.

    Writes the simulator makes go into the cache at once (`apply`) so its next
    decision never works on an object older than its own last write; the watch
    event that follows is then ignored (same or older resourceVersion). A deletion
    leaves a tombstone with its resourceVersion, so that a write response that
    arrives after the DELETED event (the worker thread is slower than the watch
    thread on a busy machine) cannot bring the object back into the cache.
    """

    def __init__(self, kube: Kube, path: str, handler: Handler, *, name: str,
                 field_selector: str | None = None) -> None:
        self.kube = kube
        self.path = path
        self.handler = handler
        self.name = name
        self.field_selector = field_selector
        self.store: dict[str, dict] = {}
        self.tombstones: dict[str, int] = {}  # key -> resourceVersion of its deletion
        self.lock = threading.RLock()
        self.synced = threading.Event()
        self._stop = threading.Event()
        self._resp: Any = None  # the watch in progress, ended at once by stop()

    # cache access
    def get(self, key: str) -> dict | None:
        with self.lock:
            return self.store.get(key)

    def items(self) -> list[dict]:
        with self.lock:
            return list(self.store.values())

    def apply(self, obj: dict | None) -> None:
        """Feeds an object we got from a write; newer than the cache wins."""
        if not obj or "metadata" not in obj:
            return
        key = obj_key(obj)
        rv = rv_int(obj)
        with self.lock:
            old = self.store.get(key)
            if old is not None and rv_int(old) >= rv:
                return
            if self.tombstones.get(key, -1) >= rv:
                return  # deleted after this version was written
            self.tombstones.pop(key, None)
            self.store[key] = obj
        self._call(old, obj)

    def forget(self, key: str, deleted: dict | int | None = None) -> None:
        """Drops an object; `deleted` (the DELETED event's object, or the resourceVersion of
        the list that no longer has it) leaves a tombstone that older writes cannot pass."""
        with self.lock:
            old = self.store.pop(key, None)
            if deleted is not None:
                rv = deleted if isinstance(deleted, int) else rv_int(deleted)
                self.tombstones[key] = max(rv, self.tombstones.get(key, -1))
        if old is not None:
            self._call(old, None)

    def _call(self, old: dict | None, new: dict | None) -> None:
        try:
            self.handler(old, new)
        except Exception:
            log.exception("%s handler failed", self.name)

    def _replace(self, items: list[dict], rv: str) -> None:
        fresh = {obj_key(o): o for o in items}
        with self.lock:
            gone = [k for k in self.store if k not in fresh]
        for k in gone:
            self.forget(k, rv_int({"metadata": {"resourceVersion": rv}}))
        for o in items:
            self.apply(o)

    def start(self) -> threading.Thread:
        t = threading.Thread(target=self._run, name=f"informer-{self.name}", daemon=True)
        t.start()
        return t

    def stop(self) -> None:
        self._stop.set()
        resp = self._resp
        if resp is not None:
            abort_response(resp)

    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                q = {"fieldSelector": self.field_selector} if self.field_selector else {}
                lst = self.kube.get(self.path, **q)
                rv = lst["metadata"]["resourceVersion"]
                for item in lst.get("items") or []:
                    item.setdefault("apiVersion", lst.get("apiVersion", ""))
                    item.setdefault("kind", lst.get("kind", "").removesuffix("List"))
                self._replace(lst.get("items") or [], rv)
                self.synced.set()
                backoff = 0.2
                self._watch(rv)
            except Exception as e:  # the API server restarts in some tests
                if self._stop.is_set():
                    return
                log.debug("%s: %s; relisting in %.1fs", self.name, e, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _watch(self, rv: str) -> None:
        while not self._stop.is_set():
            q = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true", "timeoutSeconds": "240"}
            if self.field_selector:
                q["fieldSelector"] = self.field_selector
            resp = self._resp = self.kube.stream(self.path, q, read_timeout=300)
            try:
                for line in iter_resp_lines(resp):
                    if self._stop.is_set():
                        return
                    if not line:
                        continue
                    ev = json.loads(line)
                    typ, obj = ev.get("type"), ev.get("object") or {}
                    if typ == "ERROR":
                        if obj.get("code") == 410:
                            return  # too old: relist
                        raise ApiError(obj.get("code", 500), obj, "WATCH", self.path)
                    new_rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if new_rv:
                        rv = new_rv
                    if typ == "BOOKMARK":
                        continue
                    if typ == "DELETED":
                        self.forget(obj_key(obj), obj)
                    else:
                        self.apply(obj)
            finally:
                abort_response(resp)


def abort_response(resp: Any) -> None:
    """Ends a streamed response by resetting its connection (see abort_connection)."""
    conn = getattr(resp, "connection", None)
    if conn is not None:
        abort_connection(conn)
    with contextlib.suppress(Exception):
        resp.release_conn()


# -- work queue ----------------------------------------------------------------------

class WorkQueue:
    """client-go's rate-limited delaying queue: a key is never processed by two workers
    at once, adds while it is waiting are merged, AddAfter keeps the earliest time."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._timers: list[tuple[float, int, Hashable]] = []
        self._waiting: dict[Hashable, float] = {}
        self._seq = itertools.count()
        self._failures: dict[Hashable, int] = {}
        self._shutdown = False

    def add(self, key: Hashable) -> None:
        with self._cond:
            self._add(key)

    def _add(self, key: Hashable) -> None:
        self._waiting.pop(key, None)
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._cond.notify()

    def add_after(self, key: Hashable, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        at = time.monotonic() + delay
        with self._cond:
            cur = self._waiting.get(key)
            if cur is not None and cur <= at:
                return
            self._waiting[key] = at
            heapq.heappush(self._timers, (at, next(self._seq), key))
            self._cond.notify()

    def add_rate_limited(self, key: Hashable, base: float = 0.005, cap: float = 30.0) -> None:
        with self._cond:
            n = self._failures.get(key, 0)
            self._failures[key] = n + 1
        self.add_after(key, min(cap, base * (2 ** n)))

    def forget(self, key: Hashable) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def _fire_timers(self) -> float | None:
        now = time.monotonic()
        while self._timers:
            at, _seq, key = self._timers[0]
            if self._waiting.get(key) != at:
                heapq.heappop(self._timers)  # superseded by an earlier time, or added meanwhile
                continue
            if at > now:
                return at - now
            heapq.heappop(self._timers)
            self._add(key)
        return None

    def get(self) -> Hashable | None:
        with self._cond:
            while True:
                if self._shutdown:
                    return None
                wait = self._fire_timers()
                if self._queue:
                    key = self._queue.popleft()
                    self._dirty.discard(key)
                    self._processing.add(key)
                    return key
                self._cond.wait(timeout=wait if wait is not None else 1.0)

    def done(self, key: Hashable) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._cond.notify()

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)


# -- events --------------------------------------------------------------------------

class Events:
    """A small event recorder: core/v1 Events, repeats folded into a count, written
    from a background thread so a controller never waits on them."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._q: queue.Queue = queue.Queue(maxsize=10000)
        self._seen: dict[tuple, tuple[str, str, int]] = {}
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def emit(self, involved: dict, etype: str, reason: str, message: str, component: str,
             host: str | None = None, namespace: str | None = None) -> None:
        with contextlib.suppress(queue.Full):
            self._q.put_nowait((involved, etype, reason, message, component, host, namespace))

    def _run(self) -> None:
        while True:
            item = self._q.get()
            try:
                self._write(*item)
            except Exception as e:
                log.debug("event not written: %s", e)

    def _write(self, involved: dict, etype: str, reason: str, message: str, component: str,
               host: str | None, namespace: str | None) -> None:
        ns = namespace or involved.get("namespace") or "default"
        key = (involved.get("uid"), involved.get("name"), etype, reason, message)
        now = now_micro()
        seen = self._seen.get(key)
        if seen is not None:
            ename, ens, count = seen
            try:
                self.kube.merge_patch(f"/api/v1/namespaces/{ens}/events/{ename}",
                                      {"count": count + 1, "lastTimestamp": now[:19] + "Z"})
                self._seen[key] = (ename, ens, count + 1)
                return
            except ApiError as e:
                if not e.not_found:
                    raise
        ename = f"{involved.get('name', 'x')}.{time.time_ns():x}"
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": ename, "namespace": ns},
            "involvedObject": {k: v for k, v in involved.items() if v},
            "type": etype, "reason": reason, "message": message,
            "source": {"component": component, **({"host": host} if host else {})},
            "reportingComponent": component, "reportingInstance": host or "",
            "firstTimestamp": now[:19] + "Z", "lastTimestamp": now[:19] + "Z", "count": 1,
        }
        self.kube.create(f"/api/v1/namespaces/{ns}/events", body)
        if len(self._seen) > 5000:
            self._seen.clear()
        self._seen[key] = (ename, ns, 1)


def ref(obj: dict, namespace: str | None = None) -> dict:
    md = obj["metadata"]
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": md["name"],
            "namespace": namespace or md.get("namespace"), "uid": md.get("uid"),
            "resourceVersion": md.get("resourceVersion")}
