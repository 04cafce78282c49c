"""The streaming consumer DAG: publish to queryable in seconds, without `thbdb run`.

One task keeps a consumer alive for a window (THBDB_STREAM_WINDOW seconds, 10 minutes by
default), draining each country's topic as events arrive and rebuilding the marts after
each load, then returns; the continuous schedule starts the next run at once. Logs,
retries and restarts stay Airflow's.

Paused when created: it runs only after an operator turns it on (`thbdb stream on`).
Both DAGs may run together: loading is idempotent and stored offsets only move forward.
Orchestration only: the work is in pipeline.stream. Nothing heavy is imported at parse time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, get_current_context, task

DAG_ID = "thbdb_stream"


@dag(
    dag_id=DAG_ID,
    schedule="@continuous",  # the next window starts when the last one returns
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,  # one consumer
    is_paused_upon_creation=True,  # off until `thbdb stream on`
    tags=["thbdb"],
    doc_md=__doc__,
)
def thbdb_stream() -> None:
    @task(retries=3, retry_delay=timedelta(seconds=10))
    def consume() -> dict[str, object]:
        """Drain every country as events arrive, for one window."""
        from config.logs import setup_logging
        from config.settings import Settings
        from pipeline.stream import stream

        setup_logging()
        context = get_current_context()
        ti = context["ti"]

        def paused() -> bool:  # `thbdb stream off` pauses the DAG: end the window early
            return bool(ti.get_dag(DAG_ID).is_paused)

        return stream(Settings.from_env(), airflow_run_id=context["run_id"], should_stop=paused).as_dict()

    consume()


thbdb_stream()
