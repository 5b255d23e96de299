# shellcheck shell=bash
# The base images worklet's generated Dockerfiles start FROM, in one place.
# Source this file. The defaults are the local images hack/setup.sh builds
# (no container registry is reachable from the development machines); a real
# deployment sets these to registry images such as node:24-alpine. A value
# already in the environment is kept.
#
# WORKLET_IMAGE_NODE is for Node.js projects that ask for no version: the
# newest long-term-support line built here (24: LTS until April 2028; 22's
# ends in April 2027, 20's ended in April 2026). WORKLET_IMAGE_NODE_<major>
# names the image of each major a project may ask for (engines.node, .nvmrc,
# ...); the highest one that satisfies the request is used.
export WORKLET_IMAGE_NODE="${WORKLET_IMAGE_NODE:-worklet-local/node:24}"
export WORKLET_IMAGE_NODE_18="${WORKLET_IMAGE_NODE_18-worklet-local/node:18}"
export WORKLET_IMAGE_NODE_20="${WORKLET_IMAGE_NODE_20-worklet-local/node:20}"
export WORKLET_IMAGE_NODE_22="${WORKLET_IMAGE_NODE_22-worklet-local/node:22}"
export WORKLET_IMAGE_NODE_24="${WORKLET_IMAGE_NODE_24-worklet-local/node:24}"
export WORKLET_IMAGE_PYTHON="${WORKLET_IMAGE_PYTHON:-worklet-local/python:3}"
export WORKLET_IMAGE_GO="${WORKLET_IMAGE_GO:-worklet-local/go:1.19}"
# One image per Python / Go minor line a project may ask for (.python-version,
# runtime.txt, requires-python; go.mod's go and toolchain lines). Debian 12
# has Python 3.11 only; Go 1.22 comes from bookworm-backports
# (go-backports.Dockerfile builds 1.21 and 1.23 too: each image costs about
# 2.5 minutes of setup, so only the line the tests use is built).
export WORKLET_IMAGE_PYTHON_3_11="${WORKLET_IMAGE_PYTHON_3_11-worklet-local/python:3}"
export WORKLET_IMAGE_GO_1_19="${WORKLET_IMAGE_GO_1_19-worklet-local/go:1.19}"
export WORKLET_IMAGE_GO_1_22="${WORKLET_IMAGE_GO_1_22-worklet-local/go:1.22}"
export WORKLET_IMAGE_GO_RUNTIME="${WORKLET_IMAGE_GO_RUNTIME:-worklet-local/debian:bookworm}"
export WORKLET_IMAGE_STATIC="${WORKLET_IMAGE_STATIC:-worklet-local/nginx}"
