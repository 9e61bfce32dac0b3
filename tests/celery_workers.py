"""Real Celery worker processes for the tests that need one, on the configured broker and test database."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection


def database_url() -> str:
    """The test database, as a URL the worker process's settings understand."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge_broker() -> None:
    """Drops messages an earlier run left on a shared Redis, so a new worker starts clean."""
    if settings.REDIS_URL:
        from config.celery import app

        app.control.purge()


def start_worker(*, env: dict | None = None, hostname: str = "", stdout=subprocess.PIPE) -> subprocess.Popen:
    """One solo-pool worker process; `env` adds to the test settings' environment."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=solo",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=INFO",
    ]
    if hostname:
        command.append(f"--hostname={hostname}@%h")
    return subprocess.Popen(
        command,
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            **(env or {}),
        },
        stdout=stdout,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop_workers(started: list) -> None:
    """Stops the workers a test started (politely, then for good) and closes their logs."""
    for process, log in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def start_logged_worker(
    *, log_folder: Path, name: str, started: list, env: dict | None = None
) -> subprocess.Popen:
    """A worker named `name`-<random>, its output in a log file of `log_folder`; added to `started`."""
    hostname = f"{name}-{uuid.uuid4().hex[:8]}"
    log = (log_folder / f"{hostname}.log").open("w")
    process = start_worker(env=env, hostname=hostname, stdout=log)
    process.log_path = log.name
    started.append((process, log))
    return process


def wait_until(condition, *, worker: subprocess.Popen, what: str, timeout: float = 120) -> None:
    """Polls `condition` until it holds; fails if the worker exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert worker.poll() is None, f"the worker exited: see {worker.log_path}"
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s; worker log: {worker.log_path}"
        time.sleep(0.02)
