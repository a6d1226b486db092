# syntax=docker/dockerfile:1
# The demo company systems (Voltera's CRM, orders, loyalty, marketing, Wi-Fi and service), the reference
# implementation of the system contract (companysystems/openapi.yaml), on Python 3.11. A company runs its own
# systems instead and points the back office at them. Build from the repository root:
#   docker build -f deploy/docker/companysystems.Dockerfile -t transparency-assistant/companysystems:1.0 .

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# The back office's runtime lock (the company systems' dependencies are among its pins), hash-checked, then the
# package without dependencies, as the Makefile installs it.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/venv/bin:$PATH
WORKDIR /app
RUN python -m venv /opt/venv
COPY requirements/backoffice.txt requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/backoffice.txt
COPY companysystems/ companysystems/
RUN pip install --no-cache-dir --no-deps -e companysystems

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app/companysystems companysystems
WORKDIR /app/companysystems
USER 10001:10001
EXPOSE 8100
# As scripts/stack.py starts it (it migrates and seeds its own database), listening beyond the container's loopback.
CMD ["python", "-m", "companysystems", "serve", "--host", "0.0.0.0", "--port", "8100"]
