# shellcheck shell=bash
# The base images worklet's generated Dockerfiles start FROM, in one place.
# Source this file. The defaults are the local images hack/setup.sh builds
# (no container registry is reachable from the development machines); a real
# deployment sets these to registry images such as node:18-alpine. A value
# already in the environment is kept.
export WORKLET_IMAGE_NODE="${WORKLET_IMAGE_NODE:-worklet-local/node:18}"
export WORKLET_IMAGE_PYTHON="${WORKLET_IMAGE_PYTHON:-worklet-local/python:3}"
export WORKLET_IMAGE_GO="${WORKLET_IMAGE_GO:-worklet-local/go:1.19}"
export WORKLET_IMAGE_GO_RUNTIME="${WORKLET_IMAGE_GO_RUNTIME:-worklet-local/debian:bookworm}"
export WORKLET_IMAGE_STATIC="${WORKLET_IMAGE_STATIC:-worklet-local/nginx}"
