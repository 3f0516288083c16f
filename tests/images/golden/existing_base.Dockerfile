# syntax=docker/dockerfile:1
FROM python:3.12-slim

# build context:
#   (empty)
