#ifndef WL_TEST_ECHO_APP_H
#define WL_TEST_ECHO_APP_H

/*
 * For the unit tests of the reverse proxy (test_proxy.c, test_front.c):
 * loopback ports and connections, the Node echo fixture
 * (tests/fixtures/apps/echo, the same app the end-to-end tests run in
 * Docker) as a child process, python3 scripts (the WebSocket clients),
 * and this process's resident memory.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* A port on 127.0.0.1 that nothing listens on right now. */
static inline int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &sl))
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* A blocking connection to 127.0.0.1:port, or -1. */
static inline int connect_port(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Start the echo app on a free port: *port and *pid, 0 once it accepts
 * connections; -1 if it does not within 5 s.
 */
static inline int echo_app_start(int *port, pid_t *pid)
{
	const char *fx = getenv("WL_FIXTURES");
	char script[1024], portstr[16];

	snprintf(script, sizeof(script), "%s/apps/echo/server.js",
		 fx ? fx : "tests/fixtures");
	*port = free_port();
	snprintf(portstr, sizeof(portstr), "%d", *port);
	*pid = fork();
	if (*pid == 0) {
		setenv("PORT", portstr, 1);
		setenv("HOST", "127.0.0.1", 1);
		execlp("node", "node", script, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		int fd = connect_port(*port);

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		usleep(50 * 1000);
	}
	return -1;
}

/* Stop it (accepts a pid <= 0: nothing started). */
static inline void echo_app_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Run a python3 script with one argument; its exit status, or -1. */
static inline int run_python(const char *script, const char *arg)
{
	pid_t pid = fork();
	int status = -1;

	if (pid == 0) {
		execl("/usr/bin/python3", "python3", "-c", script, arg,
		      (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* This process's resident memory in kB, or -1. */
static inline long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

#endif
