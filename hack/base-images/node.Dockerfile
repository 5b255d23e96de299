# worklet-local/node:18: Node.js 18 and npm from Debian bookworm. Stands in
# for node:18-alpine where no container registry can be reached.
FROM worklet-local/debian:bookworm
RUN apt-get update \
	&& apt-get install -y --no-install-recommends nodejs npm \
	&& rm -rf /var/lib/apt/lists/*
# The system bundle carries the host's extra CAs (see debian.sh); point Node
# and npm at it so npm install works behind TLS interception.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN npm config set --location=global cafile /etc/ssl/certs/ca-certificates.crt \
	&& npm config set --location=global update-notifier false \
	&& npm config set --location=global fund false
CMD ["node"]
