"""A throwaway PostgreSQL cluster from Debian's packages on 127.0.0.1 (free port), for the tests of
the scale-out and of outages (tests/conftest.py) and the growth benchmark (bench/growth.py).

PostgreSQL refuses to run as root: as root it runs as the `postgres` user, in a data directory of its
own under /tmp (pytest's are root-only). Durability is off: the cluster is thrown away afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def postgres_bin(name: str) -> Path:
    """A PostgreSQL server program from Debian's packages (the newest installed version)."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is missing: apt-get install -y postgresql (make test installs it)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """``start()``, ``create_database(name)`` -> URL, ``stop()``; ``remove()`` stops it and deletes
    its files. ``settings``: more ``-c`` options (memory for the growth benchmark)."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.home = Path(tempfile.mkdtemp(prefix="salesbot-pg-"))
        if self.as_postgres:
            shutil.chown(self.home, "postgres", "postgres")
        self.port = _free_port()
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"
        subprocess.run([*self.as_postgres, str(postgres_bin("initdb")), "-D", str(self.data), "-U", "postgres",
                        "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL)
        options = {"listen_addresses": "127.0.0.1", "max_connections": "200", "fsync": "off",
                   "synchronous_commit": "off", "full_page_writes": "off", **(settings or {})}
        self.options = f"-p {self.port} -k {self.home} " + " ".join(f"-c {k}={v}" for k, v in options.items())
        self.base = f"postgresql://postgres@127.0.0.1:{self.port}"

    def _pg_ctl(self, *args: str) -> list[str]:
        return [*self.as_postgres, str(postgres_bin("pg_ctl")), "-D", str(self.data), *args]

    def start(self) -> None:
        subprocess.run(self._pg_ctl("-l", str(self.log), "-o", self.options, "-w", "start"), check=True,
                       stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        subprocess.run(self._pg_ctl("-m", "fast", "-w", "stop"), check=False, stdout=subprocess.DEVNULL)

    def create_database(self, name: str) -> str:
        from sqlalchemy import create_engine, text

        engine = create_engine(f"{self.base}/postgres", isolation_level="AUTOCOMMIT", future=True)
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return f"{self.base}/{name}"

    __call__ = create_database

    def remove(self, keep_log: Path | None = None) -> None:
        self.stop()
        if keep_log is not None and self.log.exists():
            shutil.copy(self.log, keep_log)
        shutil.rmtree(self.home, ignore_errors=True)
