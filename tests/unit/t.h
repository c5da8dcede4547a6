/* t.h — the unit-test harness: checks count, failures print file:line and
 * the test keeps going; main() returns non-zero if any check failed. Each
 * test binary prints "N passed, N failed" for scripts/unit.sh to add up. */
#ifndef BH_T_H
#define BH_T_H
#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (cond)                                                                \
            t_pass++;                                                            \
        else {                                                                   \
            t_fail++;                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)
#define CHECK_STR(a, b)                                                          \
    do {                                                                         \
        const char *_a = (a), *_b = (b);                                         \
        if (_a && _b && !strcmp(_a, _b))                                         \
            t_pass++;                                                            \
        else {                                                                   \
            t_fail++;                                                            \
            fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,     \
                    _a ? _a : "(null)", _b ? _b : "(null)");                     \
        }                                                                        \
    } while (0)
#define T_DONE()                                                                 \
    (printf("%d passed, %d failed\n", t_pass, t_fail), t_fail ? 1 : 0)
#endif
