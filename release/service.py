"""The release service: the only way counts, reports and exports leave the hub.

A FastAPI application served by uvicorn over TLS, started by ``thbdb up`` under the
hub's account. Each request carries a bearer token; the service finds the identity,
checks what its role may have (``release.access``), answers from the current release
snapshot (``release.snapshot``), opened read-only, and writes one line to the audit log
whatever the outcome. The CLI's query, report, export, check-table, quarantine, audit
and erase commands are its clients (``release.client``). An erasure is the one request
that changes the hub (``release.erasure``). Beside the requests, a thread runs the clock
that lets the broker delete what the hub loaded (``pipeline.kafka_retention``).

Run: ``python -m release.service`` with the hub's THBDB_* settings in the environment.
"""

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from config.settings import Settings
from disclosure.policy import load_policy
from pipeline import kafka_retention
from release import answers, audit, identities, snapshot, web
from release.access import Identity, Refused
from transforms.published_tables import TableRejected
from warehouse.queries import QueryError

log = logging.getLogger("thbdb.release")

Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Year = Annotated[int, Field(ge=1900, le=2200)]
Pseudonym = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Counted(_Request):
    """What every count takes: a country, a range of years, a threshold."""

    country: Country | None = None
    year_from: Year | None = None
    year_to: Year | None = None
    min_cell: int | None = None


class CountsRequest(_Counted):
    by: str
    totals: bool = False


class LinksRequest(_Counted):
    by: str = "pair,year"


class TrendsRequest(_Counted):
    dimension: str
    period: Literal["year", "quarter"] = "year"
    filter: str | None = None
    alpha: float = Field(0.05, gt=0, lt=1)


class EstimateRequest(_Request):
    country: Country
    year_from: Year | None = None
    year_to: Year | None = None


class PerpetratorsRequest(_Counted):
    by: str


class QuarantineRequest(_Request):
    country: Country


class ValidationRequest(_Request):
    country: Country | None = None


class PrivacyRequest(_Request):
    pass


class DataProtectionRequest(_Request):
    pass


class AnalysisRequest(_Request):
    min_cell: int | None = None
    alpha: float = Field(0.05, gt=0, lt=1)


class ExportRequest(_Request):
    format: Literal["csv", "parquet", "htcds", "dp-synthetic"]
    min_cell: int | None = None
    k: int | None = Field(None, ge=2)
    epsilon: float = Field(1.0, gt=0)


class PublishedCellModel(_Request):
    country: Country
    year: Year
    dimension: str
    category: str
    victims: int | None


class CheckTableRequest(_Request):
    cells: list[PublishedCellModel] = Field(max_length=100_000)


class AuditRequest(_Request):
    last: int | None = Field(None, ge=1)


class ErasureRequest(_Request):
    country: Country
    kind: Literal["victims", "perpetrators"] = "victims"
    # The records' pseudonyms (keyed hashes made by the country), never national ids.
    record_refs: list[Pseudonym] = Field(min_length=1, max_length=100_000)


# Each operation: its request model and what answers it from a snapshot.
OPERATIONS: dict[str, tuple[type[_Request], answers.Computation]] = {
    "query/counts": (CountsRequest, answers.counts),
    "query/links": (LinksRequest, answers.links),
    "query/trends": (TrendsRequest, answers.trends),
    "query/perpetrators": (PerpetratorsRequest, answers.perpetrators),
    "query/estimate": (EstimateRequest, answers.estimate),
    "quarantine": (QuarantineRequest, answers.quarantine),
    "report/validation": (ValidationRequest, answers.validation),
    "report/privacy": (PrivacyRequest, answers.privacy),
    "report/analysis": (AnalysisRequest, answers.analysis),
    "report/data-protection": (DataProtectionRequest, answers.data_protection),
    "export": (ExportRequest, answers.export),
    "check-table": (CheckTableRequest, answers.check_table),
}
# Operations on the hub itself rather than on a snapshot.
HUB_OPERATIONS: dict[str, tuple[type[_Request], answers.HubAction]] = {
    "audit": (AuditRequest, answers.audit),
    "erase": (ErasureRequest, answers.erase),
}


def _logged_parameters(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a request: a published table by its size only, an
    erasure by its country, kind and number of records (never the pseudonyms)."""
    if operation == "check-table":
        return {"cells": len(body.get("cells", []))}
    if operation == "erase":
        refs = body.get("record_refs")
        return {
            "country": body.get("country"),
            "kind": body.get("kind"),
            "records": len(refs) if isinstance(refs, list) else None,
        }
    return body


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="thbdb release service",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lambda _app: _kafka_clock(settings),
    )
    verify = identities.Verifier(settings.hub_secrets_dir)
    bearer = HTTPBearer(auto_error=False)

    def audit_entry(
        request: Request, who: Identity | None, outcome: str, operation: str | None = None, **more: Any
    ) -> None:
        audit.record(
            settings.audit_dir,
            {
                "who": who.name if who else None,
                "role": who.role.value if who else None,
                "country": who.country if who else None,
                "operation": operation or request.url.path.removeprefix("/v1/"),
                "outcome": outcome,
                **more,
            },
        )

    def identity(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Identity:
        if credentials is None:
            audit_entry(request, None, "unauthenticated", detail="no token")
            raise HTTPException(401, "no token: pass --token or set THBDB_TOKEN")
        try:
            return verify(credentials.credentials)
        except identities.IdentityError as error:
            audit_entry(request, None, "unauthenticated", detail=str(error))
            raise HTTPException(401, str(error)) from None

    def run(request: Request, who: Identity, operation: str, body: dict[str, Any], via: str = "api") -> dict[str, Any]:
        """Answer one operation for ``who``, audited; HTTPException with one line if not.
        ``via``: the API (the CLI) or the browser's pages (release/web.py)."""
        logged = _logged_parameters(operation, body)
        via_browser: dict[str, Any] = {"via": via} if via != "api" else {}

        def _audit(request: Request, who: Identity, outcome: str, **more: Any) -> None:
            audit_entry(request, who, outcome, operation, **via_browser, **more)

        model = (OPERATIONS.get(operation) or HUB_OPERATIONS[operation])[0]
        try:
            parameters = model.model_validate(body).model_dump()
        except ValueError as error:
            _audit(request, who, "invalid", parameters=logged)
            raise HTTPException(422, f"invalid request: {error}".splitlines()[0]) from None
        context = answers.Context(who, load_policy(), settings)
        release_id = None
        try:
            if operation in HUB_OPERATIONS:
                result = HUB_OPERATIONS[operation][1](context, parameters)
            else:
                release_id = snapshot.current(settings).name
                with snapshot.open_current(settings) as con:
                    result = OPERATIONS[operation][1](con, context, parameters)
        except Refused as error:
            _audit(request, who, "refused", parameters=logged, detail=str(error), release=release_id)
            raise HTTPException(403, str(error)) from None
        except (QueryError, TableRejected) as error:
            _audit(request, who, "invalid", parameters=logged, detail=str(error), release=release_id)
            raise HTTPException(400, str(error)) from None
        except snapshot.NoRelease as error:
            _audit(request, who, "no release", parameters=logged)
            raise HTTPException(503, str(error)) from None
        except Exception:  # logged in full here; one line to the client and the audit log
            log.exception("%s failed", operation)
            _audit(request, who, "failed", parameters=logged, release=release_id)
            raise HTTPException(500, "the release service failed on this request; its log says why") from None
        _audit(request, who, "answered", parameters=logged, release=release_id, cells=result.cells,
               withheld=result.withheld, exact=result.exact, epsilon=result.epsilon)  # fmt: skip
        return {"release": release_id, "identity": str(who), **result.as_json()}

    def answer(request: Request, who: Identity, operation: str, body: dict[str, Any]) -> JSONResponse:
        return JSONResponse(jsonable_encoder(run(request, who, operation, body)))

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        try:
            release_id: str | None = snapshot.current(settings).name
        except snapshot.NoRelease:
            release_id = None
        return {"ok": True, "release": release_id}

    @app.get("/v1/whoami")
    def whoami(who: Annotated[Identity, Depends(identity)]) -> dict[str, Any]:
        return {"name": who.name, "role": who.role.value, "country": who.country}

    @app.post("/v1/{group}/{name}")
    def grouped(
        request: Request, group: str, name: str, body: dict[str, Any], who: Annotated[Identity, Depends(identity)]
    ) -> JSONResponse:
        operation = f"{group}/{name}"
        if operation not in OPERATIONS:
            raise HTTPException(404, f"no operation {operation}")
        return answer(request, who, operation, body)

    @app.post("/v1/{operation}")
    def single(
        request: Request, operation: str, body: dict[str, Any], who: Annotated[Identity, Depends(identity)]
    ) -> JSONResponse:
        if operation not in OPERATIONS and operation not in HUB_OPERATIONS:
            raise HTTPException(404, f"no operation {operation}")
        return answer(request, who, operation, body)

    app.include_router(web.pages(settings, verify, run, audit_entry))
    return app


@contextlib.asynccontextmanager
async def _kafka_clock(settings: Settings) -> AsyncIterator[None]:
    """The Kafka clock (pipeline/kafka_retention.py) ticks beside the service while it runs."""
    stop = threading.Event()
    clock = threading.Thread(target=kafka_retention.run_clock, args=(settings, stop), name="kafka-clock", daemon=True)
    clock.start()
    try:
        yield
    finally:
        stop.set()


def main() -> None:
    """Serve the release service on the hub's port, over TLS (``thbdb up`` runs this)."""
    import uvicorn

    from release import tls

    settings = Settings.from_env()
    cert, key = tls.ensure(settings.hub_secrets_dir, settings.hub_names)
    try:  # where clients find the CA (by root's hand instead when the home is root's)
        tls.publish_ca(settings.hub_secrets_dir, settings.home / "hub-ca.pem")
    except PermissionError:
        pass
    # A fresh token for the CLI on this machine (thbdb up publishes nothing else of it).
    identities.make_local_admin(settings.hub_secrets_dir, load_policy().token_days)
    uvicorn.run(
        create_app(settings),
        host=settings.hub_host,
        port=settings.hub_port,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        log_level="warning",
        access_log=False,  # the audit log is the record of requests; uvicorn's would duplicate it
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
