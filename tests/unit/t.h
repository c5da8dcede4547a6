/* t.h — the unit-test harness: checks count, failures print file:line and
 * the test keeps going; main() returns non-zero if any check failed. Each
 * test binary prints "N passed, N failed" for scripts/unit.sh to add up.
 * What cannot run here (not root, a runtime that does not work on this host)
 * is skipped, never counted as passed: T_SKIP() for a whole binary,
 * T_SKIP_PART() for a part of one. */
#ifndef BH_T_H
#define BH_T_H
#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond)                                                                    \
            t_pass++;                                                                \
        else {                                                                       \
            t_fail++;                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)
#define CHECK_STR(a, b)                                                                          \
    do {                                                                                         \
        const char *_a = (a), *_b = (b);                                                         \
        if (_a && _b && !strcmp(_a, _b))                                                         \
            t_pass++;                                                                            \
        else {                                                                                   \
            t_fail++;                                                                            \
            fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, _a ? _a : "(null)", \
                    _b ? _b : "(null)");                                                         \
        }                                                                                        \
    } while (0)
#define T_DONE() (printf("%d passed, %d failed\n", t_pass, t_fail), t_fail ? 1 : 0)

/* The exit code of a binary that could not run (automake's convention). */
#define T_SKIP_EXIT 77

/* `return T_SKIP("needs root");` in main(), before any check: prints
 * "skipped: needs root" and no summary line; scripts/unit.sh counts the
 * binary as skipped (neither passed nor failed). */
#define T_SKIP(why) \
    ((void)t_pass, (void)t_fail, printf("skipped: %s\n", (why)), fflush(stdout), T_SKIP_EXIT)

/* A part of a binary that cannot run here (the binary goes on with the rest
 * and ends with T_DONE()): prints "skipped: <why>", which scripts/unit.sh
 * counts as one skip and shows beside the binary's summary. */
#define T_SKIP_PART(...)                 \
    do {                                 \
        printf("skipped: " __VA_ARGS__); \
        printf("\n");                    \
        fflush(stdout);                  \
    } while (0)
#endif
