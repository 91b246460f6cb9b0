"""An http origin in a thread that counts its requests per path and remembers each one's headers, answering every
GET with a small cacheable body (or the status the test set). For the origin-group and tier tests. Not a test."""
import http.server
import threading


class CountingOrigin:
    def __init__(self, name):
        self.name = name
        self.status = 200  # what every request gets
        self.lock = threading.Lock()
        self.paths = []    # every request's path, in order
        self.heads = []    # ... and its headers (lower-cased names)
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with origin.lock:
                    origin.paths.append(self.path)
                    origin.heads.append({k.lower(): v for k, v in self.headers.items()})
                    status = origin.status
                body = f"{origin.name} {self.path}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=60" if status == 200 else "no-store")
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, path=None):
        with self.lock:
            return len(self.paths) if path is None else self.paths.count(path)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
