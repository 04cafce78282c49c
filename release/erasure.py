"""An erasure at the hub, store by store.

``thbdb erase`` (thbdb/cli/national.py) sends a country's record pseudonyms, computed with the
country's key on its operator's machine; the release service calls ``carry_out`` with
them. In order:

1. the records out of the raw layer, the quarantine and the linkage store, and onto the
   deny list (warehouse/erasure.py), under the warehouse's write lock;
2. the country's topic drained: events still waiting are loaded as the pipeline would
   load them, and those of the erased records dropped by the deny list;
3. the marts rebuilt, a new release snapshot published, every older snapshot deleted;
4. the warehouse and the linkage store rewritten into fresh files, so that no freed
   block keeps the erased rows;
5. the topic trimmed to what the warehouse loaded, and put on the clock, so the broker's
   files hold no event of the records after the stated time (pipeline/kafka_retention.py);
6. the validation reports written again from the new snapshot. The Great Expectations
   results stay: they are redacted when stored (expectations/data_docs.py) and hold
   counts per batch, no pseudonym and no value, which the erasure test checks.

The pseudonyms themselves are written nowhere by this: not the audit log, not a log
line, not the deny list (which holds keyed hashes).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from config.settings import Settings
from pipeline import kafka_security
from release import snapshot
from release.files import hub_secret
from warehouse import erasure
from warehouse.loader import connect, ensure_schema, refresh_marts

log = logging.getLogger("thbdb.release.erasure")


@dataclass
class Outcome:
    """What an erasure removed, by store; counts only."""

    country: str
    kind: str
    warehouse: erasure.Erased
    dropped_waiting: int = 0  # events of the records still waiting in Kafka, dropped
    snapshots_deleted: int = 0
    files_rewritten: int = 0
    broker_clear_by: float = 0.0  # epoch seconds: no event of the records in the broker's files

    def as_dict(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "kind": self.kind,
            **self.warehouse.as_dict(),
            "dropped_waiting": self.dropped_waiting,
            "snapshots_deleted": self.snapshots_deleted,
            "files_rewritten": self.files_rewritten,
            "broker_clear_by": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.broker_clear_by)),
        }


def carry_out(settings: Settings, country: str, kind: erasure.Kind, refs: list[str]) -> Outcome:
    """Erase ``country``'s records ``refs`` of ``kind`` from every store of the hub.

    Idempotent: a fault part-way leaves the deny list in place (or nothing done), and
    asking again carries the rest out."""
    from pipeline.drain import drain_country, trim_loaded, write_reports

    secret = hub_secret(settings.hub_secrets_dir, erasure.SECRET_FILE)
    with connect(settings.warehouse, wait_seconds=600) as con:
        ensure_schema(con)
        removed = erasure.erase(con, country, kind, sorted(set(refs)), secret)
    drained = drain_country(settings, country, principal=kafka_security.ERASER)
    with connect(settings.warehouse, wait_seconds=600) as con:
        refresh_marts(con, settings.link_threshold, settings.warehouse_memory)
        snapshot.publish(con, settings, whole=True)  # a new file: no copy keeps the erased rows' bytes
        rewritten = erasure.rewrite(con)
    trim_loaded(settings, kafka_security.ERASER)
    outcome = Outcome(country, kind, removed, dropped_waiting=drained.erased, files_rewritten=len(rewritten))
    outcome.broker_clear_by = time.time() + settings.erasure_seconds
    outcome.snapshots_deleted = snapshot.keep_current_only(settings)
    write_reports(settings)
    log.info("erasure for %s: %s", country, {k: v for k, v in outcome.as_dict().items() if k != "country"})
    return outcome
