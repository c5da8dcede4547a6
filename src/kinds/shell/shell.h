/* kinds/shell/shell.h — the shell kind: a login shell, commands and the
 * files of a workspace in a sandbox, driven through bulkhead's agent, and
 * labs with checks (docs/terminal.md). */
#ifndef BH_KINDS_SHELL_H
#define BH_KINDS_SHELL_H

#include "kinds/kind.h"

extern const struct bh_kind bh_kind_shell;

/* The labs of dir (NULL: none): [{"name","title","description",
 * "timeLimit"}] sorted by name; labs that do not load are left out. NULL
 * and err when dir cannot be read. */
json_t *bh_shell_labs(const char *dir, bh_err_t *err);

#endif
