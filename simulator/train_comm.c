/* simulator/train_comm.c — communication times of training: point-to-point activation
 * transfers between pipeline stages (same node over the GPU link, otherwise over the catalog's
 * zone-to-zone link with its latency) and the data-parallel gradient all-reduce over the
 * slowest link its group spans. Ring collectives: 2*(n-1)/n * bytes / bw + 2*(n-1)*latency. */
#include "simulator/train_sim.h"

double fl_train_p2p_time(const fl_catalog *cat, int gpu, int za, int zb, int same_node, double bytes)
{
    if (bytes <= 0)
        return 0;
    if (same_node) {
        fl_train_gpu_perf p;
        fl_train_gpu_perf_get(cat, gpu, FL_DT_BF16, &p);
        return bytes / p.link_bw + p.link_lat;
    }
    fl_link l = fl_catalog_link(cat, za, zb);
    return fl_train_link_transfer_time(bytes, l.bandwidth, l.latency);
}
