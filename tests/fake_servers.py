"""Small HTTP servers on loopback that the engine and page tests talk to."""

import http.server
import json
import threading

from tests.hostile_inputs import MARKDOWN_SHORT


def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"

class Recording(http.server.BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible server: lists one model and streams two tokens with logprobs,
    recording what each request carried."""

    seen: list[tuple[str, str | None, dict | None]] = []

    def do_GET(self):  # noqa: N802
        type(self).seen.append((self.path, self.headers.get("Authorization"), None))
        body = json.dumps({"data": [{"id": "listed-model"}, {"id": "second"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, self.headers.get("Authorization"), request))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for token, logprob in (("Hello", -0.1), (" there", -0.7)):
            item = {"token": token, "logprob": logprob, "top_logprobs": [{"token": token, "logprob": logprob}]}
            chunk = {"choices": [{"delta": {"content": token}, "logprobs": {"content": [item]}}]}
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args):
        pass


class MarkdownServer(Recording):
    """An OpenAI-compatible server whose model, tokens and alternatives are Markdown links."""

    def do_GET(self):  # noqa: N802
        body = json.dumps({"data": [{"id": MARKDOWN_SHORT}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for token in (MARKDOWN_SHORT, " www.evil.example/w", " me@evil.example"):
            others = [{"token": token, "logprob": -0.1}, {"token": "<img src=https://evil.example/i.png>", "logprob": -2.0}]
            item = {"token": token, "logprob": -0.1, "top_logprobs": others}
            chunk = {"choices": [{"delta": {"content": token}, "logprobs": {"content": [item]}}]}
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
