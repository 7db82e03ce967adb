# The project's image, used by docker-compose.yaml and by deploy/helm/values.yaml: Airflow
# components (Celery executor included), the `driftloop` CLI (what Kubernetes pods run), the DAGs,
# the plugin, the pipeline configs and the GX project baked in. Dependencies come from uv.lock
# (exact pins), so the image runs what the tests ran. Runs as uid 50000, gid 0 (as Airflow's own
# image and the official Helm chart expect).

# Data Docs' scripts, styles and fonts, fetched from npm (include/driftloop/airflow/offline.py) in a
# throwaway stage, so the plugin serves them and the pages work behind a firewall.
FROM python:3.11-slim-bookworm AS web-assets
RUN apt-get update && apt-get install -y --no-install-recommends npm && rm -rf /var/lib/apt/lists/*
COPY include/driftloop/airflow/offline.py /tmp/offline.py
RUN DRIFTLOOP_WEB_ASSETS=/web_assets python /tmp/offline.py

FROM python:3.11-slim-bookworm

# UV_NO_CACHE: uv's cache (/root/.cache/uv: hard links to the installed files plus what it built
# from sources, a git checkout included; about 30 MB of its own) is not left in the image.
ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_NO_CACHE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/driftloop/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/driftloop/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    DRIFTLOOP_CONFIG=/opt/driftloop/configs/churn.yaml

RUN pip install --no-cache-dir uv==0.13.9 && useradd --create-home --uid 50000 --gid 0 driftloop
WORKDIR /opt/driftloop
# The dependencies' layer depends on the lock and pyproject only: an edit of README.md (read when
# the project itself is installed, below) does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY README.md ./
COPY include ./include
COPY --from=web-assets /web_assets ./include/driftloop/airflow/web_assets
COPY dags ./dags
COPY plugins ./plugins
COPY configs ./configs
COPY great_expectations ./great_expectations
COPY deploy ./deploy
COPY docker ./docker
# Folders that compose mounts named volumes on must exist owned by the runtime user, so the volumes
# start writable by it (Docker copies ownership into a fresh named volume).
RUN uv sync --frozen --no-dev \
    && mkdir -p $AIRFLOW_HOME/logs $AIRFLOW_HOME/auth $AIRFLOW_HOME/driftloop \
    && chown -R driftloop:0 $AIRFLOW_HOME && chmod -R g+rwX $AIRFLOW_HOME
USER driftloop
ENTRYPOINT []
CMD ["driftloop", "--help"]
