/* profiles/lookup.c — name resolution of GPUs, models and zones: canonical names and aliases,
 * case-insensitive, with suggestions of close names in the error. */
#include "profiles/catalog.h"
#include "common/error.h"
#include "common/json_util.h"

#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Step through a ';'-separated alias list: points start and len at the next alias with its spaces
 * trimmed and returns the position after it, or NULL at the end. */
const char *fl_next_alias(const char *p, const char **start, size_t *len)
{
    while (*p == ';' || *p == ' ')
        p++;
    if (!*p)
        return NULL;
    const char *e = p;
    while (*e && *e != ';')
        e++;
    const char *t = e;
    while (t > p && t[-1] == ' ')
        t--;
    *start = p;
    *len = (size_t)(t - p);
    return e;
}

/* Whether `name` equals one of the ';'-separated aliases, case-insensitively. */
static int alias_match(const char *aliases, const char *name)
{
    size_t n = strlen(name), len;
    const char *a;
    for (const char *p = aliases; p && (p = fl_next_alias(p, &a, &len));)
        if (len == n && n > 0 && strncasecmp(a, name, n) == 0)
            return 1;
    return 0;
}

/* Smallest edit distance between `name` and any of the ';'-separated aliases (INT_MAX when
 * there are none). */
static int alias_distance(const char *aliases, const char *name)
{
    int best = INT_MAX;
    size_t len;
    const char *a;
    for (const char *p = aliases; p && (p = fl_next_alias(p, &a, &len));) {
        char one[64];
        size_t n = len < sizeof one - 1 ? len : sizeof one - 1;
        memcpy(one, a, n);
        one[n] = '\0';
        int d = fl_edit_distance(one, name);
        if (d < best)
            best = d;
    }
    return best;
}

/* How far `name` is from a record for suggestions: the edit distance to its canonical name or
 * its closest alias, so that "h1000" suggests H100-SXM-80GB (alias "h100"). */
static int suggestion_distance(const char *canonical, const char *aliases, const char *name)
{
    int d = fl_edit_distance(canonical, name);
    int a = alias_distance(aliases, name);
    return a < d ? a : d;
}

/* Generic lookup over an array of records whose first member is the name, with aliases at
 * `alias_off` (or none when alias_off is 0). */
static int lookup(const void *arr, size_t n, size_t elem, size_t alias_off, const char *what,
                  const char *name, const char *field, fl_error *err)
{
    if (!name || !*name) {
        /* FL_ENOTFOUND like any other name that is not in the catalog: callers return that code */
        fl_fail(err, FL_ENOTFOUND, field, "%s: empty %s name", field ? field : what, what);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = *(const char *const *)((const char *)arr + i * elem);
        if (strcasecmp(s, name) == 0)
            return (int)i;
    }
    if (alias_off)
        for (size_t i = 0; i < n; i++) {
            const char *al = *(const char *const *)((const char *)arr + i * elem + alias_off);
            if (alias_match(al, name))
                return (int)i;
        }
    if (err) {
        /* suggest the three closest canonical names */
        int best[3] = {-1, -1, -1}, bd[3] = {1 << 30, 1 << 30, 1 << 30};
        for (size_t i = 0; i < n; i++) {
            const char *s = *(const char *const *)((const char *)arr + i * elem);
            const char *al = alias_off ? *(const char *const *)((const char *)arr + i * elem + alias_off) : NULL;
            int d = suggestion_distance(s, al, name);
            for (int k = 0; k < 3; k++)
                if (d < bd[k]) {
                    for (int j = 2; j > k; j--) { bd[j] = bd[j - 1]; best[j] = best[j - 1]; }
                    bd[k] = d; best[k] = (int)i;
                    break;
                }
        }
        char sugg[256] = "";
        size_t off = 0;
        for (int k = 0; k < 3 && best[k] >= 0; k++) {
            const char *s = *(const char *const *)((const char *)arr + (size_t)best[k] * elem);
            off += (size_t)snprintf(sugg + off, sizeof sugg - off, "%s%s", k ? ", " : "", s);
            if (off >= sizeof sugg) break;
        }
        fl_fail(err, FL_ENOTFOUND, field, "%s: unknown %s '%s' (closest: %s; see `flotilla profiles list %ss`)",
                field ? field : what, what, name, sugg, what);
    }
    return -1;
}

int fl_catalog_find_gpu(const fl_catalog *cat, const char *name, const char *field, fl_error *err)
{
    if (!cat) { fl_fail(err, FL_EMISUSE, "catalog", "catalog is NULL"); return -1; }
    return lookup(cat->gpus, cat->n_gpus, sizeof(fl_gpu), offsetof(fl_gpu, aliases), "gpu", name, field, err);
}

int fl_catalog_find_model(const fl_catalog *cat, const char *name, const char *field, fl_error *err)
{
    if (!cat) { fl_fail(err, FL_EMISUSE, "catalog", "catalog is NULL"); return -1; }
    return lookup(cat->models, cat->n_models, sizeof(fl_model), offsetof(fl_model, aliases), "model", name, field, err);
}

int fl_catalog_find_zone(const fl_catalog *cat, const char *name, const char *field, fl_error *err)
{
    if (!cat) { fl_fail(err, FL_EMISUSE, "catalog", "catalog is NULL"); return -1; }
    return lookup(cat->zones, cat->n_zones, sizeof(fl_zone), 0, "zone", name, field, err);
}
