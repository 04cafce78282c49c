"""Starting and stopping the stack's background processes, tracked by pid files."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from thbdb.accounts import Account


def pid_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def running_pid(run_dir: Path, name: str) -> int | None:
    """The pid of a live process started under ``name``, or None."""
    path = pid_file(run_dir, name)
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    except PermissionError:
        return pid
    # A zombie child counts as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        if state == "Z":
            path.unlink(missing_ok=True)
            return None
    except OSError:
        pass
    return pid


def start_process(
    run_dir: Path,
    log_dir: Path,
    name: str,
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: Path | None = None,
    account: Account | None = None,
) -> int:
    """Start ``command`` detached (its own session), logging to ``log_dir/name.log``;
    as ``account`` when given (the hub's, see thbdb/accounts.py)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path, pid_path = log_dir / f"{name}.log", pid_file(run_dir, name)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            **(account.popen() if account else {}),
        )
    pid_path.write_text(f"{process.pid}\n")
    for path in (log_path, pid_path):  # the process's own, like the rest of its state
        path.chmod(0o600)
        if account:
            os.chown(path, account.uid, account.gid)
    return process.pid


def wait_until_answering(
    answers: Callable[[], bool], run_dir: Path, log_dir: Path, name: str, what: str, timeout: float
) -> None:
    """Wait until ``answers()``; raise naming the log if the process ``name`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers():
            return
        if running_pid(run_dir, name) is None:
            raise RuntimeError(f"{what} exited; see {log_dir / (name + '.log')}")
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer in {timeout:.0f} s")


def stop_process(
    run_dir: Path, name: str, timeout: float = 30.0, first_signal: signal.Signals = signal.SIGTERM
) -> bool:
    """Stop the process group started under ``name``: TERM (or ``first_signal``), then
    KILL. True if one ran."""
    pid = running_pid(run_dir, name)
    if pid is None:
        return False
    for sig, wait in ((first_signal, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if running_pid(run_dir, name) is None:
                break
            _reap(pid)
            time.sleep(0.2)
        else:
            continue
        break
    pid_file(run_dir, name).unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
