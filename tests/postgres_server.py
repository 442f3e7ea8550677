"""A throwaway PostgreSQL server for the tests (``make test-postgres``): ``initdb`` in a temporary
folder, ``pg_ctl`` on loopback at a free port with its unix socket in that folder, password
authentication, stopped and removed afterwards. Never assumes a server is running. As root, the
server runs as the ``postgres`` user (PostgreSQL refuses root)."""
from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

USER = "sla_test"


def pg_bin() -> Path | None:
    """The folder of ``initdb``/``pg_ctl`` (Debian keeps them in /usr/lib/postgresql/<v>/bin)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_postgres():
    """Start a server and yield ``(url, password)``; the URL holds the password."""
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed: run `make install-postgres`")
    root = Path(tempfile.mkdtemp(prefix="sla-pg-"))
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    if as_root:
        pw = pwd.getpwnam("postgres")
        os.chmod(root, 0o700)
        os.chown(root, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    password = "pw-" + secrets.token_hex(8)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    if as_root:
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
    data, port = root / "data", _free_port()
    try:
        subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256",
                        f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C"],
                       check=True, capture_output=True)
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
                        "-o", f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
                              "-c fsync=off -c full_page_writes=off -c synchronous_commit=off",
                        "start"], check=True, capture_output=True)
        try:
            yield f"postgresql://{USER}:{password}@127.0.0.1:{port}/postgres", password
        finally:
            subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
