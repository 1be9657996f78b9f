/* simulator/train_comm.c — communication times of training: point-to-point activation
 * transfers between pipeline stages (same node over the GPU link, otherwise over the catalog's
 * zone-to-zone link with its latency) and the data-parallel gradient all-reduce over the
 * slowest link its group spans. Ring collectives: 2*(n-1)/n * bytes / bw + 2*(n-1)*latency.
 *
 * Links come from the catalog: fl_catalog_link (zone pairs; an on-prem zone's declared NIC is
 * already applied there) and fl_catalog_gpu_link (the intra-node link of a GPU type in a zone;
 * a link declared for the zone's on-prem nodes replaces the datasheet one). */
#include "simulator/train_sim.h"

#include <strings.h>

void fl_train_link_eff(const char *link_type, double link_bw, double *bw, double *lat)
{
    /* link_bw is the datasheet total (both directions) for NVLink/xGMI: a ring moves data one way
     * at ~80 % of one direction (A100 measured 245 GB/s of 600 total => 0.41; NCCL's maintainers
     * give ~20 % protocol overhead on the NVLink line rate, NVIDIA/nccl-tests issue #212). PCIe
     * figures are per direction (0.7 of the x16 rate). The same figures as fl_train_gpu_perf_get. */
    int fabric = link_type && (strcasecmp(link_type, "NVLink") == 0 || strcasecmp(link_type, "xGMI") == 0);
    *bw = link_bw * (fabric ? 0.41 : 0.7);
    if (*bw <= 0)
        *bw = 1e10;
    *lat = fabric ? 8e-6 : 20e-6;
}

void fl_train_gpu_link(const fl_catalog *cat, int zone, int gpu, double *bw, double *lat)
{
    fl_gpu_link l = fl_catalog_gpu_link(cat, zone, gpu);
    fl_train_link_eff(l.type, l.bandwidth, bw, lat);
}

double fl_train_p2p_time(const fl_catalog *cat, int gpu, int za, int zb, int same_node, double bytes)
{
    if (bytes <= 0)
        return 0;
    if (same_node) {
        double bw, lat;
        fl_train_gpu_link(cat, za, gpu, &bw, &lat);
        return bytes / bw + lat;
    }
    fl_link l = fl_catalog_link(cat, za, zb);
    return fl_train_link_transfer_time(bytes, l.bandwidth, l.latency);
}
