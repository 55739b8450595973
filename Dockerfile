# The portal image: slim Python, a non-root user, only what runs.
#
# Stage 1 builds a virtualenv holding the locked dependencies (requirements/portal.txt) and the
# portal's packages (portal, kit, directory, auth, db, devidp, migrations); stage 2 is a fresh
# slim Python with that virtualenv, the products (apps/) and the gunicorn settings. No build
# tools, tests, benchmarks or docs reach the final image.
#
# The default command starts gunicorn and nothing else: migrations are a deliberate step run once
# per release (`portal db upgrade`, the `migrate` service in docker-compose.yml), never by every
# replica racing the others. A production replica refuses to start on a schema behind the
# release, so starting the replicas before migrating fails loudly instead of serving errors.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /build
# The locked dependencies come first, in a layer of their own: it is rebuilt only when the lock
# changes, not on every change to the portal's code. Every file's hash is checked.
COPY requirements/portal.txt ./requirements/
RUN /opt/venv/bin/pip install --require-hashes -r requirements/portal.txt
COPY pyproject.toml README.md ./
COPY portal ./portal
COPY kit ./kit
COPY directory ./directory
COPY auth ./auth
COPY db ./db
COPY devidp ./devidp
COPY migrations ./migrations
# The portal itself, built with the locked setuptools: nothing outside the lock is fetched.
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation .

FROM python:${PYTHON_VERSION}-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin portal
WORKDIR /srv/portal
COPY --from=build /opt/venv /opt/venv
# The code stays owned by root: the portal user can read it, not change it.
COPY apps ./apps
COPY wsgi.py gunicorn.conf.py ./
# The one folder the portal writes to (runtime files; production keeps its data in the database).
RUN mkdir instance && chown portal:portal instance

USER portal
ENV PORTAL_ENV=production \
    PORTAL_BIND=0.0.0.0:8000 \
    PORTAL_INSTANCE_PATH=/srv/portal/instance \
    PORTAL_APPS_DIR=/srv/portal/apps
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
