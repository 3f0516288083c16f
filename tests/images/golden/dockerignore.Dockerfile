# syntax=docker/dockerfile:1
FROM python:3.12-slim
# .dockerignore: filters every source folder copied into the build context
COPY layer-01/src/ ./src

# build context:
#   layer-01/src  (folder src)
