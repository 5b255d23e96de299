#ifndef WL_CLI_CONFIG_H
#define WL_CLI_CONFIG_H

/*
 * workletctl's configuration file: a YAML mapping with the keys
 *
 *   server: http://127.0.0.1:8080
 *   token: <API token>
 *   user: <user id>       # X-User-ID, for servers that trust it
 *
 * at $WORKLETCTL_CONFIG or ~/.config/workletctl/config.yaml. A file that
 * holds a token must not be readable by group or others (like ssh keys):
 * it is refused otherwise. Single-threaded (the CLI's main thread).
 */

#include <stddef.h>

struct wl_cli_config {
	char *server; /* NULL when the file has none; all malloc'd */
	char *token;
	char *user;
};

void wl_cli_config_init(struct wl_cli_config *c);
void wl_cli_config_release(struct wl_cli_config *c);

/*
 * Read path into c. A missing file is fine (c stays empty) unless
 * required. Returns 0, or WL_EINVALID / WL_ENOTFOUND with a message
 * naming the file (an unknown key, a value that is not a string, a token
 * in a file others can read).
 */
int wl_cli_config_load(struct wl_cli_config *c, const char *path, int required);

/*
 * The default path into out: $WORKLETCTL_CONFIG, else
 * $XDG_CONFIG_HOME/workletctl/config.yaml, else
 * $HOME/.config/workletctl/config.yaml. Returns 1 when it came from
 * $WORKLETCTL_CONFIG (the file must then exist), 0 otherwise, -1 when
 * there is no home to look in.
 */
int wl_cli_config_path(char *out, size_t n);

#endif
