/*
 * t.h — the unit-test harness: a test is a function of CHECKs; RUN prints
 * "ok NAME" or "not ok NAME" with each failed check's file:line, and
 * t_done() returns the exit status. test/run.py counts the lines.
 */
#ifndef DESPOTIFY_T_H
#define DESPOTIFY_T_H

#include <stdio.h>
#include <string.h>

static int t_failed_checks, t_failed_tests, t_passed_tests;

/* The row of a table a loop of CHECKs is at: a failed check names it after
 * its file:line. Set it in the loop; RUN clears it after each test. */
static const char *t_case;

/* Counts a failed check and prints where it is: "#   FILE:LINE" and the case. */
static inline void
t_fail_at(const char *file, int line)
{
	t_failed_checks++;
	printf("#   %s:%d%s%s%s", file, line, t_case ? " (case \"" : "", t_case ? t_case : "",
	    t_case ? "\")" : "");
}

#define CHECK(cond) do { \
	if (!(cond)) { \
		t_fail_at(__FILE__, __LINE__); \
		printf(": CHECK(%s) failed\n", #cond); \
	} \
} while (0)

/* Compares two C strings, printing both when they differ. */
#define CHECK_STR(got, want) do { \
	const char *t_g_ = (got), *t_w_ = (want); \
	if (t_g_ == NULL || strcmp(t_g_, t_w_) != 0) { \
		t_fail_at(__FILE__, __LINE__); \
		printf(": got \"%s\", want \"%s\"\n", t_g_ ? t_g_ : "(null)", t_w_); \
	} \
} while (0)

#define CHECK_INT(got, want) do { \
	long long t_g_ = (long long)(got), t_w_ = (long long)(want); \
	if (t_g_ != t_w_) { \
		t_fail_at(__FILE__, __LINE__); \
		printf(": %s = %lld, want %lld\n", #got, t_g_, t_w_); \
	} \
} while (0)

#define RUN(fn) do { \
	int t_before_ = t_failed_checks; \
	fn(); \
	t_case = NULL; \
	if (t_failed_checks == t_before_) { \
		t_passed_tests++; \
		printf("ok %s\n", #fn); \
	} else { \
		t_failed_tests++; \
		printf("not ok %s\n", #fn); \
	} \
	fflush(stdout); \
} while (0)

static inline int
t_done(void)
{
	return t_failed_tests == 0 ? 0 : 1;
}

#endif
