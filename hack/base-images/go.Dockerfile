# worklet-local/go:1.19: the Go toolchain from Debian bookworm. Stands in for
# golang:1.21-alpine where no container registry can be reached.
FROM worklet-local/debian:bookworm
RUN apt-get update \
	&& apt-get install -y --no-install-recommends golang-go \
	&& rm -rf /var/lib/apt/lists/*
# Static binaries that run on any runtime image (there is no C compiler here
# anyway); no VCS stamping, since a copied .git without git would fail the
# build; never try to download a newer toolchain.
ENV CGO_ENABLED=0 \
	GOFLAGS=-buildvcs=false \
	GOTOOLCHAIN=local
# Compile the standard library into root's build cache, plain and with
# -trimpath: a project's first build then takes about half a second instead of
# half a minute (net/http alone is most of that). About 200 MB.
RUN go build std && go build -trimpath std
CMD ["go", "version"]
