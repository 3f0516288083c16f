# syntax=docker/dockerfile:1
FROM ghcr.io/flyteorg/flyte:py3.11-v2.12.1
USER root
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv pip install --python python3 numpy
USER flyte

# build context:
#   (empty)
