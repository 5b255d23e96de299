# worklet-local/go:<GO_VERSION> (1.21, 1.22, 1.23): a newer Go toolchain from
# Debian's bookworm-backports (golang-<GO_VERSION>-go), on the same mirror as
# the base image's own sources. Stands in for golang:<GO_VERSION>-alpine where
# no container registry can be reached; set up like go.Dockerfile.
FROM worklet-local/debian:bookworm
ARG GO_VERSION
RUN test -n "$GO_VERSION" \
	&& mirror=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources | head -n 1) \
	&& printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
		"$mirror" >/etc/apt/sources.list.d/backports.sources \
	&& apt-get update \
	&& apt-get install -y --no-install-recommends -t bookworm-backports \
		"golang-$GO_VERSION-go" \
	&& rm -rf /var/lib/apt/lists/* \
	&& ln -s "/usr/lib/go-$GO_VERSION/bin/go" "/usr/lib/go-$GO_VERSION/bin/gofmt" /usr/local/bin/ \
	&& go version | grep -q "go$GO_VERSION"
ENV CGO_ENABLED=0 \
	GOFLAGS=-buildvcs=false \
	GOTOOLCHAIN=local
RUN go build std && go build -trimpath std
CMD ["go", "version"]
