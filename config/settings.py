"""The one settings object: paths, broker and Airflow addresses, thresholds.

Read from the environment (THBDB_*, pydantic-settings) once, by the command line or a
task, and handed down; no other module reads the environment. A child process (an Airflow
task) gets the same settings back from ``to_env``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from config.cluster_layout import LAYOUT_FILE, BrokerNode, ClusterLayout
from transforms.codelists import load_codelists

REPO_ROOT = Path(__file__).resolve().parents[1]
# The reporting countries, from the code lists (transforms/codelists/regional-v1.yaml).
COUNTRIES = load_codelists().reporting_countries
# Under $THBDB_HOME/kafka: present when the broker was formatted with SCRAM credentials.
SECURE_MARKER = "secure"
PREFIX = "THBDB_"
# Set while from_env builds settings from the variables it read itself.
_GIVEN_ENVIRONMENT: ContextVar[bool] = ContextVar("thbdb_given_environment", default=False)
_SIZE = re.compile(r"\d+(?:\.\d+)?\s*[KMGT]i?B", re.IGNORECASE)


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; False where it cannot be seen (a client on the hub's
    machine may not look into the hub's folders)."""
    try:
        return path.exists()
    except PermissionError:
        return False


class HomeFolder:
    """A folder (or file) under THBDB_HOME, read as an attribute of the settings."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    def __get__(self, settings: Settings, owner: type | None = None) -> Path:
        return settings.home.joinpath(*self.parts)


class Settings(BaseSettings):
    """Every field is read from THBDB_<FIELD> unless it names another variable."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="ignore", validate_by_name=True)

    home: Path = Path(".thbdb")
    kafka_host: str = "127.0.0.1"
    kafka_port: int = 39092
    kafka_controller_port: int = 39093
    # Set to use a broker somewhere else (a real deployment): `up` then starts none.
    external_kafka: str | None = Field(None, validation_alias="THBDB_KAFKA_BOOTSTRAP")
    airflow_port: int = 38080
    # The release service (release/service.py): the only way outputs leave the hub.
    hub_port: int = 38443
    # Where the service listens (loopback unless deployed: THBDB_HUB_HOST), and the names
    # clients reach it by, put in its certificate (THBDB_HUB_NAMES, comma-separated).
    hub_host: str = "127.0.0.1"
    hub_names: Annotated[tuple[str, ...], NoDecode] = ()
    # A hub elsewhere (THBDB_HUB_URL) and the CA file that vouches for it (THBDB_HUB_CA);
    # by default the local hub and the CA certificate it wrote under the home.
    external_hub_url: str | None = Field(None, validation_alias="THBDB_HUB_URL")
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
    # (THBDB_ACCOUNTS=on|off, on by default; it takes effect only for root, who alone can
    # change account; see thbdb/accounts.py).
    accounts: bool = True
    # The cluster profile (`thbdb up --cluster`): three brokers, Airflow on PostgreSQL with
    # Celery workers. On for good once the home has its layout file (config/cluster_layout.py).
    cluster: bool = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No .env file, no secrets folder: the environment only, and not even that when
        # from_env was handed one of its own (a child's, a test's).
        return (init_settings,) if _GIVEN_ENVIRONMENT.get() else (init_settings, env_settings)

    @field_validator("home", mode="after")
    @classmethod
    def _resolved(cls, home: Path) -> Path:
        return home.expanduser().resolve()

    @field_validator("hub_names", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return tuple(n.strip() for n in value.split(",") if n.strip()) if isinstance(value, str) else value

    @field_validator("hub_host", mode="before")
    @classmethod
    def _stripped(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("external_hub_url", mode="before")
    @classmethod
    def _no_trailing_slash(cls, value: object) -> object:
        return value.rstrip("/") if isinstance(value, str) else value

    @field_validator("warehouse_memory", mode="before")
    @classmethod
    def _a_size(cls, value: object) -> object:
        if isinstance(value, str) and not _SIZE.fullmatch(value.strip()):
            raise ValueError("THBDB_WAREHOUSE_MEMORY must be a size such as 1GB or 512MB")
        return value.strip() if isinstance(value, str) else value

    @field_validator("accounts", mode="before")
    @classmethod
    def _on_or_off(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().lower() not in ("on", "off"):
                raise ValueError("THBDB_ACCOUNTS must be on or off")
            return value.strip().lower() == "on"
        return value

    @model_validator(mode="before")
    @classmethod
    def _secure_when_credentialled(cls, data: Any) -> Any:
        """A home whose broker was formatted with credentials stays secure (its marker
        file), and so does a client given a broker identity."""
        if isinstance(data, dict):
            home = Path(data.get("home") or ".thbdb").expanduser()
            if data.get("kafka_sasl_username") or _exists(home.resolve() / "kafka" / SECURE_MARKER):
                data = {**data, "kafka_secure": True}
            if _exists(home.resolve() / LAYOUT_FILE):
                data = {**data, "cluster": True}
        return data

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of an environment (by default this process's); a bad value is
        refused naming its variable."""
        env = os.environ if env is None else env
        values = {name: env[var] for name, var in _VARIABLES.items() if env.get(var)}
        token = _GIVEN_ENVIRONMENT.set(True)
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            first = error.errors()[0]
            variable = _VARIABLES.get(str(first["loc"][0]) if first["loc"] else "", "THBDB_*")
            if first["type"] == "int_parsing":
                raise ValueError(f"{variable} must be a whole number") from None
            if first["type"] == "float_parsing":
                raise ValueError(f"{variable} must be a number") from None
            raise ValueError(str(first["msg"]).removeprefix("Value error, ").replace("THBDB_*", variable)) from None
        finally:
            _GIVEN_ENVIRONMENT.reset(token)

    def to_env(self) -> dict[str, str]:
        """What a child process (Airflow) needs to build the same settings."""
        env = {}
        for name, variable in _VARIABLES.items():
            value = getattr(self, name)
            if value is None or value == () or (name in ("kafka_secure", "cluster") and not value):
                continue
            if name == "accounts":
                env[variable] = "on" if value else "off"
            elif isinstance(value, tuple):
                env[variable] = ",".join(value)
            elif isinstance(value, bool):
                env[variable] = "1"
            else:
                env[variable] = str(value)
        return env

    # What lives under THBDB_HOME.
    warehouse: ClassVar[HomeFolder] = HomeFolder("warehouse", "thbdb.duckdb")
    # release snapshots: the marts outputs are computed from, nothing else
    releases_dir: ClassVar[HomeFolder] = HomeFolder("releases")
    # the release service's audit log: every request, who, what, when
    audit_dir: ClassVar[HomeFolder] = HomeFolder("audit")
    # the region's secrets as handed out (the linkage key, broker credentials)
    keys_dir: ClassVar[HomeFolder] = HomeFolder("keys")
    # the hub's own credentials (the pipeline's broker password)
    hub_secrets_dir: ClassVar[HomeFolder] = HomeFolder("hub-secrets")
    # analysts' exports (CSV, Parquet): aggregates and generalised rows only
    exports_dir: ClassVar[HomeFolder] = HomeFolder("exports")
    kafka_dir: ClassVar[HomeFolder] = HomeFolder("kafka")
    airflow_home: ClassVar[HomeFolder] = HomeFolder("airflow")
    reports_dir: ClassVar[HomeFolder] = HomeFolder("reports")
    gx_dir: ClassVar[HomeFolder] = HomeFolder("gx")
    run_dir: ClassVar[HomeFolder] = HomeFolder("run")
    logs_dir: ClassVar[HomeFolder] = HomeFolder("logs")

    @property
    def cluster_layout(self) -> ClusterLayout | None:
        """The cluster profile's ports, or None for the embedded stack."""
        return ClusterLayout.read(self.home) if self.cluster else None

    @property
    def kafka_nodes(self) -> list[BrokerNode]:
        """The brokers this home runs: three in the cluster profile, else one."""
        layout = self.cluster_layout
        if layout is not None:
            return layout.brokers
        return [BrokerNode(id=1, port=self.kafka_port, controller_port=self.kafka_controller_port)]

    @property
    def kafka_bootstrap(self) -> str:
        return self.external_kafka or ",".join(f"{self.kafka_host}:{n.port}" for n in self.kafka_nodes)

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

    def country_keys_dir(self, country: str) -> Path:
        """One country's own keys: its pseudonymisation key, its copy of the linkage key,
        its broker password."""
        return self.home / "country" / country

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


def country_topic(country: str) -> str:
    """The Kafka topic a country's producer writes to; one per country."""
    return f"thbdb.events.{country.lower()}"


def _variable(name: str) -> str:
    alias = Settings.model_fields[name].validation_alias
    return alias if isinstance(alias, str) else PREFIX + name.upper()


# Each field's environment variable, the one place both directions read.
_VARIABLES = {name: _variable(name) for name in Settings.model_fields}
