"""Serve the app with uvicorn on loopback in a background thread, as a real client sees it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn


def reserve() -> socket.socket:
    """A socket bound to a free port on loopback (its URL can be known before the app exists)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def served(api, sock: socket.socket | None = None) -> Iterator[httpx.Client]:
    sock = sock or reserve()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(api, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def server_process(database_url: str, log_path, **settings: str) -> Iterator[httpx.Client]:
    """A real `billing serve --no-scheduler` process on loopback over ``database_url`` (its
    own runtime, pools and caches: what another machine behind the load balancer is), with
    the ``BILLING_*`` settings given; a client for it, and the process ended afterwards."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    sock = reserve()
    port = sock.getsockname()[1]
    sock.close()  # the process binds the port itself
    env = {
        **os.environ,
        "BILLING_DATABASE_URL": database_url,
        # a gateway off loopback: the process starts no sandbox gateway of its own
        "BILLING_GATEWAY_URL": "https://sandbox.gateway.invalid/pg/v4",
        **{f"BILLING_{name.upper()}": value for name, value in settings.items()},
    }
    billing = str(Path(sys.executable).parent / "billing")
    with open(log_path, "a") as log:
        process = subprocess.Popen(
            [billing, "serve", "--no-scheduler", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"billing serve exited: {Path(log_path).read_text()}")
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("billing serve did not start in 60 s")
                time.sleep(0.1)
            yield client
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
