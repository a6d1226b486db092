# syntax=docker/dockerfile:1
# The assistant: Rasa Open Source 3.6 with the chat channels (connectors/), the custom actions (actions/), the
# text catalogue (text-catalogue/), chatprotocol and the trained model, on Python 3.10 (Rasa 3.6's newest). One image, two
# processes: the Rasa server (the default command) and the action server (`python -m actions.server`).
# The knowledge base is not in it: the actions read it from the back office over HTTP.
# Build from the repository root:
#   docker build -f deploy/docker/assistant.Dockerfile -t transparency-assistant/assistant:1.0 .

ARG PYTHON_IMAGE=python:3.10.19-slim-bookworm

# The environment: the runtime lock alone, hash-checked, then chatprotocol and the text catalogue without dependencies
# (as the Makefile does).
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/venv/bin:$PATH
WORKDIR /app
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir --upgrade pip==24.0
COPY requirements/rasa.txt requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/rasa.txt
COPY chat-protocol/ chat-protocol/
COPY text-catalogue/ text-catalogue/
RUN pip install --no-cache-dir --no-deps -e chat-protocol -e text-catalogue

# The model, trained here with the Makefile's command (never at container start): it is always the model of these sources.
FROM build AS model
ENV RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2
COPY config.yml ./
COPY bot/ bot/
COPY data/ data/
RUN rasa train --config config.yml --domain bot/domain.yml --data data --out models --fixed-model-name current

# What runs: the environment, the sources and the model; no compiler, no pip cache, a user without privileges.
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app/chat-protocol chat-protocol
COPY --from=build /app/text-catalogue text-catalogue
COPY config.yml ./
COPY bot/ bot/
COPY connectors/ connectors/
COPY actions/ actions/
COPY deploy/rasa/ deploy/rasa/
COPY --from=model /app/models/current.tar.gz models/current.tar.gz
USER 10001:10001
EXPOSE 5005 5055
# The Rasa server as scripts/stack.py starts it, with the deployment's endpoints (the conversation lock on Redis);
# the API token (required: never an open API) and the website origins come from the environment. The action server: `python -m actions.server`.
CMD ["sh", "-c", ": \"${RASA_API_TOKEN:?the Rasa HTTP API never runs open}\" && exec rasa run --model models --endpoints deploy/rasa/endpoints.yml --credentials bot/credentials.yml --port 5005 --enable-api --auth-token \"$RASA_API_TOKEN\" --cors $CORS_ORIGINS"]
