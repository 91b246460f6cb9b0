"""A small HTTP/2 client over python3-h2 for the edge's HTTP/2 tests: many streams on one connection, a viewer that
never reads (no WINDOW_UPDATE), and hand-made floods. Not a test itself."""
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import h2.settings


class H2Client:
    def __init__(self, port, tls=True, window=None, auto_ack=True, settings=True):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            self.sock = ctx.wrap_socket(raw, server_hostname="example.test")
            assert self.sock.selected_alpn_protocol() == "h2", self.sock.selected_alpn_protocol()
        else:
            self.sock = raw
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.auto_ack = auto_ack
        self.streams = {}  # id -> {"headers": dict, "data": bytearray, "ended": bool, "reset": code or None}
        self.goaway = None  # error code of a GOAWAY received
        self.closed = False
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        if settings:
            self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, method="GET", headers=(), authority="example.test", send=True):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "https"), (":authority", authority)]
        self.conn.send_headers(sid, hdrs + list(headers), end_stream=True)
        self.streams[sid] = {"headers": {}, "data": bytearray(), "ended": False, "reset": None}
        if send:
            self.flush()
        return sid

    def pump(self, until, timeout=20.0):
        """Reads and handles frames until until() is true or the connection closes; returns until()."""
        deadline = time.time() + timeout
        while not until() and not self.closed and time.time() < deadline:
            self.sock.settimeout(max(0.05, min(1.0, deadline - time.time())))
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except (ConnectionError, ssl.SSLError, OSError):
                self.closed = True
                break
            if not data:
                self.closed = True
                break
            for ev in self.conn.receive_data(data):
                self.handle(ev)
            try:
                self.flush()
            except OSError:
                self.closed = True
        return until()

    def handle(self, ev):
        if isinstance(ev, h2.events.ResponseReceived):
            self.streams[ev.stream_id]["headers"] = dict(ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            self.streams[ev.stream_id]["data"] += ev.data
            if self.auto_ack:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            self.streams[ev.stream_id]["ended"] = True
        elif isinstance(ev, h2.events.StreamReset):
            if ev.stream_id in self.streams:
                self.streams[ev.stream_id]["reset"] = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev.error_code

    def done(self, sid):
        s = self.streams[sid]
        return s["ended"] or s["reset"] is not None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
