# syntax=docker/dockerfile:1
FROM python:3.12-slim
COPY layer-00/main.py layer-00/util.py ./
COPY layer-01/main.py /opt/bin/

# build context:
#   layer-00/main.py  (file main.py)
#   layer-00/util.py  (file util.py)
#   layer-01/main.py  (file main.py)
