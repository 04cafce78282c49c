"""Starting and stopping the release service as one of the stack's processes."""

from __future__ import annotations

import os
import ssl
import sys
import time

import httpx

from config.settings import REPO_ROOT, Settings
from release import tls
from thbdb import accounts
from thbdb.processes import running_pid, start_process, stop_process

PROCESS = "release-service"


class ServiceError(RuntimeError):
    pass


def is_ready(settings: Settings) -> bool:
    """The local service answers over TLS with the hub's certificate."""
    ca = settings.hub_secrets_dir / tls.CA_CERT
    if not ca.exists():
        ca = settings.hub_ca_file
    try:
        context = ssl.create_default_context(cafile=str(ca))
        response = httpx.get(f"https://127.0.0.1:{settings.hub_port}/healthz", verify=context, timeout=2.0)
        return response.status_code == 200
    except (OSError, ssl.SSLError, httpx.HTTPError):
        return False


def start_service(settings: Settings, timeout: float = 60.0) -> bool:
    """Start the service (as the hub's account when accounts are on) unless it runs;
    wait until it answers, then publish the CA certificate. True if started."""
    started = False
    if running_pid(settings.run_dir, PROCESS) is None:
        hub = accounts.hub_for(settings)
        env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(REPO_ROOT)}
        if hub:
            env["HOME"] = "/nonexistent"
        start_process(settings.run_dir, settings.logs_dir, PROCESS, [sys.executable, "-m", "release.service"],
                      env, cwd=REPO_ROOT, account=hub)  # fmt: skip
        started = True
    deadline = time.monotonic() + timeout
    while not is_ready(settings):
        if running_pid(settings.run_dir, PROCESS) is None:
            log = settings.logs_dir / f"{PROCESS}.log"
            tail = log.read_text("utf-8", errors="replace")[-1500:] if log.exists() else ""
            raise ServiceError(f"the release service ended at start; its log ({log}):\n{tail}")
        if time.monotonic() > deadline:
            raise ServiceError(f"the release service did not answer within {timeout:.0f} s; see {settings.logs_dir}")
        time.sleep(0.3)
    tls.publish_ca(settings.hub_secrets_dir, settings.home / "hub-ca.pem")  # as root when the home is root's
    return started


def stop_service(settings: Settings) -> bool:
    return stop_process(settings.run_dir, PROCESS)
