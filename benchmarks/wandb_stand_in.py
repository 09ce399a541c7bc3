"""A local stand-in for W&B's server API, for benchmarks and tests (no W&B is reachable here).

It answers the GraphQL calls and the file stream that wandb-core makes when it uploads a run
(``UpsertBucket``, ``CreateRunFiles``, ``Viewer``, ``file_stream``, file uploads) with the least
that lets wandb go on, and counts what arrives: ``GET /_counts`` gives the history rows received,
the requests and how many runs were marked complete. It accepts anything: it shows that wandb's
uploader read and sent every row, not that W&B's real server would accept them.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StandIn(BaseHTTPRequestHandler):
    """Answers what wandb-core asks of W&B with the least that lets it go on; counts rows."""

    counts: dict[str, int] = {"history_rows": 0, "requests": 0, "complete": 0}

    def log_message(self, *args: Any) -> None:
        """Quiet."""

    def _body(self) -> bytes:
        size = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(size) if size else b""
        return gzip.decompress(data) if self.headers.get("Content-Encoding") == "gzip" else data

    def _send(self, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        """``/_counts``: what arrived so far."""
        self._send(self.counts if self.path == "/_counts" else {})

    def do_PUT(self) -> None:  # noqa: N802
        """File uploads."""
        self._body()
        self._send({})

    def do_POST(self) -> None:  # noqa: N802
        """GraphQL and the file stream."""
        body = self._body()
        self.counts["requests"] += 1
        if self.path.startswith("/graphql"):
            query = json.loads(body or b"{}")
            text, variables = query.get("query", ""), query.get("variables") or {}
            if "upsertBucket" in text:
                self._send({"data": {"upsertBucket": {"inserted": True, "bucket": {
                    "id": "b1", "name": variables.get("name") or "run", "displayName": "run",
                    "config": "{}", "summaryMetrics": "{}", "historyLineCount": 0,
                    "eventsLineCount": 0, "logLineCount": 0, "sweepName": None,
                    "project": {"id": "p1", "name": variables.get("project") or "p",
                                "entity": {"id": "e1", "name": variables.get("entity") or "e"}}}}}})
            elif "createRunFiles" in text:
                port = self.server.server_address[1]
                self._send({"data": {"createRunFiles": {"runID": "b1", "uploadHeaders": [], "files": [
                    {"name": n, "uploadUrl": f"http://127.0.0.1:{port}/upload/{n}"}
                    for n in variables.get("files") or []]}}})
            elif "viewer" in text:
                self._send({"data": {"viewer": {"id": "u1", "entity": "e", "username": "u",
                                                "flags": "{}", "teams": {"edges": []}}}})
            else:
                self._send({"data": {}})
            return
        if "file_stream" in self.path:
            stream = json.loads(body or b"{}")
            history = (stream.get("files") or {}).get("wandb-history.jsonl") or {}
            self.counts["history_rows"] += len(history.get("content") or [])
            if stream.get("complete"):
                self.counts["complete"] += 1
        self._send({"exitcode": None, "limits": {}})


def serve(port: int) -> None:
    """Serve the stand-in until killed."""
    ThreadingHTTPServer(("127.0.0.1", port), StandIn).serve_forever()


def start_in_thread() -> tuple[ThreadingHTTPServer, str]:
    """Serve on a free port from a daemon thread; (server, base URL). ``server.shutdown()``."""
    handler = type("Counting", (StandIn,), {"counts": {"history_rows": 0, "requests": 0,
                                                        "complete": 0}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
