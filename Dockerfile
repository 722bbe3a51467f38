# syntax=docker/dockerfile:1
# The one image of the service; what it runs is chosen by its command (bin/web, bin/worker,
# bin/beat, bin/migrate), the same scripts CI runs. Not built on the development machines
# (no Docker engine there): see README, "Deploy".

# --- build: compile wheels into a virtualenv ------------------------------------------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libpq-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

# --- runtime: slim, no compilers, not root --------------------------------------------------
FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHON=/opt/venv/bin/python \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin fitness
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=fitness:fitness . /app
# Static files (admin, API docs) are collected into the image; WhiteNoise serves them.
# DEBUG only lets collectstatic run without the production secret, which the image never holds.
RUN DEBUG=true python manage.py collectstatic --noinput \
 && chown -R fitness:fitness /app/staticfiles
USER fitness
EXPOSE 8000
# /healthz says the process is alive; readiness (database, cache, broker) is /readyz.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/healthz" || exit 1
# SIGTERM reaches uvicorn or Celery directly: the bin/ scripts exec them.
STOPSIGNAL SIGTERM
CMD ["bin/web"]
