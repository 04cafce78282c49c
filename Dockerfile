# The pipeline image: the thbdb package, its pinned dependencies and the DAGs, on the
# Airflow base used by every Airflow service in docker-compose.yml.
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends default-jre-headless maven \
 && rm -rf /var/lib/apt/lists/*
USER airflow

WORKDIR /opt/thbdb
COPY --chown=airflow:root pyproject.toml uv.lock README.md ./
COPY --chown=airflow:root thbdb ./thbdb
COPY --chown=airflow:root producers ./producers
COPY --chown=airflow:root transforms ./transforms
COPY --chown=airflow:root expectations ./expectations
COPY --chown=airflow:root warehouse ./warehouse
COPY --chown=airflow:root dags ./dags
COPY --chown=airflow:root release ./release
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv export --frozen --no-dev --no-emit-project -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps .
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/thbdb/dags
