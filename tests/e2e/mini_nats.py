"""A minimal NATS core client (stdlib only): enough for the txc wire protocol.

Publish (with headers: HPUB), subscribe (with queue groups), request/reply through one wildcard
inbox, PING/PONG and header messages (HMSG), which is how the server reports "no responders"
(status 503). One reader thread parses the socket; subscription callbacks run on a separate
dispatcher thread so that a callback may itself make requests without blocking the reader that
would deliver their replies.
No reconnect: a lost connection closes the client and callers see ConnectionError.
"""

import json
import queue
import secrets
import socket
import threading
import urllib.parse


class NoResponders(Exception):
    """The server answered a request with status 503: nobody subscribes to the subject."""


class Msg:
    __slots__ = ("subject", "reply", "data", "headers", "status")

    def __init__(self, subject, reply, data, headers=None, status=None):
        self.subject, self.reply, self.data = subject, reply, data
        self.headers, self.status = headers or {}, status

    def json(self):
        return json.loads(self.data.decode("utf-8"))


def _parse_headers(block):
    """'NATS/1.0 503 Description\\r\\nK: V\\r\\n\\r\\n' -> (status or None, {K: V})."""
    lines = block.decode("utf-8", "replace").split("\r\n")
    first = lines[0].split(None, 2)
    status = int(first[1]) if len(first) > 1 and first[1].isdigit() else None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip()] = v.strip()
    return status, headers


class Client:
    def __init__(self, url="nats://127.0.0.1:4222", name="mini-nats", connect_timeout=5.0):
        parsed = urllib.parse.urlparse(url if "://" in url else "nats://" + url)
        self._sock = socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or 4222), timeout=connect_timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._subs = {}  # sid -> callback
        self._next_sid = 0
        self._pongs = []  # events waiting for a PONG, FIFO: the server answers PINGs in order
        self._inbox_prefix = "_INBOX." + secrets.token_hex(8)
        self._pending = {}  # inbox token -> [event, Msg or None]
        self.closed = threading.Event()
        self._dispatch_q = queue.Queue()

        info = self._read_line()
        if not info.startswith(b"INFO "):
            raise ConnectionError("expected INFO, got %r" % info[:80])
        self.server_info = json.loads(info[5:])
        if not self.server_info.get("headers"):
            raise ConnectionError("server does not support headers (needed for no-responders)")
        opts = {"verbose": False, "pedantic": False, "lang": "python-mini", "version": "0.1",
                "protocol": 1, "headers": True, "no_responders": True, "name": name}
        if parsed.username:
            opts.update(user=urllib.parse.unquote(parsed.username),
                        **{"pass": urllib.parse.unquote(parsed.password or "")})
        self._send(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
        # With verbose off the server answers CONNECT only on error (-ERR) then PONG.
        while True:
            line = self._read_line()
            if line == b"PONG":
                break
            if line.startswith(b"-ERR"):
                raise ConnectionError(line.decode("utf-8", "replace"))
        self._sock.settimeout(None)
        threading.Thread(target=self._reader, name="nats-reader", daemon=True).start()
        threading.Thread(target=self._dispatcher, name="nats-dispatch", daemon=True).start()
        self._inbox_sid = self._subscribe(self._inbox_prefix + ".*", None, self._on_reply,
                                          inline=True)

    # -- public API --------------------------------------------------------------------------

    def publish(self, subject, data=b"", reply=None, headers=None):
        """headers: {name: value}, sent with HPUB (NATS/1.0 header block) when given."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        to = reply + " " if reply else ""
        if not headers:
            self._send(("PUB %s %s%d\r\n" % (subject, to, len(data))).encode() + data + b"\r\n")
            return
        block = ("NATS/1.0\r\n" + "".join("%s: %s\r\n" % kv for kv in headers.items())
                 + "\r\n").encode("utf-8")
        head = "HPUB %s %s%d %d\r\n" % (subject, to, len(block), len(block) + len(data))
        self._send(head.encode() + block + data + b"\r\n")

    def subscribe(self, subject, callback, queue_group=None):
        """callback(Msg) runs on the dispatcher thread, one message at a time."""
        return self._subscribe(subject, queue_group, callback, inline=False)

    def unsubscribe(self, sid):
        with self._lock:
            self._subs.pop(sid, None)
        self._send(b"UNSUB %d\r\n" % sid)

    def request(self, subject, data, timeout=2.0, headers=None):
        """Returns the reply Msg; raises NoResponders, TimeoutError or ConnectionError."""
        token = secrets.token_hex(8)
        slot = [threading.Event(), None]
        with self._lock:
            self._pending[token] = slot
        try:
            self.publish(subject, data, reply="%s.%s" % (self._inbox_prefix, token),
                         headers=headers)
            if not slot[0].wait(timeout):
                if self.closed.is_set():
                    raise ConnectionError("connection closed")
                raise TimeoutError("no reply on %s within %.1fs" % (subject, timeout))
        finally:
            with self._lock:
                self._pending.pop(token, None)
        msg = slot[1]
        if msg is None:
            raise ConnectionError("connection closed")
        if msg.status == 503:
            raise NoResponders(subject)
        return msg

    def flush(self, timeout=2.0):
        """Round trip to the server: everything published before has been processed by it."""
        ev = threading.Event()
        with self._lock:
            self._pongs.append(ev)
        self._send(b"PING\r\n")
        if not ev.wait(timeout):
            raise TimeoutError("flush")

    def close(self):
        if self.closed.is_set():
            return
        self.closed.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        with self._lock:
            for slot in self._pending.values():
                slot[0].set()
            for ev in self._pongs:
                ev.set()
        self._dispatch_q.put(None)

    # -- internals ---------------------------------------------------------------------------

    def _subscribe(self, subject, queue_group, callback, inline):
        with self._lock:
            self._next_sid += 1
            sid = self._next_sid
            self._subs[sid] = (callback, inline)
        parts = ["SUB", subject] + ([queue_group] if queue_group else []) + [str(sid)]
        self._send((" ".join(parts) + "\r\n").encode())
        return sid

    def _send(self, data):
        if self.closed.is_set():
            raise ConnectionError("connection closed")
        with self._write_lock:
            try:
                self._sock.sendall(data)
            except OSError as e:
                self.close()
                raise ConnectionError(str(e)) from e

    def _fill(self):
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self._buf += chunk

    def _read_line(self):
        while True:
            i = self._buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self._buf[:i])
                del self._buf[:i + 2]
                return line
            self._fill()

    def _read_exact(self, n):
        while len(self._buf) < n + 2:  # payload plus its trailing CRLF
            self._fill()
        data = bytes(self._buf[:n])
        del self._buf[:n + 2]
        return data

    def _reader(self):
        try:
            while not self.closed.is_set():
                line = self._read_line()
                op = line.split(b" ", 1)[0].upper()
                if op == b"MSG":
                    # MSG <subject> <sid> [reply-to] <#bytes>
                    f = line.decode().split()
                    reply = f[3] if len(f) == 5 else None
                    data = self._read_exact(int(f[-1]))
                    self._deliver(int(f[2]), Msg(f[1], reply, data))
                elif op == b"HMSG":
                    # HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>
                    f = line.decode().split()
                    reply = f[3] if len(f) == 6 else None
                    hlen, total = int(f[-2]), int(f[-1])
                    raw = self._read_exact(total)
                    status, headers = _parse_headers(raw[:hlen])
                    self._deliver(int(f[2]), Msg(f[1], reply, raw[hlen:], headers, status))
                elif op == b"PING":
                    self._send(b"PONG\r\n")
                elif op == b"PONG":
                    with self._lock:
                        ev = self._pongs.pop(0) if self._pongs else None
                    if ev:
                        ev.set()
                elif op == b"-ERR":
                    # Permission errors keep the connection; anything else the server closes.
                    print("mini_nats: server error: %s" % line.decode("utf-8", "replace"),
                          flush=True)
                # +OK and INFO (cluster updates) need nothing.
        except (OSError, ConnectionError, ValueError):
            pass
        finally:
            self.close()

    def _deliver(self, sid, msg):
        with self._lock:
            entry = self._subs.get(sid)
        if entry is None:
            return
        callback, inline = entry
        if inline:
            callback(msg)
        else:
            self._dispatch_q.put((callback, msg))

    def _dispatcher(self):
        while True:
            item = self._dispatch_q.get()
            if item is None:
                return
            callback, msg = item
            try:
                callback(msg)
            except Exception as e:  # one bad message must not stop every later one
                print("mini_nats: callback failed on %s: %r" % (msg.subject, e), flush=True)

    def _on_reply(self, msg):
        token = msg.subject[len(self._inbox_prefix) + 1:]
        with self._lock:
            slot = self._pending.get(token)
        if slot is not None and slot[1] is None:
            slot[1] = msg
            slot[0].set()
