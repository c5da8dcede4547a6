/* fuzz.h — what the libFuzzer harnesses share (tests/fuzz/fuzz_*.c, built
 * by `make fuzz` with clang, ASan and UBSan; docs/fuzzing.md). Each harness
 * drives the project's real code on one input; nothing here stands in for
 * the code under test. */
#ifndef BH_FUZZ_H
#define BH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (it may hold NULs of its own, as an
 * attacker's bytes may). Caller frees. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = bh_xmalloc(size + 1);
    if (size)
        memcpy(s, data, size);
    s[size] = 0;
    return s;
}

/* Split off the next part of the input, up to a '\n' (or its end): the
 * harnesses that take several strings read them this way. */
static inline char *fuzz_part(const uint8_t **data, size_t *size)
{
    const uint8_t *nl = *size ? memchr(*data, '\n', *size) : NULL;
    size_t n = nl ? (size_t)(nl - *data) : *size;
    char *s = fuzz_cstr(*data, n);
    *data += nl ? n + 1 : n;
    *size -= nl ? n + 1 : n;
    return s;
}

#endif
