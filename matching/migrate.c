/* matching/migrate.c — migration estimate of a new placement against the running one: which
 * shards move, how many bytes of model state, how long (stop + transfer over the catalog's zone
 * links + restart) and the egress dollars. */
#include "matching/place_internal.h"

#include <stdlib.h>
#include <string.h>

/* Zone of the closest running shard that holds some of sh's layers (same zone preferred), or -1. */
static int source_zone(const fl_shard *sh, const fl_shard_set *old)
{
    int any = -1;
    for (size_t j = 0; j < old->n; j++) {
        const fl_shard *o = &old->v[j];
        if (o->last <= sh->first || o->first >= sh->last)
            continue;
        if (o->zone == sh->zone)
            return o->zone;
        if (any < 0)
            any = o->zone;
    }
    if (any < 0 && old->n)
        any = old->v[0].zone;
    return any;
}

void fl_migration_estimate(const fl_catalog *cat, const fl_nodes *nodes, const fl_shard_set *ns,
                           const fl_shard_set *old, const fl_place_options *opts, fl_migration *out)
{
    memset(out, 0, sizeof *out);
    out->shards = (int)ns->n;
    double *node_s = calloc(nodes->n + 1, sizeof *node_s);
    double max_lat = 0.0, worst = 0.0;
    for (size_t i = 0; i < ns->n; i++) {
        const fl_shard *sh = &ns->v[i];
        double moved = sh->bytes - sh->kept;
        if (moved <= 1e-6 * (sh->bytes > 1 ? sh->bytes : 1)) {
            out->shards_kept++;
            continue;
        }
        out->shards_moved++;
        out->bytes_moved += moved;
        int src = old ? source_zone(sh, old) : -1;
        if (src < 0)
            continue; /* nothing runs yet: initial deployment, no transfer */
        fl_link l = fl_catalog_link(cat, src, sh->zone);
        double t = l.bandwidth > 0 ? moved / l.bandwidth : 0.0;
        if (node_s && sh->node >= 0)
            node_s[sh->node] += t;
        else if (t > worst)
            worst = t;
        if (l.latency > max_lat)
            max_lat = l.latency;
        out->migration_cost += moved / 1e9 * l.egress_per_gb;
    }
    for (size_t n = 0; node_s && n < nodes->n; n++)
        if (node_s[n] > worst)
            worst = node_s[n];
    free(node_s);
    out->changed = out->shards_moved > 0 || !old || old->n != ns->n;
    if (old && out->changed)
        out->migration_s = opts->restart_s + worst + max_lat;
}
