# syntax=docker/dockerfile:1
# The back office on Python 3.11: the HTTP service (`python -m backoffice serve`), the outbox worker
# (`python -m backoffice worker`), the migrate step (`python -m backoffice migrate`) and the demo's mail sink
# (`python -m backoffice mailsink`), with what the service serves and reads: the knowledge base (knowledge/), the
# text catalogue (text-catalogue/), the system catalogue (company-systems.yml) and the website (web/: the demo page, the
# widget, the staff console's script and style). Build from the repository root:
#   docker build -f deploy/docker/backoffice.Dockerfile -t transparency-assistant/backoffice:1.0 .

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG NODE_IMAGE=node:20.18.0-bookworm-slim

# The website widget's one script, bundled with the pinned socket.io client (web/package-lock.json) by the Makefile's command.
FROM ${NODE_IMAGE} AS widget
WORKDIR /app/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/static/chat.js static/chat.js
RUN npx --no-install esbuild static/chat.js --bundle --minify --format=iife --target=es2017 --log-level=warning --outfile=static/widget.js

# The environment: the runtime lock alone, hash-checked, then the project's packages without dependencies, as the
# Makefile installs them (editable: the back office finds knowledge/ and web/ beside its folder).
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/venv/bin:$PATH
WORKDIR /app
RUN python -m venv /opt/venv
COPY requirements/backoffice.txt requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/backoffice.txt
COPY chat-protocol/ chat-protocol/
COPY text-catalogue/ text-catalogue/
COPY backend/ backend/
RUN pip install --no-cache-dir --no-deps -e backend -e chat-protocol -e text-catalogue

# What runs: no compiler, no pip cache, no Node.js, a user without privileges.
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home --shell /usr/sbin/nologin app \
    && mkdir -p /app/var/mail \
    && chown -R 10001:10001 /app/var
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app/chat-protocol chat-protocol
COPY --from=build /app/text-catalogue text-catalogue
COPY --from=build /app/backend backend
COPY knowledge/ knowledge/
COPY company-systems.yml ./
COPY web/ web/
COPY --from=widget /app/web/static/widget.js web/static/widget.js
WORKDIR /app/backend
USER 10001:10001
EXPOSE 8000
# As scripts/stack.py starts it, listening beyond the container's loopback. The database is migrated before, by
# `python -m backoffice migrate` (a step of its own: serve and worker refuse a database behind the migrations).
CMD ["python", "-m", "backoffice", "serve", "--host", "0.0.0.0", "--port", "8000"]
