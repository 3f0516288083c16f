# syntax=docker/dockerfile:1
FROM python:3.12-slim
ENV MODE="prod" PATH="/opt/tools/bin:$PATH" GREETING="say \"hi\" \\ bye"

# build context:
#   (empty)
