# worklet-local/python:3: Python 3.11 with pip and venv from Debian bookworm.
# Stands in for python:3.9-slim where no container registry can be reached.
# python-is-python3 gives the plain `python` command the official image has.
FROM worklet-local/debian:bookworm
RUN apt-get update \
	&& apt-get install -y --no-install-recommends python3 python3-pip \
		python3-venv python-is-python3 \
	&& rm -rf /var/lib/apt/lists/*
ENV PYTHONUNBUFFERED=1 \
	PIP_DISABLE_PIP_VERSION_CHECK=1 \
	PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
