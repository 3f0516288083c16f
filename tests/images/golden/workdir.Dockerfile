# syntax=docker/dockerfile:1
FROM python:3.12-slim
WORKDIR /srv/app

# build context:
#   (empty)
