/* probe.h — the module drivers of the test probe (see probe.c). */
#ifndef DESPOTIFY_PROBE_H
#define DESPOTIFY_PROBE_H

/* Each returns the probe's exit status: 0 success, 1 failure, 2 usage. */
int probe_http(int argc, char **argv);
int probe_imds(int argc, char **argv);
int probe_aws(int argc, char **argv);
int probe_k8s(int argc, char **argv);
#endif
