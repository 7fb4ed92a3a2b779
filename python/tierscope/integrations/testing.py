"""A small OpenAI-compatible chat-completions server on 127.0.0.1, for tests, benches and demos.

:class:`FakeOpenAIServer` serves ``POST /v1/chat/completions`` (and ``GET /v1/models``) from a
thread with the standard library only: deterministic answers (``"[<model>] <last user turn>"``),
``usage``, ``logprobs`` when asked (``-0.05`` per token, or ``-3.0`` when the last user turn
contains ``[hard]``, so a log-prob confidence escalates it), and SSE streaming with
``stream_options.include_usage``. It is no model and calls nothing: the real ``openai``,
``litellm`` and ``langchain-openai`` clients talk to it over HTTP as to a provider::

    with FakeOpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeOpenAIServer", "HARD_MARKER"]

HARD_MARKER = "[hard]"
"""A last user turn containing this gets low log-probabilities (a cheap model unsure of itself)."""

_MAX_BODY = 1 << 20


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _answer(body: dict[str, Any]) -> tuple[str, list[str], float, int]:
    """The deterministic answer: (text, tokens, per-token logprob, prompt tokens)."""
    messages = body.get("messages") or []
    users = [_text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    last = users[-1] if users else ""
    model = str(body.get("model", "unknown"))
    text = f"[{model}] {last}".strip()
    tokens = text.split(" ")
    tokens = [t if i == 0 else " " + t for i, t in enumerate(tokens)]
    logprob = -3.0 if HARD_MARKER in last else -0.05
    prompt = sum(len(_text(m.get("content")).split()) + 3 for m in messages if isinstance(m, dict))
    return text, tokens, logprob, prompt


def _logprobs(tokens: list[str], logprob: float) -> dict[str, Any]:
    return {
        "content": [
            {"token": t, "logprob": logprob, "bytes": list(t.encode()), "top_logprobs": []} for t in tokens
        ],
        "refusal": None,
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # socket timeout: a stalled client never holds a thread forever
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACK
        # add about 40 ms to every call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Quiet: tests read :attr:`FakeOpenAIServer.requests` instead."""

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": []})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        if not self.path.rstrip("/").endswith("/chat/completions") or length > _MAX_BODY:
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send_json(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
            return
        self.server.record(body)
        if self.server.delay_s:
            time.sleep(self.server.delay_s)
        if body.get("stream"):
            self._stream(body)
        else:
            self._send_json(200, self._completion(body))

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        text, tokens, logprob, prompt = _answer(body)
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
            "logprobs": _logprobs(tokens, logprob) if body.get("logprobs") else None,
        }
        return {
            "id": f"chatcmpl-{self.server.next_id()}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": str(body.get("model", "unknown")),
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": len(tokens),
                "total_tokens": prompt + len(tokens),
            },
        }

    def _stream(self, body: dict[str, Any]) -> None:
        text, tokens, logprob, prompt = _answer(body)
        cid, model = f"chatcmpl-{self.server.next_id()}", str(body.get("model", "unknown"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> None:
            payload = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": model,
                "choices": choices,
                "usage": usage,
            }
            self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())

        chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        for t in tokens:
            lp = _logprobs([t], logprob) if body.get("logprobs") else None
            chunk([{"index": 0, "delta": {"content": t}, "finish_reason": None, "logprobs": lp}])
        chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if (body.get("stream_options") or {}).get("include_usage"):
            chunk(
                [],
                {
                    "prompt_tokens": prompt,
                    "completion_tokens": len(tokens),
                    "total_tokens": prompt + len(tokens),
                },
            )
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, delay_s: float, keep: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay_s = delay_s
        self.requests: deque[dict[str, Any]] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._n = 0

    def record(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(body)

    def next_id(self) -> int:
        with self._lock:
            self._n += 1
            return self._n


class FakeOpenAIServer:
    """An OpenAI-compatible server on ``127.0.0.1:<free port>`` in a daemon thread.

    ``delay_s`` sleeps before each answer (a provider's latency); ``keep`` bounds the request
    bodies kept in :attr:`requests`. Use as a context manager, or :meth:`start` / :meth:`stop`."""

    def __init__(self, *, delay_s: float = 0.0, keep: int = 1000) -> None:
        self._server = _Server(delay_s, keep)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``: pass it as the client's ``base_url``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The request bodies received, oldest first (at most ``keep``)."""
        with self._server._lock:
            return list(self._server.requests)

    def start(self) -> FakeOpenAIServer:
        """Serve in a daemon thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and close the socket (waits at most ``timeout`` seconds for the thread)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
