"""A PgBouncer of the tests' own in transaction pooling mode, in front of the tests' PostgreSQL;
and `saoma serve --workers N` processes, which the PgBouncer tests run behind it.

It listens on a free port, keeps its configuration, log and socket in a temporary directory
of its own (outside pytest's, which only root may enter),
trusts every client (``auth_type = any``) and forwards every database to the PostgreSQL of
``POSTGRES_SERVER_URL``. PgBouncer refuses to run as root, so under root it runs as ``postgres``
(or ``nobody``) with its directory handed to that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy.engine import make_url

from support import POSTGRES_SERVER_URL, REQUIRE_POSTGRES, Server, free_port, wait_until

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
POOL_SIZE = 20  # server connections per database and user

# What Saoma needs of a PgBouncer (docs/processes.md, "Behind PgBouncer"), and the test's own.
INI = """[databases]
* = host={host} port={port} user={user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir = {dir}
pidfile = {dir}/pgbouncer.pid
logfile = {dir}/pgbouncer.log
auth_type = any
pool_mode = transaction
default_pool_size = {pool}
max_client_conn = 1000
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
"""


@dataclass
class Bouncer:
    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    def url_for(self, database_url: str) -> str:
        """``database_url`` (a database on the tests' PostgreSQL) reached through this bouncer."""
        url = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return url.render_as_string(hide_password=False)

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _user() -> str | None:
    """The user PgBouncer runs as: ``None`` (this one) unless this one is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    pytest.fail("PgBouncer refuses root and there is no postgres or nobody user")


def start_pgbouncer(directory: Path) -> Bouncer:
    if not Path(PGBOUNCER).exists():
        if REQUIRE_POSTGRES:
            pytest.fail("pgbouncer is required (apt-get install pgbouncer)")
        pytest.skip("pgbouncer is not installed")
    server = make_url(POSTGRES_SERVER_URL)
    port = free_port()
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        INI.format(
            host=server.host or "127.0.0.1",
            port=server.port or 5432,
            listen=port,
            dir=directory,
            pool=POOL_SIZE,
            user=server.username or "postgres",  # auth_type = any connects as this user
        )
    )
    user = _user()
    command = [PGBOUNCER, str(ini)]
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
        os.chown(ini, entry.pw_uid, entry.pw_gid)
        command = [PGBOUNCER, "-u", user, str(ini)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    bouncer = Bouncer(port, directory, process)

    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer stopped: {bouncer.log()[-2000:]}")
        return "process up" in bouncer.log()

    wait_until(listening, timeout_s=15, what="pgbouncer to listen")
    return bouncer


def stop_pgbouncer(bouncer: Bouncer) -> None:
    if bouncer.process.poll() is None:
        bouncer.process.terminate()  # SIGTERM: PgBouncer closes every connection and exits
        try:
            bouncer.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            bouncer.process.kill()
            bouncer.process.wait(timeout=10)


def pgbouncer() -> Iterator[Bouncer]:
    """A running PgBouncer for the span of a fixture; stopped and its directory removed after."""
    directory = Path(tempfile.mkdtemp(prefix="saoma-pgbouncer-"))
    try:
        bouncer = start_pgbouncer(directory)
        try:
            yield bouncer
        finally:
            stop_pgbouncer(bouncer)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


SIGN_UP_TRIES = 3
WORKERS_START_S = 300  # N processes import Saoma and build their platforms on a shared machine


def start_workers(database_url: str, tmp: Path, workers: int, **env: str) -> Server:
    """``saoma serve --workers N`` over ``database_url``, set up as ``support.start_server`` sets
    up one process, given longer to answer."""
    port = free_port()
    environ = dict(os.environ)
    environ.update(
        SAOMA_DATABASE_URL=database_url,
        SAOMA_SANDBOX_BANK_DELAY_S="0.01",
        SAOMA_POOL_SIZE="4",
        SAOMA_MAX_IN_FLIGHT="200",
        SAOMA_WORKING_MAX="200",
        SAOMA_OPS_KEY_FILE=str(tmp / "server-ops.key"),
        SAOMA_AUDIT_HEAD_FILE=str(tmp / "server-audit-head.log"),
        SAOMA_KYC_KEY_FILE=str(tmp / "server-kyc.key"),
        SAOMA_WORKERS=str(workers),
    )
    environ.update(env)
    srv = Server(f"http://127.0.0.1:{port}", database_url, tmp / "server.log", environ, port)
    srv.process = subprocess.Popen(
        [sys.executable, "-m", "saoma.cli", "serve", "--port", str(port)],
        env=environ,
        stdout=srv.log.open("ab"),
        stderr=subprocess.STDOUT,
    )

    def healthy() -> bool:
        try:
            return httpx.get(srv.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, timeout_s=WORKERS_START_S, what="the workers to start")
    except AssertionError:
        srv.stop()
        raise RuntimeError(f"server did not start: {srv.log.read_text()[-2000:]}") from None
    return srv


T = TypeVar("T")


def patient(make: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``make(*args, **kwargs)`` (a party signing up: a password hash or two), made again if it
    timed out: on a machine shared with other work a sign-up can outlast a client's 5 s."""
    for _ in range(SIGN_UP_TRIES - 1):
        try:
            return make(*args, **kwargs)
        except httpx.TimeoutException:
            continue
    return make(*args, **kwargs)
