# syntax=docker/dockerfile:1
FROM python:3.12-slim
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/
RUN --mount=type=bind,source=layer-00,target=/tmp/roost/layer-00 \
    --mount=type=cache,target=/root/.cache/uv \
    uv pip install --python python3 -r /tmp/roost/layer-00/requirements.txt

# build context:
#   layer-00/requirements.txt  (file requirements.txt)
