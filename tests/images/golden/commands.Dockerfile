# syntax=docker/dockerfile:1
FROM python:3.12-slim
RUN --mount=type=secret,id=TOKEN,env=TOKEN \
    mkdir -p /data
RUN --mount=type=secret,id=TOKEN,env=TOKEN \
    curl -H "Authorization: $TOKEN" https://e.com/x -o /data/x

# build context:
#   (empty)
