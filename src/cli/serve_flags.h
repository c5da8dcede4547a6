/* serve_flags.h — the flags of `bulkhead serve` (its usage text, each
 * flag's checks, and those between flags) into a config. Only cmd_serve.c
 * includes this. */
#ifndef BH_SERVE_FLAGS_H
#define BH_SERVE_FLAGS_H

#include "config/config.h"

/* Parse argv into c (defaults already in it). 0, 1 after --help (the
 * usage printed), or -1 after a message on stderr. */
int bh_serve_flags(struct bh_config *c, int argc, char **argv);

#endif
