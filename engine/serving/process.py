"""A real ``dreamgym serve`` child process on 127.0.0.1: what the serving tests, the serving
and bulk benchmarks (and a user's own integration tests) start and stop.

    with ServerProcess("--model", "push-64") as server:
        eng = engine.RemoteEngine(server.url)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

READY = re.compile(r"ready at (http://127\.0\.0\.1:\d+)")


class ServerProcess:
    """A ``python -m dreamgym serve`` child process; ``url`` once it printed its ready line.

    ``args`` are ``dreamgym serve`` flags (``--host`` and ``--port`` are set here); ``env`` is
    added to this process's environment. RuntimeError, with the server's output, when it does
    not print its ready line within ``timeout_s``.
    """

    def __init__(self, *args: str, env: dict | None = None, port: int = 0, timeout_s: float = 120.0) -> None:
        cmd = [sys.executable, "-m", "dreamgym", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        deadline = time.monotonic() + timeout_s
        self.url = None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            m = READY.search(line)
            if m:
                self.url = m.group(1)
                break
        if self.url is None:
            self.kill()
            raise RuntimeError("server did not start:\n" + "".join(self.lines) + (self.proc.stdout.read() or ""))
        self.port = int(self.url.rsplit(":", 1)[1])
        # keep reading, so that a chatty server never blocks on a full pipe
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def terminate(self, timeout_s: float = 60.0) -> int:
        """SIGTERM, wait for exit; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout_s)
        self._reader.join(5)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)

    def output(self) -> str:
        return "".join(self.lines)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
