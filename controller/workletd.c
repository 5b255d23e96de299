/*
 * workletd: the worklet service.
 *
 *   workletd [controller|apiserver] [--config FILE] [--log-level LEVEL]
 *
 * With no mode it runs both halves in one process; `controller` and
 * `apiserver` run one half, the two talking only through the state
 * directory. Libraries are initialised here, once, before any thread
 * starts. Signals are blocked in every thread and taken by one thread with
 * sigwait(), so shutdown runs in ordinary code, not in a handler: the main
 * thread runs the API server's service loop when there is one.
 */
#include <curl/curl.h>
#include <git2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>

#include "controller/config.h"
#include "controller/controller.h"
#include "controller/git_repo.h"
#include "apiserver/server.h"
#include "specs/core/error.h"
#include "specs/core/log.h"
#include "specs/core/banned.h"

static void usage(FILE *out)
{
	fputs("usage: workletd [controller|apiserver] [--config FILE] "
	      "[--log-level debug|info|warn|error]\n"
	      "\n"
	      "Runs the worklet service: the controller reconciles the "
	      "Worklet\n"
	      "specs in $WORKLET_STATE_DIR/specs against Docker, the API "
	      "server\n"
	      "serves the REST API, status streams and the reverse proxy on\n"
	      "$WORKLET_LISTEN. With no mode, both. Configuration comes from\n"
	      "the config file (--config or $WORKLET_CONFIG) and the\n"
	      "environment; see README.md.\n",
	      out);
}

struct signal_waiter {
	sigset_t set;
	struct wl_apiserver *api;
	int sig;
};

/* Waits for SIGINT/SIGTERM, then stops the service loop. */
static void *signal_main(void *arg)
{
	struct signal_waiter *sw = arg;

	sigwait(&sw->set, &sw->sig);
	wl_apiserver_request_stop(sw->api);
	return NULL;
}

int main(int argc, char **argv)
{
	struct wl_config cfg;
	struct wl_controller *ctl = NULL;
	const char *config_file = getenv("WORKLET_CONFIG");
	const char *level = NULL;
	struct wl_apiserver *api = NULL;
	struct signal_waiter sw;
	pthread_t waiter;
	sigset_t set;
	int sig, status = 1, run_controller = 1, run_api = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			config_file = argv[++i];
		} else if (!strcmp(argv[i], "--log-level") && i + 1 < argc) {
			level = argv[++i];
		} else if (!strcmp(argv[i], "-h") ||
			   !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "controller")) {
			run_api = 0;
		} else if (!strcmp(argv[i], "apiserver")) {
			run_controller = 0;
		} else {
			fprintf(stderr, "workletd: unknown argument '%s'\n",
				argv[i]);
			usage(stderr);
			return 2;
		}
	}

	if (wl_config_init(&cfg) < 0 ||
	    (config_file && *config_file &&
	     wl_config_load_file(&cfg, config_file) < 0) ||
	    wl_config_load_env(&cfg) < 0) {
		fprintf(stderr, "workletd: %s\n", wl_error_last());
		wl_config_release(&cfg);
		return 2;
	}
	if (level) {
		int l = wl_log_level_parse(level);

		if (l < 0) {
			fprintf(stderr, "workletd: unknown log level '%s'\n",
				level);
			wl_config_release(&cfg);
			return 2;
		}
		cfg.log_level = l;
	}
	wl_log_set_level((enum wl_log_level)cfg.log_level);

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	git_libgit2_init();
	if (cfg.git_ca_file && wl_git_trust_ca_file(cfg.git_ca_file) < 0) {
		wl_err("%s", wl_error_last());
		goto out;
	}

	if (run_controller && (wl_controller_new(&ctl, &cfg) < 0 ||
			       wl_controller_start(ctl) < 0)) {
		wl_err("cannot start the controller: %s", wl_error_last());
		goto out;
	}
	if (run_api && wl_apiserver_new(&api, &cfg) < 0) {
		wl_err("cannot start the API server: %s", wl_error_last());
		goto out;
	}
	wl_info("workletd %s started (pid %d)", "0.1.0", (int)getpid());
	if (api) {
		sw.set = set;
		sw.api = api;
		sw.sig = 0;
		if (pthread_create(&waiter, NULL, signal_main, &sw)) {
			wl_err("cannot start the signal thread");
			goto out;
		}
		wl_apiserver_run(api);
		pthread_join(waiter, NULL);
		sig = sw.sig;
	} else {
		sigwait(&set, &sig);
	}
	wl_info("received %s, shutting down",
		sig == SIGINT ? "SIGINT" : "SIGTERM");
	status = 0;
out:
	wl_apiserver_free(api);
	wl_controller_free(ctl);
	git_libgit2_shutdown();
	curl_global_cleanup();
	wl_config_release(&cfg);
	return status;
}
