# syntax=docker/dockerfile:1
FROM python:3.12-slim
# code bundle (all, dst=/root): baked in at deploy time only when a run uses copy_style="none"; nothing to build here

# build context:
#   (empty)
