# syntax=docker/dockerfile:1
FROM python:3.11-slim-bookworm
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/
LABEL org.opencontainers.image.title="roost-debian-base" org.opencontainers.image.base.name="python:3.11-slim-bookworm"
RUN id -u flyte >/dev/null 2>&1 || useradd --create-home --home-dir /home/flyte --shell /bin/bash flyte
WORKDIR /home/flyte
ENV VIRTUAL_ENV="/opt/venv" PATH="/opt/venv/bin:$PATH"
RUN uv venv --allow-existing --python python3.11 "$VIRTUAL_ENV"
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --chown=flyte:flyte layer-05/src/ ./src
USER flyte

# build context:
#   layer-05/src  (folder src)
