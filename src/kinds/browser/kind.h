/* kinds/browser/kind.h — the browser kind: a real Chromium per session,
 * driven over CDP, with a live view (docs/api.md, docs/live.md). */
#ifndef BH_KINDS_BROWSER_KIND_H
#define BH_KINDS_BROWSER_KIND_H

#include "kinds/kind.h"

extern const struct bh_kind bh_kind_browser;

#endif
