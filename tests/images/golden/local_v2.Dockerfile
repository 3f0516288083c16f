# syntax=docker/dockerfile:1
FROM python:3.12-slim
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/
RUN --mount=type=bind,source=layer-00,target=/tmp/roost/layer-00,rw \
    --mount=type=cache,target=/root/.cache/uv \
    uv pip install --python python3 /tmp/roost/layer-00/roost

# build context:
#   layer-00/roost/pyproject.toml  (file pyproject.toml)
#   layer-00/roost/README.md  (file README.md)
#   layer-00/roost/src/roost  (folder roost)
