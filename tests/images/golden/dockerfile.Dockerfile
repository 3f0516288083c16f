FROM alpine:3.20
RUN echo from-my-dockerfile

# build context:
#   docker_ctx/  (the Dockerfile's own folder, as it is)
