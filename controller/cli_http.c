/*
 * DESIGN: one curl easy handle per request, made and freed here; the CLI
 * is single-threaded. Answers are read into a bounded buffer (a worklet
 * list or a build log tail is well under the bound). Redirects are not
 * followed, so the token never goes to a host the user did not name.
 */
#include "controller/cli_http.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specs/core/error.h"
#include "specs/core/banned.h"

#define RESPONSE_MAX (16 << 20)
#define CONNECT_TIMEOUT_S 10

void wl_cli_response_init(struct wl_cli_response *r)
{
	r->status = 0;
	wl_buf_init(&r->body, RESPONSE_MAX);
}

void wl_cli_response_release(struct wl_cli_response *r)
{
	wl_buf_release(&r->body);
	r->status = 0;
}

struct sink {
	CURL *curl;
	struct wl_cli_response *r;
	wl_cli_data_fn on_data; /* streaming: called while the status is 200 */
	void *arg;
	int overflow;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t len = size * nmemb;
	long status = 0;

	if (s->on_data) {
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200) {
			s->on_data(s->arg, data, len);
			return len;
		}
	}
	if (wl_buf_add(&s->r->body, data, len) < 0) {
		s->overflow = 1;
		return 0;
	}
	return len;
}

/* "Connection refused" -> "connection refused" */
static void lower_first(char *s)
{
	if (s[0] && isupper((unsigned char)s[0]) &&
	    !isupper((unsigned char)s[1]))
		s[0] = (char)tolower((unsigned char)s[0]);
}

static int unreachable(CURL *curl, CURLcode rc, const char *server,
		       const char *errbuf, long timeout_s)
{
	char why[512];
	long os_errno = 0;

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
		snprintf(why, sizeof(why), "%s",
			 os_errno ? strerror((int)os_errno) : "cannot connect");
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(why, sizeof(why), "cannot resolve the host name");
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(why, sizeof(why), "no answer within %ld seconds",
			 timeout_s ? timeout_s : CONNECT_TIMEOUT_S);
		break;
	case CURLE_GOT_NOTHING:
		snprintf(why, sizeof(why),
			 "the server closed the connection without an answer");
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		snprintf(why, sizeof(why), "not an http:// or https:// URL");
		break;
	default:
		snprintf(why, sizeof(why), "%s",
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	lower_first(why);
	wl_error_set("cannot reach the worklet server at %s: %s", server, why);
	return WL_EUNAVAIL;
}

static int perform(struct wl_cli_response *r, const struct wl_cli_conn *c,
		   const char *method, const char *path, const char *json_body,
		   long timeout_s, wl_cli_data_fn on_data, void *arg)
{
	struct curl_slist *headers = NULL;
	struct sink sink = { 0 };
	struct wl_buf url, auth;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *curl = NULL;
	CURLcode rc;
	int error = WL_ERROR;

	wl_buf_init(&url, 8192);
	wl_buf_init(&auth, 8192);
	r->status = 0;
	wl_buf_reset(&r->body);
	if (wl_buf_printf(&url, "%s%s", c->server, path) < 0)
		goto done;
	if (!(curl = curl_easy_init())) {
		wl_error_set("cannot start an HTTP request");
		goto done;
	}
	if (c->token) {
		if (wl_buf_printf(&auth, "Authorization: Bearer %s", c->token) <
		    0)
			goto done;
		headers = curl_slist_append(headers, wl_buf_cstr(&auth));
	} else if (c->user) {
		if (wl_buf_printf(&auth, "X-User-ID: %s", c->user) < 0)
			goto done;
		headers = curl_slist_append(headers, wl_buf_cstr(&auth));
	}
	headers = curl_slist_append(headers, "Accept: application/json");
	if (json_body)
		headers = curl_slist_append(headers,
					    "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip for larger bodies. */
	headers = curl_slist_append(headers, "Expect:");
	sink.curl = curl;
	sink.r = r;
	sink.on_data = on_data;
	sink.arg = arg;
	curl_easy_setopt(curl, CURLOPT_URL, wl_buf_cstr(&url));
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "workletctl/0.1");
	if (json_body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
				 (long)strlen(json_body));
	} else if (!strcmp(method, "POST") || !strcmp(method, "PUT")) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
	}
	rc = curl_easy_perform(curl);
	if (rc == CURLE_WRITE_ERROR && sink.overflow) {
		wl_error_set("the server's answer is larger than %d MiB",
			     RESPONSE_MAX >> 20);
		goto done;
	}
	if (rc != CURLE_OK) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
		/* A stream the server ended abruptly still had its answer. */
		if (on_data && r->status == 200 &&
		    (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR)) {
			error = 0;
			goto done;
		}
		r->status = 0;
		error = unreachable(curl, rc, c->server, errbuf, timeout_s);
		goto done;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
	error = 0;
done:
	curl_slist_free_all(headers);
	if (curl)
		curl_easy_cleanup(curl);
	wl_buf_release(&url);
	/* The header held the token: do not leave it in freed memory. */
	if (auth.ptr)
		memset(auth.ptr, 0, auth.cap);
	wl_buf_release(&auth);
	return error;
}

int wl_cli_http_request(struct wl_cli_response *r, const struct wl_cli_conn *c,
			const char *method, const char *path,
			const char *json_body, long timeout_s)
{
	return perform(r, c, method, path, json_body, timeout_s, NULL, NULL);
}

int wl_cli_http_stream(struct wl_cli_response *r, const struct wl_cli_conn *c,
		       const char *path, wl_cli_data_fn on_data, void *arg)
{
	return perform(r, c, "GET", path, NULL, 0, on_data, arg);
}

enum wl_cli_exit wl_cli_exit_for_status(long status)
{
	if (status >= 200 && status < 300)
		return WL_CLI_OK;
	switch (status) {
	case 401:
	case 403:
		return WL_CLI_AUTH;
	case 404:
		return WL_CLI_NOTFOUND;
	case 400:
	case 409:
	case 413:
	case 415:
	case 422:
		return WL_CLI_INVALID;
	default:
		/* 429, 5xx and anything a client cannot fix by itself. */
		return WL_CLI_SERVER;
	}
}

void wl_cli_error_message(const struct wl_cli_response *r, char *out, size_t n)
{
	cJSON *root = NULL;
	const cJSON *err, *msg;

	if (r->body.len)
		root = cJSON_ParseWithLength(r->body.ptr, r->body.len);
	err = cJSON_GetObjectItemCaseSensitive(root, "error");
	msg = cJSON_GetObjectItemCaseSensitive(err, "message");
	if (cJSON_IsString(msg) && msg->valuestring[0])
		snprintf(out, n, "%s", msg->valuestring);
	else
		snprintf(out, n, "the server answered HTTP %ld", r->status);
	cJSON_Delete(root);
}

void wl_cli_url_escape(char *out, size_t n, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (!n)
		return;
	for (; *s && o + 4 <= n; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' ||
		    ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}
