# syntax=docker/dockerfile:1
FROM python:3.12-slim
RUN --mount=type=secret,id=APT_TOKEN,env=APT_TOKEN \
    apt-get update \
    && apt-get install -y --no-install-recommends git curl \
    && rm -rf /var/lib/apt/lists/*

# build context:
#   (empty)
