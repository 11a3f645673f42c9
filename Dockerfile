# syntax=docker/dockerfile:1
# Multi-stage: build the virtualenv from the hashed lock file, run as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /app
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /venv
COPY requirements.lock pyproject.toml ./
RUN /venv/bin/pip install --require-hashes -r requirements.lock
COPY app ./app
COPY alembic ./alembic
COPY alembic.ini ./


FROM python:3.11-slim AS runtime
RUN groupadd --system app && useradd --system --gid app --home /app app
WORKDIR /app
COPY --from=build /venv /venv
COPY --from=build /app /app
ENV PATH=/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 APP_ENV=prod MEDIA_ROOT=/data/media
RUN mkdir -p /data/media /data/audit && chown -R app:app /data
USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
# Migrations are a separate step: `docker compose run --rm migrate` (alembic upgrade head).
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--workers", "2"]
