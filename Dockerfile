# The project's image: Airflow components, the `driftloop` CLI (what Kubernetes pods run), the DAGs,
# the plugin and the GX project. Dependencies come from uv.lock, so the image matches the tests.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/driftloop/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/driftloop/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    DRIFTLOOP_CONFIG=/opt/driftloop/configs/churn.yaml

RUN pip install --no-cache-dir uv==0.13.9 && useradd --create-home --uid 50000 driftloop
WORKDIR /opt/driftloop
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY include ./include
COPY dags ./dags
COPY plugins ./plugins
COPY configs ./configs
COPY great_expectations ./great_expectations
RUN uv sync --frozen --no-dev && mkdir -p $AIRFLOW_HOME && chown -R driftloop $AIRFLOW_HOME
USER driftloop
ENTRYPOINT []
CMD ["driftloop", "--help"]
