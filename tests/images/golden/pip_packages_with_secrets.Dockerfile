# syntax=docker/dockerfile:1
FROM python:3.12-slim
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=GITHUB_PAT,env=GITHUB_PAT_ENV \
    --mount=type=secret,id=ca-cert,target=/etc/flyte/secrets/ca-cert \
    uv pip install --python python3 private-package

# build context:
#   (empty)
