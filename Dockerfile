# mockmj as a CI service container: one port (8080), 0.0.0.0 inside, a non-root user, every option as a
# MOCKMJ_* environment variable, and a HEALTHCHECK that needs nothing but the image's own Python.
#
# Two stages: the first installs mockmj and its dependencies into a virtual environment (pip, the build
# backend and the sources stay behind); the second is the base image plus that one directory.
FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# whole folders, so that moving modules between subpackages never touches this file; contracts/ is
# force-included into the wheel by pyproject.toml
COPY pyproject.toml README.md openapi.yaml ./
COPY contracts ./contracts
COPY mockmj ./mockmj
# pip and setuptools are needed only to install: removing them from the environment saves ~15 MB
RUN python -m venv /opt/mockmj \
    && /opt/mockmj/bin/pip install --no-cache-dir . \
    && /opt/mockmj/bin/pip uninstall --yes pip setuptools
# the OpenAPI documents parsed once here and kept (mockmj/web/spec.py): each start reads them instead of parsing
# the YAML again (the runtime user has no home to keep them in)
RUN XDG_CACHE_HOME=/opt/mockmj/cache /opt/mockmj/bin/python -c \
    "from mockmj.web.spec import load_spec; load_spec(); load_spec('control-openapi.yaml')" \
    && test -n "$(ls /opt/mockmj/cache/mockmj)"

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/mockmj/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    MOCKMJ_HOST=0.0.0.0 \
    MOCKMJ_PORT=8080 \
    XDG_CACHE_HOME=/opt/mockmj/cache

COPY --from=build /opt/mockmj /opt/mockmj
# /var/lib/mockmj: a directory the non-root user may write, for MOCKMJ_STORE=sqlite:/var/lib/mockmj/mock.db
# (mount a volume there to keep the state; MOCKMJ_WORKERS>1 needs such a shared store)
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin mockmj \
    && install -d -o 10001 -g 0 -m 0750 /var/lib/mockmj

USER 10001
WORKDIR /var/lib/mockmj
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_mockmj/health' % os.environ.get('MOCKMJ_PORT', '8080'), timeout=2)"]
CMD ["mockmj", "serve"]
