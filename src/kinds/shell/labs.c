/* labs.c — the labs of --labs-dir (docs/terminal.md#labs): one folder per
 * lab with lab.json, an optional setup script and the check script. Read
 * when a lab session is created and when the labs are listed: a change in
 * the folder shows at once, nothing is cached. */
#include "kinds/shell/shell_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kinds/shell/shell.h"
#include "lib/util.h"

#define SCRIPT_MAX (256u << 10)

static int valid_name(const char *n)
{
    size_t l = strlen(n);
    if (l < 1 || l > 64)
        return 0;
    for (size_t i = 0; i < l; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-'))
            return 0;
    return 1;
}

void shell_lab_clear(struct shell_lab *lab)
{
    free(lab->name);
    free(lab->title);
    free(lab->description);
    free(lab->setup);
    free(lab->check);
    json_decref(lab->network);
    memset(lab, 0, sizeof *lab);
}

static char *script(const char *dir, const char *name, const char *file, int need, bh_err_t *err)
{
    cleanup_free char *p = bh_xasprintf("%s/%s/%s", dir, name, file);
    size_t len;
    char *t = bh_read_file(p, &len, NULL);
    if (!t) {
        if (need)
            bh_err_kind_set(err, BH_E_INTERNAL, "lab %s has no %s script", name, file);
        return NULL;
    }
    if (len > SCRIPT_MAX || strlen(t) != len) {
        free(t);
        bh_err_kind_set(err, BH_E_INTERNAL, "lab %s: %s is not a text file of at most 256 KiB",
                        name, file);
        return NULL;
    }
    return t;
}

int shell_lab_load(const char *dir, const char *name, struct shell_lab *lab, bh_err_t *err)
{
    memset(lab, 0, sizeof *lab);
    if (!dir)
        return bh_err_kind_set(err, BH_E_NOT_FOUND, "no labs here (the daemon has no --labs-dir)");
    if (!valid_name(name))
        return bh_err_kind_set(err, BH_E_NOT_FOUND, "no lab \"%s\"", name);
    cleanup_free char *jp = bh_xasprintf("%s/%s/lab.json", dir, name);
    json_error_t je;
    json_t *o = json_load_file(jp, 0, &je);
    if (!o) {
        if (access(jp, F_OK) < 0)
            return bh_err_kind_set(err, BH_E_NOT_FOUND, "no lab \"%s\"", name);
        return bh_err_kind_set(err, BH_E_INTERNAL, "lab %s: lab.json: %s (line %d)", name, je.text,
                               je.line);
    }
    json_t *t = json_object_get(o, "title"), *d = json_object_get(o, "description");
    json_t *tl = json_object_get(o, "timeLimit"), *wb = json_object_get(o, "workspaceBytes");
    json_t *net = json_object_get(o, "network");
    if (!json_is_string(t) || (d && !json_is_string(d)) ||
        (tl && (!json_is_integer(tl) || json_integer_value(tl) < 1)) ||
        (wb && (!json_is_integer(wb) || json_integer_value(wb) < 1)) ||
        (net && !json_is_object(net))) {
        json_decref(o);
        return bh_err_kind_set(err, BH_E_INTERNAL,
                               "lab %s: lab.json wants \"title\" (string), and may have "
                               "\"description\" (string), \"timeLimit\" and \"workspaceBytes\" "
                               "(positive integers), \"network\" (object)",
                               name);
    }
    lab->name = bh_xstrdup(name);
    lab->title = bh_xstrdup(json_string_value(t));
    lab->description = bh_xstrdup(d ? json_string_value(d) : "");
    lab->time_limit = tl ? (int)json_integer_value(tl) : 0;
    lab->workspace_bytes = wb ? (uint64_t)json_integer_value(wb) : 0;
    lab->network = net ? json_incref(net) : NULL;
    json_decref(o);
    lab->check = script(dir, name, "check", 1, err);
    if (!lab->check) {
        shell_lab_clear(lab);
        return -1;
    }
    bh_err_t e2 = BH_ERR_INIT;
    lab->setup = script(dir, name, "setup", 0, &e2);
    if (e2.msg) {
        *err = e2;
        shell_lab_clear(lab);
        return -1;
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *bh_shell_labs(const char *dir, bh_err_t *err)
{
    json_t *list = json_array();
    if (!dir)
        return list;
    DIR *d = opendir(dir);
    if (!d) {
        json_decref(list);
        bh_err_set(err, errno, "labs dir %s", dir);
        return NULL;
    }
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (valid_name(e->d_name)) {
            names = bh_xrealloc(names, (n + 1) * sizeof *names);
            names[n++] = bh_xstrdup(e->d_name);
        }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        struct shell_lab lab;
        bh_err_t e2 = BH_ERR_INIT;
        if (shell_lab_load(dir, names[i], &lab, &e2) == 0) {
            json_array_append_new(
                list, json_pack("{s:s, s:s, s:s, s:o}", "name", lab.name, "title", lab.title,
                                "description", lab.description, "timeLimit",
                                lab.time_limit ? json_integer(lab.time_limit) : json_null()));
            shell_lab_clear(&lab);
        }
        bh_err_clear(&e2);
        free(names[i]);
    }
    free(names);
    return list;
}
