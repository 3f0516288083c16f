# syntax=docker/dockerfile:1
FROM python:3.12-slim
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv pip install --python python3 --index-url https://pypi.example.com/simple --extra-index-url https://extra.example.com/simple --prerelease=allow --no-build-isolation 'numpy>=1.26,<2' pandas

# build context:
#   (empty)
