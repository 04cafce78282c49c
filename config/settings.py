"""The one settings object: paths, broker and Airflow addresses, thresholds.

Read from the environment once, by the command line or a task, and handed down; no
other module reads the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
COUNTRIES = ("AL", "BA", "ME", "MK", "RS", "XK")
# Under $THBDB_HOME/kafka: present when the broker was formatted with SCRAM credentials.
SECURE_MARKER = "secure"


def _number(env: Mapping[str, str], name: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(env[name])
    except ValueError:
        raise ValueError(f"{name} must be a {'whole ' if kind is int else ''}number") from None


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; False where it cannot be seen (a client on the hub's
    machine may not look into the hub's folders)."""
    try:
        return path.exists()
    except PermissionError:
        return False


@dataclass(frozen=True)
class Settings:
    home: Path
    kafka_host: str = "127.0.0.1"
    kafka_port: int = 39092
    kafka_controller_port: int = 39093
    # Set to use a broker somewhere else (a real deployment): `up` then starts none.
    external_kafka: str | None = None
    airflow_port: int = 38080
    # The release service (release/service.py): the only way outputs leave the hub.
    hub_port: int = 38443
    # Where the service listens (loopback unless deployed: THBDB_HUB_HOST), and the names
    # clients reach it by, put in its certificate (THBDB_HUB_NAMES, comma-separated).
    hub_host: str = "127.0.0.1"
    hub_names: tuple[str, ...] = ()
    # A hub elsewhere (THBDB_HUB_URL) and the CA file that vouches for it (THBDB_HUB_CA);
    # by default the local hub and the CA certificate it wrote under the home.
    external_hub_url: str | None = None
    hub_ca: Path | None = None
    kafka_lib: Path = REPO_ROOT / ".cache" / "kafka" / "lib"
    dags_folder: Path = REPO_ROOT / "dags"
    topic_partitions: int = 3
    # Events per validated, atomically loaded micro-batch. Great Expectations costs about
    # half a second per batch whatever its size, so larger batches amortise it (README,
    # Performance); 20,000 events stay far below the worker's memory budget.
    batch_size: int = 20_000
    min_cell: int = 5  # smallest count shown to analysts; smaller cells are suppressed
    max_failure_rate: float = 0.5  # a batch failing validation more than this is held back whole
    link_threshold: float = 0.8  # Dice similarity from which two countries' records are one person
    # SASL/SCRAM with ACLs on the broker (`thbdb up --secure`; see pipeline/kafka_security.py).
    kafka_secure: bool = False
    # One identity for every client of this process (a country's machine, the deployed pipeline).
    kafka_sasl_username: str | None = None
    kafka_sasl_password_file: Path | None = None
    # The streaming consumer (DAG thbdb_stream): one Airflow task lives this many seconds,
    # then returns and Airflow starts the next; it looks for new events this often.
    stream_window: float = 600.0
    stream_poll: float = 0.5
    # DuckDB's memory for rebuilding the marts: beyond it DuckDB spills to disk, so the
    # worker's memory stays bounded however large the warehouse grows (README, Performance).
    warehouse_memory: str = "1GB"
    # The stated time within which an erased record leaves every file of the broker
    # (pipeline/kafka_retention.py): a day.
    erasure_seconds: float = 86_400.0
    # Run the hub and each country under accounts of their own when started by root
    # (THBDB_ACCOUNTS, on by default; see thbdb/accounts.py).
    accounts: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        base = cls(home=Path(env.get("THBDB_HOME", ".thbdb")).expanduser().resolve())
        ints = {
            "kafka_port": "THBDB_KAFKA_PORT",
            "kafka_controller_port": "THBDB_KAFKA_CONTROLLER_PORT",
            "airflow_port": "THBDB_AIRFLOW_PORT",
            "hub_port": "THBDB_HUB_PORT",
            "batch_size": "THBDB_BATCH_SIZE",
            "min_cell": "THBDB_MIN_CELL",
        }
        changes: dict[str, object] = {k: _number(env, v, int) for k, v in ints.items() if env.get(v)}
        floats = {
            "max_failure_rate": "THBDB_MAX_FAILURE_RATE",
            "link_threshold": "THBDB_LINK_THRESHOLD",
            "stream_window": "THBDB_STREAM_WINDOW",
            "stream_poll": "THBDB_STREAM_POLL",
            "erasure_seconds": "THBDB_ERASURE_SECONDS",
        }
        changes |= {k: _number(env, v, float) for k, v in floats.items() if env.get(v)}
        if env.get("THBDB_WAREHOUSE_MEMORY"):
            memory = env["THBDB_WAREHOUSE_MEMORY"].strip()
            if not re.fullmatch(r"\d+(?:\.\d+)?\s*[KMGT]i?B", memory, re.IGNORECASE):
                raise ValueError("THBDB_WAREHOUSE_MEMORY must be a size such as 1GB or 512MB")
            changes["warehouse_memory"] = memory
        if env.get("THBDB_KAFKA_BOOTSTRAP"):
            changes["external_kafka"] = env["THBDB_KAFKA_BOOTSTRAP"]
        if env.get("THBDB_HUB_HOST"):
            changes["hub_host"] = env["THBDB_HUB_HOST"].strip()
        if env.get("THBDB_HUB_NAMES"):
            changes["hub_names"] = tuple(n.strip() for n in env["THBDB_HUB_NAMES"].split(",") if n.strip())
        if env.get("THBDB_HUB_URL"):
            changes["external_hub_url"] = env["THBDB_HUB_URL"].rstrip("/")
        if env.get("THBDB_HUB_CA"):
            changes["hub_ca"] = Path(env["THBDB_HUB_CA"]).expanduser()
        if env.get("THBDB_KAFKA_LIB"):
            changes["kafka_lib"] = Path(env["THBDB_KAFKA_LIB"])
        if env.get("THBDB_KAFKA_SASL_USERNAME"):
            changes["kafka_sasl_username"] = env["THBDB_KAFKA_SASL_USERNAME"]
        if env.get("THBDB_KAFKA_SASL_PASSWORD_FILE"):
            changes["kafka_sasl_password_file"] = Path(env["THBDB_KAFKA_SASL_PASSWORD_FILE"])
        # On unless turned off: it takes effect only for root, who alone can change account.
        accounts = env.get("THBDB_ACCOUNTS", "on").strip().lower()
        if accounts not in ("on", "off"):
            raise ValueError("THBDB_ACCOUNTS must be on or off")
        changes["accounts"] = accounts == "on"
        # A home whose broker was formatted with credentials stays secure (its marker file).
        secure = env.get("THBDB_KAFKA_SECURE", "").lower() in ("1", "true", "yes")
        if secure or "kafka_sasl_username" in changes or _exists(base.kafka_dir / SECURE_MARKER):
            changes["kafka_secure"] = True
        return replace(base, **changes)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """What a child process (Airflow) needs to build the same settings."""
        env = {
            "THBDB_HOME": str(self.home),
            "THBDB_KAFKA_PORT": str(self.kafka_port),
            "THBDB_KAFKA_CONTROLLER_PORT": str(self.kafka_controller_port),
            "THBDB_AIRFLOW_PORT": str(self.airflow_port),
            "THBDB_HUB_PORT": str(self.hub_port),
            "THBDB_HUB_HOST": self.hub_host,
            "THBDB_BATCH_SIZE": str(self.batch_size),
            "THBDB_MIN_CELL": str(self.min_cell),
            "THBDB_MAX_FAILURE_RATE": str(self.max_failure_rate),
            "THBDB_LINK_THRESHOLD": str(self.link_threshold),
            "THBDB_KAFKA_LIB": str(self.kafka_lib),
            "THBDB_STREAM_WINDOW": str(self.stream_window),
            "THBDB_STREAM_POLL": str(self.stream_poll),
            "THBDB_ERASURE_SECONDS": str(self.erasure_seconds),
            "THBDB_WAREHOUSE_MEMORY": self.warehouse_memory,
            "THBDB_ACCOUNTS": "on" if self.accounts else "off",
        }
        if self.external_kafka:
            env["THBDB_KAFKA_BOOTSTRAP"] = self.external_kafka
        if self.hub_names:
            env["THBDB_HUB_NAMES"] = ",".join(self.hub_names)
        if self.kafka_secure:
            env["THBDB_KAFKA_SECURE"] = "1"
        if self.kafka_sasl_username:
            env["THBDB_KAFKA_SASL_USERNAME"] = self.kafka_sasl_username
        if self.kafka_sasl_password_file:
            env["THBDB_KAFKA_SASL_PASSWORD_FILE"] = str(self.kafka_sasl_password_file)
        return env

    @property
    def kafka_bootstrap(self) -> str:
        return self.external_kafka or f"{self.kafka_host}:{self.kafka_port}"

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    @property
    def hub_url(self) -> str:
        """The release service: the local hub's unless THBDB_HUB_URL names another."""
        return self.external_hub_url or f"https://127.0.0.1:{self.hub_port}"

    @property
    def hub_ca_file(self) -> Path:
        """The CA certificate that vouches for the hub (public: the hub's admin hands it out)."""
        return self.hub_ca or self.home / "hub-ca.pem"

    @property
    def releases_dir(self) -> Path:
        """Release snapshots: the marts that outputs are computed from, nothing else."""
        return self.home / "releases"

    @property
    def audit_dir(self) -> Path:
        """The release service's audit log: every request, who, what, when."""
        return self.home / "audit"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse" / "thbdb.duckdb"

    @property
    def keys_dir(self) -> Path:
        """The region's secrets as handed out (the linkage key, broker credentials)."""
        return self.home / "keys"

    def country_keys_dir(self, country: str) -> Path:
        """One country's own keys: its pseudonymisation key, its copy of the linkage key,
        its broker password."""
        return self.home / "country" / country

    @property
    def hub_secrets_dir(self) -> Path:
        """The hub's own credentials (the pipeline's broker password)."""
        return self.home / "hub-secrets"

    @property
    def hub_dirs(self) -> tuple[Path, ...]:
        """Everything the hub's account owns; no key is under any of them."""
        return (
            self.kafka_dir,
            self.airflow_home,
            self.warehouse.parent,
            self.gx_dir,
            self.reports_dir,
            self.exports_dir,
            self.logs_dir,
            self.run_dir,
            self.hub_secrets_dir,
            self.releases_dir,
            self.audit_dir,
        )

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def gx_dir(self) -> Path:
        return self.home / "gx"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def exports_dir(self) -> Path:
        """Analysts' exports (CSV, Parquet): aggregates and generalised rows only."""
        return self.home / "exports"


def country_topic(country: str) -> str:
    """The Kafka topic a country's producer writes to; one per country."""
    return f"thbdb.events.{country.lower()}"
