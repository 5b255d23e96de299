# worklet-local/nginx: nginx from Debian bookworm, laid out like the official
# nginx image (serves /usr/share/nginx/html on port 80 from
# /etc/nginx/conf.d/default.conf, logs to the container's stdout/stderr).
FROM worklet-local/debian:bookworm
RUN apt-get update \
	&& apt-get install -y --no-install-recommends nginx \
	&& rm -rf /var/lib/apt/lists/* \
	&& rm -f /etc/nginx/sites-enabled/default \
	&& mkdir -p /usr/share/nginx/html \
	&& printf '%s\n' \
		'server {' \
		'	listen 80;' \
		'	server_name localhost;' \
		'	root /usr/share/nginx/html;' \
		'	index index.html index.htm;' \
		'}' >/etc/nginx/conf.d/default.conf \
	&& ln -sf /dev/stdout /var/log/nginx/access.log \
	&& ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
