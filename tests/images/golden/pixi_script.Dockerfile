# syntax=docker/dockerfile:1
FROM python:3.12-slim
COPY --from=ghcr.io/prefix-dev/pixi:latest /usr/local/bin/pixi /usr/local/bin/pixi
COPY layer-00/pixi.toml /opt/roost/pixi/layer-00/
RUN pixi install --manifest-path /opt/roost/pixi/layer-00/pixi.toml --environment default
ENV PATH="/opt/roost/pixi/layer-00/.pixi/envs/default/bin:$PATH"

# build context:
#   layer-00/pixi.toml  (generated, 246 bytes)
