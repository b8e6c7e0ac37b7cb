"""A pg_auto_failover group of its own: a monitor, a primary and a synchronous secondary.

Everything lives in a temporary directory, on free ports, run as the ``postgres`` OS user
(PostgreSQL refuses to run as root); the main PostgreSQL on 5432 is never touched. An
acknowledged commit is on both nodes: the secondary is in the replication quorum, so the
primary's ``synchronous_standby_names`` names it and a COMMIT waits for its flush.

    .venv/bin/python tests/failover_group.py up     # prints the URLs, keeps running until ^C
    .venv/bin/python tests/failover_group.py down   # stops a group left over in the directory

``kill_primary`` SIGKILLs the primary node (its keeper and its postgres, as a machine lost),
``wait_promoted`` waits until the secondary is the primary, ``rejoin`` brings the lost node
back as the new secondary.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_AUTOCTL = shutil.which("pg_autoctl") or "/usr/bin/pg_autoctl"
DBNAME = "saoma"
STATE_FILE = Path(tempfile.gettempdir()) / "saoma-failover-group.pids"
# The monitor decides quickly that a node is lost (defaults: 20 s and more).
MONITOR_SETTINGS = {
    "pgautofailover.health_check_period": "1000",
    "pgautofailover.health_check_timeout": "1000",
    "pgautofailover.health_check_max_retries": "1",
    "pgautofailover.health_check_retry_delay": "500",
    "pgautofailover.node_considered_unhealthy_timeout": "3000",
    "pgautofailover.primary_demote_timeout": "5000",
}


class GroupUnavailable(Exception):
    """pg_auto_failover is not installed or the group cannot be started here."""


def available() -> str | None:
    """Why a group cannot run here, or None when it can."""
    if not Path(PG_AUTOCTL).exists():
        return "pg_autoctl is not installed (Debian: postgresql-15-auto-failover)"
    if not (PG_BIN / "postgres").exists():
        return f"PostgreSQL 15 is not installed in {PG_BIN}"
    if os.geteuid() != 0:
        return "starting the group as the postgres user needs root"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    name: str
    port: int
    pgdata: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class FailoverGroup:
    root: Path
    monitor: Node = field(init=False)
    nodes: list[Node] = field(default_factory=list)
    formation: str = "default"

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.root, "postgres", "postgres")
        self.monitor = self._node("monitor")
        self.nodes = [self._node("node1"), self._node("node2")]

    def _node(self, name: str) -> Node:
        return Node(name, free_port(), self.root / name, self.root / f"{name}.log")

    # URLs

    @property
    def monitor_uri(self) -> str:
        return f"postgres://autoctl_node@127.0.0.1:{self.monitor.port}/pg_auto_failover?sslmode=disable"

    def url(self, dbname: str = DBNAME, attrs: str = "read-write") -> str:
        """Saoma's URL: both nodes, the one accepting writes is chosen (SQLAlchemy's form)."""
        hosts = "&".join(f"host=127.0.0.1:{n.port}" for n in self.nodes)
        return f"postgresql+psycopg://postgres@/{dbname}?{hosts}&target_session_attrs={attrs}"

    def node_url(self, node: Node, dbname: str = DBNAME) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{node.port}/{dbname}"

    # starting and stopping

    def _spawn(self, node: Node, args: list[str]) -> None:
        env = {
            "PATH": f"{PG_BIN}:/usr/bin:/bin",
            "PG_CONFIG": str(PG_BIN / "pg_config"),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_DATA_HOME": str(self.root / "data"),
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
        }
        command = ["runuser", "-u", "postgres", "--", "env", *(f"{k}={v}" for k, v in env.items())]
        node.process = subprocess.Popen(
            [*command, PG_AUTOCTL, *args],
            stdout=node.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed together, and only it
        )
        self._remember()

    def _remember(self) -> None:
        pids = [str(n.process.pid) for n in (self.monitor, *self.nodes) if n.process is not None]
        STATE_FILE.write_text(f"{self.root}\n" + "\n".join(pids) + "\n")

    def up(self, timeout_s: float = 120.0) -> None:
        """Start the monitor, then the primary, then the secondary; wait until they are ready."""
        why = available()
        if why is not None:
            raise GroupUnavailable(why)
        common = ["--auth", "trust", "--no-ssl", "--hostname", "127.0.0.1", "--run"]
        m = self.monitor
        self._spawn(
            m, ["create", "monitor", "--pgdata", str(m.pgdata), "--pgport", str(m.port), *common]
        )
        self._wait(lambda: self._monitor_ready(), timeout_s, "the monitor to start")
        self._tune_monitor()
        first, second = self.nodes
        # One at a time: the first becomes the primary, the second its secondary.
        self._start_node(first, common)
        self._wait(lambda: self._state(first) == "single", timeout_s, f"{first.name} to start")
        self._start_node(second, common)

        def joined() -> bool:
            # The secondary's base backup waits for a checkpoint: ask for it now, not spread.
            _checkpoint(first)
            return self._state(second) == "secondary"

        self._wait(joined, timeout_s, f"{second.name} to join")
        self._wait(self.ready, timeout_s, "the group to be ready")

    def _start_node(self, node: Node, common: list[str]) -> None:
        self._spawn(
            node,
            [
                "create",
                "postgres",
                "--pgdata",
                str(node.pgdata),
                "--pgport",
                str(node.port),
                "--name",
                node.name,
                "--dbname",
                DBNAME,
                "--monitor",
                self.monitor_uri,
                "--replication-quorum",
                "true",
                "--candidate-priority",
                "50",
                *common,
            ],
        )

    def down(self) -> None:
        """SIGKILL every process the group started (each its own process group)."""
        for node in (self.monitor, *self.nodes):
            if node.process is not None:
                _kill_group(node.process.pid)
                node.process.wait(timeout=10)
                node.process = None
        for node in (self.monitor, *self.nodes):
            pid = node.postmaster_pid()
            if pid is not None:
                _kill_pid(pid)
        STATE_FILE.unlink(missing_ok=True)

    def cleanup(self) -> None:
        self.down()
        shutil.rmtree(self.root, ignore_errors=True)

    # the monitor's view

    def _monitor(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.monitor.port,
            user="postgres",
            dbname="pg_auto_failover",
            autocommit=True,
            connect_timeout=2,
        )

    def _monitor_ready(self) -> bool:
        try:
            with self._monitor() as conn:
                conn.execute("SELECT 1 FROM pgautofailover.node LIMIT 1")
            return True
        except psycopg.Error:
            return False

    def _tune_monitor(self) -> None:
        with self._monitor() as conn:
            for name, value in MONITOR_SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            conn.execute("SELECT pg_reload_conf()")

    def _set_sync(self) -> None:
        with self._monitor() as conn:
            conn.execute(
                "SELECT pgautofailover.set_formation_number_sync_standbys(%s, %s)",
                (self.formation, 1),
            )

    def states(self) -> dict[str, tuple[str, str]]:
        """Each node's (reported state, goal state) as the monitor sees them."""
        try:
            with self._monitor() as conn:
                rows = conn.execute(
                    "SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node"
                ).fetchall()
        except psycopg.Error:
            return {}
        return {str(n): (str(r), str(g)) for n, r, g in rows}

    def _state(self, node: Node) -> str:
        reported, goal = self.states().get(node.name, ("", ""))
        return reported if reported == goal else ""

    def primary(self) -> Node | None:
        for node in self.nodes:
            if self._state(node) == "primary":
                return node
        return None

    def ready(self) -> bool:
        """A primary and a secondary, settled, and the primary's commits wait for the secondary."""
        states = {self._state(n) for n in self.nodes}
        if states != {"primary", "secondary"}:
            return False
        primary = self.primary()
        assert primary is not None
        try:
            with psycopg.connect(
                self.node_url(primary).replace("+psycopg", ""), connect_timeout=2, autocommit=True
            ) as conn:
                names = conn.execute("SHOW synchronous_standby_names").fetchone()
                streaming = conn.execute(
                    "SELECT count(*) FROM pg_stat_replication"
                    " WHERE sync_state IN ('sync', 'quorum')"
                ).fetchone()
        except psycopg.Error:
            return False
        return bool(names and names[0]) and bool(streaming and streaming[0] >= 1)

    # failures

    def kill_primary(self) -> Node:
        """SIGKILL the primary node, its keeper and its postgres at once: a machine lost."""
        primary = self.primary()
        if primary is None:
            raise RuntimeError(f"no primary to kill: {self.states()}")
        postmaster = primary.postmaster_pid()
        if postmaster is not None:
            _kill_pid(postmaster)
        if primary.process is not None:
            _kill_group(primary.process.pid)
            primary.process.wait(timeout=10)
            primary.process = None
        return primary

    def wait_promoted(self, lost: Node, timeout_s: float = 90.0) -> Node:
        """Until another node is the primary (accepting writes); returns it."""
        others = [n for n in self.nodes if n is not lost]

        def promoted() -> bool:
            return any(
                self._state(n) in ("primary", "wait_primary") and _writable(n) for n in others
            )

        self._wait(promoted, timeout_s, "the secondary to be promoted")
        return next(n for n in others if _writable(n))

    def rejoin(self, lost: Node, timeout_s: float = 120.0) -> None:
        """Start the lost node again: it comes back as the secondary (rewound if need be)."""
        self._spawn(lost, ["run", "--pgdata", str(lost.pgdata)])
        self._wait(self.ready, timeout_s, f"{lost.name} to rejoin as the secondary")

    @staticmethod
    def _wait(check: object, timeout_s: float, what: str) -> None:
        assert callable(check)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise GroupUnavailable(f"timed out waiting for {what}")


def _writable(node: Node) -> bool:
    try:
        with psycopg.connect(
            host="127.0.0.1",
            port=node.port,
            user="postgres",
            dbname="postgres",
            connect_timeout=1,
            autocommit=True,
        ) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            return row is not None and not row[0]
    except psycopg.Error:
        return False


def _checkpoint(node: Node) -> None:
    try:
        with psycopg.connect(
            host="127.0.0.1",
            port=node.port,
            user="postgres",
            dbname="postgres",
            connect_timeout=1,
            autocommit=True,
        ) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error:
        pass


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _kill_pid(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("up", "down"):
        print(__doc__)
        return 2
    if argv[1] == "down":
        if not STATE_FILE.exists():
            print("no group is running")
            return 0
        root, *pids = STATE_FILE.read_text().split()
        for pid in pids:
            _kill_group(int(pid))
        for pgdata in Path(root).glob("*/postmaster.pid"):
            _kill_pid(int(pgdata.read_text().split()[0]))
        shutil.rmtree(root, ignore_errors=True)
        STATE_FILE.unlink(missing_ok=True)
        print(f"stopped the group in {root}")
        return 0
    group = FailoverGroup(Path(tempfile.mkdtemp(prefix="saoma-failover-")))
    group.up()
    print(f"SAOMA_DATABASE_URL={group.url()}")
    for node in group.nodes:
        print(f"{node.name}: {group.node_url(node)} ({group._state(node)})")
    print(f"monitor: {group.monitor_uri}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        group.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
