# syntax=docker/dockerfile:1
FROM python:3.12-slim
WORKDIR /srv
COPY layer-01/src/ ./src
COPY layer-02/src/ /opt/code

# build context:
#   layer-01/src  (folder src)
#   layer-02/src  (folder src)
