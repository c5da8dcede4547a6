/* scope.h — what a scoped token (a link) opens (docs/api.md#session-tokens).
 * Bits, so a route can name the set of scopes that open it. The tokens
 * themselves are auth.h's; kinds name the scopes of the routes they serve
 * (kinds/kind.h). */
#ifndef BH_SCOPE_H
#define BH_SCOPE_H

enum bh_scope {
    BH_SCOPE_NONE = 0,
    BH_SCOPE_VIEW = 1,    /* the session's GET and what it shows people; no input */
    BH_SCOPE_CONTROL = 2, /* the session's GET and what it shows people, with input */
    BH_SCOPE_CDP = 4,     /* the session's GET and its programs' endpoint */
};

#endif
