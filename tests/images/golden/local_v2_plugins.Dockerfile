# syntax=docker/dockerfile:1
FROM python:3.12-slim
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv pip install --python python3 flyteplugins-ray flyteplugins-spark

# build context:
#   (empty)
