"""The regional pipeline DAG: drain each country's topic, validate, quarantine, load.

Orchestration only: the work is in pipeline.drain, which tests and benchmarks call
directly. Nothing heavy is imported at parse time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, get_current_context, task

from transforms.codelists import load_codelists  # a YAML file: light enough at parse time

COUNTRIES = list(load_codelists().reporting_countries)


@dag(
    dag_id="thbdb_pipeline",
    schedule=None,  # triggered by `thbdb run`; the streaming path is dags/thbdb_stream.py
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,  # one writer for the warehouse at a time
    tags=["thbdb"],
    doc_md=__doc__,
)
def thbdb_pipeline() -> None:
    # Two countries at a time: each batch is its own warehouse transaction, and a task
    # waits for the other's write lock between batches.
    # A drain killed mid-way is safe to retry at once: each batch committed with its
    # offsets, so the retry starts where the last commit ended.
    @task(max_active_tis_per_dagrun=2, retries=2, retry_delay=timedelta(seconds=5))
    def drain_country(country: str) -> dict[str, object]:
        """Validate and load everything the country published since the last run."""
        from config.logs import setup_logging
        from config.settings import Settings
        from pipeline.drain import drain_country as drain

        setup_logging()
        run_id = get_current_context()["run_id"]
        return drain(Settings.from_env(), country, airflow_run_id=run_id).as_dict()

    @task
    def refresh_marts(reports: list[dict[str, object]]) -> dict[str, int]:
        """Rebuild the marts and the validation reports once every country is loaded."""
        from config.settings import Settings
        from pipeline.drain import LOAD_COUNTERS, refresh_warehouse

        refresh_warehouse(Settings.from_env())
        return {k: sum(int(r[k]) for r in reports) for k in LOAD_COUNTERS}  # type: ignore[call-overload]

    refresh_marts(drain_country.expand(country=COUNTRIES))  # type: ignore[arg-type]


thbdb_pipeline()
