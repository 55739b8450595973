# The portal image: slim Python, a non-root user, only what runs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN useradd --create-home --uid 10001 portal
WORKDIR /srv/portal

COPY pyproject.toml README.md ./
COPY portal ./portal
COPY auth ./auth
COPY db ./db
COPY migrations ./migrations
RUN pip install .

COPY apps ./apps
COPY wsgi.py gunicorn.conf.py alembic.ini ./

USER portal
ENV PORTAL_ENV=production \
    PORTAL_BIND=0.0.0.0:8000 \
    PORTAL_INSTANCE_PATH=/srv/portal/instance \
    PORTAL_APPS_DIR=/srv/portal/apps
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["sh", "-c", "portal db upgrade && exec gunicorn -c gunicorn.conf.py"]
