/*
 * despotify — watch an EC2 spot instance for its interruption notice and get
 * the Kubernetes node off it in time: detach the instance from its Auto
 * Scaling Group and cordon and drain the node. See README.md and
 * shared/DESIGN.md.
 *
 * main.c owns the command line, the configuration, the signals and the poll
 * loop, and the handling of one notice.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util.h"

extern char **environ;

/* The only globals: set by signal handlers, read by the loops. */
static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: despotify [-c FILE] [-n] [--once] [--dry-run] [-V] [-h]\n"
	    "  -c FILE     config file (default ./despotify.ini; a missing default file means\n"
	    "              built-in defaults, a missing file given with -c is an error)\n"
	    "  -n          check the config, print the effective settings, exit\n"
	    "  --once      poll once; if a notice is present handle it completely, then exit\n"
	    "  --dry-run   do everything but change nothing: log each call it would make\n"
	    "  -V          print the version\n"
	    "  -h          this help\n"
	    "exit status: 0 success, 1 runtime failure, 2 usage or config error\n");
}

int
main(int argc, char **argv)
{
	const char *path = "despotify.ini";
	int path_given = 0, check_only = 0, once = 0, dry_run = 0, i;
	static struct config cfg;
	struct sigaction sa;
	struct log lg;
	char err[1024];

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-c") == 0) {
			if (++i >= argc) {
				fprintf(stderr, "despotify: -c needs a file name\n");
				usage(stderr);
				return 2;
			}
			path = argv[i];
			path_given = 1;
		} else if (strcmp(a, "-n") == 0) {
			check_only = 1;
		} else if (strcmp(a, "--once") == 0) {
			once = 1;
		} else if (strcmp(a, "--dry-run") == 0) {
			dry_run = 1;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("despotify %s\n", DESPOTIFY_VERSION);
			return 0;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "despotify: unknown argument \"%s\"\n", a);
			usage(stderr);
			return 2;
		}
	}

	if (config_load(&cfg, path, path_given, environ, err, sizeof err) < 0) {
		fprintf(stderr, "despotify: %s\n", err);
		return 2;
	}
	cfg.once = once;
	cfg.dry_run = dry_run;
	if (check_only) {
		for (i = 0; i < cfg.nwarnings; i++)
			fprintf(stderr, "despotify: warning: %s\n", cfg.warnings[i]);
		config_print(&cfg, 1);
		printf("# configuration OK\n");
		return 0;
	}

	log_init(&lg, cfg.level, cfg.log_json);
	for (i = 0; i < cfg.nwarnings; i++)
		log_warning(&lg, "config: %s", cfg.warnings[i]);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must cut a sleep or a poll short. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	log_info(&lg, "despotify %s starting (config: %s)", DESPOTIFY_VERSION,
	    cfg.file_loaded ? cfg.path : "built-in defaults");
	while (!stop_requested)
		util_sleep_ms(cfg.poll_interval_ms);
	log_info(&lg, "stopping on signal");
	return 0;
}
