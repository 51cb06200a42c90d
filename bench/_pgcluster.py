"""A throwaway PostgreSQL cluster of our own (initdb + pg_ctl) on a free port of 127.0.0.1.

For the fault tests: restarting it mid-load must not touch the shared server on 5432 that
the test suites use. Run as root, the cluster is owned by the `postgres` OS user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A running cluster: its data directory, port and URL."""

    data: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        _as_postgres([str(_bin("pg_ctl")), "-D", str(self.data), "-l", str(self.log), "-w", *args])

    def restart(self) -> float:
        """Restart (fast shutdown: open connections are cut); the seconds it took."""
        started = time.monotonic()
        self.ctl("-o", f"-p {self.port} -k {self.data}", "-m", "fast", "restart")
        return time.monotonic() - started


def _bin(name: str) -> Path:
    found = BIN / name
    return found if found.exists() else Path(shutil.which(name) or name)


def _as_postgres(cmd: list[str]) -> None:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


@contextlib.contextmanager
def own_cluster() -> Iterator[Cluster]:
    """initdb, start on a free port, yield, stop and delete."""
    root = Path(tempfile.mkdtemp(prefix="gw-pg-"))
    data, log = root / "data", root / "pg.log"
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    _as_postgres([str(_bin("initdb")), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"])
    cluster = Cluster(data, _free_port(), log)
    try:
        cluster.ctl("-o", f"-p {cluster.port} -k {data} -c fsync=off", "start")
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
