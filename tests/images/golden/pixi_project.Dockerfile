# syntax=docker/dockerfile:1
FROM python:3.12-slim
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/
COPY --from=ghcr.io/prefix-dev/pixi:latest /usr/local/bin/pixi /usr/local/bin/pixi
COPY layer-00/ /opt/roost/pixi/layer-00/
RUN pixi install --frozen --manifest-path /opt/roost/pixi/layer-00/pixi.toml --environment cuda
ENV PATH="/opt/roost/pixi/layer-00/.pixi/envs/cuda/bin:$PATH"
RUN --mount=type=cache,target=/root/.cache/uv \
    uv pip install --python python3 requests

# build context:
#   layer-00/pixi.toml  (file pixi.toml)
#   layer-00/pixi.lock  (file pixi.lock)
