/* tests/profiles/test_gpus.c — GPU types from CSV (`profiles import --gpus`), the sms and
 * tf32_flops columns, declared on-prem node networks and zone-pair network CSVs: what the
 * catalog and the simulator's link lookups see, replacement that keeps what refers to a GPU,
 * schema migration filling the new columns, and every bad input leaving the catalog unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"
#include "profiles/catalog.h"
#include "simulator/train_sim.h"
#include "tests/common/testutil.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HDR "name,vendor,memory_bytes,hbm_bw_bytes_per_s,fp16_flops,fp32_flops,link_type,link_bw_bytes_per_s,source\n"

static const char *source_file(const char *rel)
{
    static char buf[1024];
    const char *root = getenv("FLOTILLA_SOURCE_ROOT");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : ".", rel);
    return buf;
}

static fl_catalog *open_builtin(void)
{
    fl_catalog *cat = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &cat, &err), FL_OK);
    return cat;
}

static const fl_gpu *gpu_named(const fl_catalog *cat, const char *name)
{
    int i = fl_catalog_find_gpu(cat, name, "gpu", NULL);
    return i >= 0 ? fl_catalog_gpu(cat, (size_t)i) : NULL;
}

static void test_builtin_sms_tf32(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    /* every built-in GPU has its SM / CU count */
    for (size_t i = 0; i < fl_catalog_gpu_count(cat); i++)
        assert_true(fl_catalog_gpu(cat, i)->sms > 0);
    assert_int_equal(gpu_named(cat, "h100")->sms, 132);
    assert_int_equal(gpu_named(cat, "a100")->sms, 108);
    assert_int_equal(gpu_named(cat, "mi300x")->sms, 304);
    assert_true(gpu_named(cat, "h100")->tf32_flops == 4.947e14);
    assert_true(gpu_named(cat, "a100")->tf32_flops == 1.56e14);
    /* no TF32 on Volta, Turing and CDNA2 */
    assert_true(gpu_named(cat, "v100")->tf32_flops == 0);
    assert_true(gpu_named(cat, "t4")->tf32_flops == 0);
    assert_true(gpu_named(cat, "mi250x")->tf32_flops == 0);
    fl_catalog_free(cat);
}

static void test_import_example_rtx3090(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    size_t before = fl_catalog_gpu_count(cat), rows = 0;
    fl_error err;
    assert_int_equal(fl_catalog_import_gpus(cat, source_file("examples/gpus/rtx3090.csv"), &rows, &err), FL_OK);
    assert_int_equal(rows, 2);
    assert_int_equal(fl_catalog_gpu_count(cat), before + 2);
    const fl_gpu *g = gpu_named(cat, "NVIDIA GeForce RTX 3090");
    assert_non_null(g);
    assert_string_equal(g->name, "RTX-3090-24GB");
    assert_int_equal(g->sms, 82);
    assert_true(g->fp32_flops == 3.56e13 && g->tf32_flops == 3.56e13 && g->bf16_flops == 7.1e13);
    assert_string_equal(g->link_type, "PCIe");
    const fl_gpu *t = gpu_named(cat, "titan rtx");
    assert_non_null(t);
    assert_int_equal(t->sms, 72);
    assert_true(t->bf16_flops == 0 && t->tf32_flops == 0 && t->fp16_flops == 1.305e14);
    /* the simulator's per-GPU figures are defined for the new type */
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cat, fl_catalog_find_gpu(cat, "rtx3090", NULL, NULL), FL_DT_BF16, &p);
    assert_true(p.peak_flops == 7.1e13 && p.hbm_bw > 0 && p.link_bw > 0);
    fl_catalog_free(cat);
}

/* The built-in data/gpus.csv passes the importer's checks and re-importing it changes nothing. */
static void test_builtin_file_reimports(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    size_t n = fl_catalog_gpu_count(cat), rows = 0;
    fl_gpu h = *gpu_named(cat, "h100"); /* numbers only: its strings die with the reload */
    char aliases[512];
    snprintf(aliases, sizeof aliases, "%s", h.aliases);
    fl_error err;
    assert_int_equal(fl_catalog_import_gpus(cat, source_file("data/gpus.csv"), &rows, &err), FL_OK);
    assert_int_equal(rows, n);
    assert_int_equal(fl_catalog_gpu_count(cat), n);
    const fl_gpu *h2 = gpu_named(cat, "h100");
    assert_true(h2->hbm_bw == h.hbm_bw && h2->sms == h.sms && h2->tf32_flops == h.tf32_flops);
    assert_string_equal(h2->aliases, aliases);
    fl_catalog_free(cat);
}

/* Replacing a GPU type that offerings, nodes and measured rows refer to keeps them; columns the
 * file leaves out keep their values. */
static void test_replace_keeps_references(void **state)
{
    (void)state;
    const char *path = temp_path(0, ".sqlite");
    fl_catalog *cat = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_open(path, &cat, &err), FL_OK);
    assert_int_equal(fl_catalog_import_nvidia_smi(cat, test_data("nvidia-smi-q-x.h100-sxm-80gb.xml"), "onprem:lab",
                                                  "h1", &err), FL_OK);
    size_t rows = 0;
    assert_int_equal(fl_catalog_import_measured(cat, test_data("h100-sxm-80gb.layers.jsonl"), &rows, &err), FL_OK);
    size_t n_gpus = fl_catalog_gpu_count(cat), n_off = fl_catalog_offering_count(cat);
    size_t n_meas = fl_catalog_measured_count(cat), n_nodes = fl_catalog_node_count(cat);
    char aliases[512];
    snprintf(aliases, sizeof aliases, "%s", gpu_named(cat, "h100")->aliases);
    const char *csv = temp_file(1, ".csv", HDR "h100-sxm-80gb,NVIDIA,85520809984,3.0e12,9.89e14,6.69e13,NVLink,9.0e11,"
                                           "lab measurement of HBM bandwidth\n");
    assert_int_equal(fl_catalog_import_gpus(cat, csv, &rows, &err), FL_OK);
    assert_int_equal(fl_catalog_gpu_count(cat), n_gpus);
    assert_int_equal(fl_catalog_offering_count(cat), n_off);
    assert_int_equal(fl_catalog_measured_count(cat), n_meas);
    assert_int_equal(fl_catalog_node_count(cat), n_nodes);
    const fl_gpu *h = gpu_named(cat, "NVIDIA H100 80GB HBM3");
    assert_non_null(h);
    assert_string_equal(h->name, "H100-SXM-80GB"); /* the canonical spelling stays */
    assert_true(h->hbm_bw == 3.0e12);
    assert_string_equal(h->source, "lab measurement of HBM bandwidth");
    assert_string_equal(h->aliases, aliases);       /* not in the file: kept */
    assert_int_equal(h->sms, 132);                  /* idem */
    int hi = fl_catalog_find_gpu(cat, "h100", NULL, NULL);
    assert_int_equal(fl_catalog_node(cat, 0)->gpu_index, hi);
    size_t on_h100 = 0;
    for (size_t i = 0; i < fl_catalog_offering_count(cat); i++)
        on_h100 += fl_catalog_offering(cat, i)->gpu_index == hi;
    assert_true(on_h100 > 0);
    fl_catalog_free(cat);
    /* durable: reopen */
    assert_int_equal(fl_catalog_open(path, &cat, &err), FL_OK);
    assert_true(gpu_named(cat, "h100")->hbm_bw == 3.0e12);
    fl_catalog_free(cat);
    unlink(path);
}

/* Import `text` as a GPU CSV and expect failure naming all needles; the catalog is unchanged. */
static void expect_gpus_fail(const char *text, fl_status code, const char *n1, const char *n2)
{
    fl_catalog *cat = open_builtin();
    size_t n = fl_catalog_gpu_count(cat);
    double hbm = gpu_named(cat, "h100")->hbm_bw;
    const char *path = temp_file(2, ".csv", text);
    fl_error err;
    fl_error_clear(&err);
    size_t rows = 7;
    fl_status rc = fl_catalog_import_gpus(cat, path, &rows, &err);
    if (rc != code || !strstr(err.message, path) || (n1 && !strstr(err.message, n1)) ||
        (n2 && !strstr(err.message, n2)))
        fail_msg("expected %d with '%s' '%s', got %d: %s", code, n1 ? n1 : "", n2 ? n2 : "", rc, err.message);
    assert_int_equal(rows, 0);
    assert_int_equal(fl_catalog_gpu_count(cat), n);
    assert_true(gpu_named(cat, "h100")->hbm_bw == hbm);
    assert_null(gpu_named(cat, "X1"));
    fl_catalog_free(cat);
}

#define OK_ROW "X1,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,datasheet\n"

static void test_gpus_bad_inputs(void **state)
{
    (void)state;
    /* missing required column, duplicate and unknown columns */
    expect_gpus_fail("name,vendor,memory_bytes,hbm_bw_bytes_per_s,fp16_flops,link_type,link_bw_bytes_per_s,source\n"
                     "X1,Acme,2.5e10,9e11,7e13,PCIe,3.2e10,d\n", FL_EPARSE, "line 1", "fp32_flops");
    expect_gpus_fail("name,vendor,memory_bytes,hbm_bw_bytes_per_s,fp16_flops,fp32_flops,link_type,link_bw_bytes_per_s,"
                     "source,fp32_flops\n" "X1,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,d,3.5e13\n", FL_EPARSE,
                     "fp32_flops appears twice", NULL);
    expect_gpus_fail("name,vendor,memory_bytes,hbm_bw_bytes_per_s,fp16_flops,fp32_flops,link_type,link_bw_bytes_per_s,"
                     "source,tflops\n" "X1,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,d,35\n", FL_EPARSE,
                     "unknown column 'tflops'", NULL);
    /* non-numeric, non-positive, absurd figures and unit slips */
    expect_gpus_fail(HDR OK_ROW "X2,Acme,2.5e10,fast,7e13,3.5e13,PCIe,3.2e10,d\n", FL_EPARSE, "line 3",
                     "hbm_bw_bytes_per_s: 'fast' is not a number");
    expect_gpus_fail(HDR "X1,Acme,2.5e10,9e11,0,3.5e13,PCIe,3.2e10,d\n", FL_EINVAL, "line 2, column fp16_flops",
                     "positive");
    expect_gpus_fail(HDR "X1,Acme,-2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,d\n", FL_EINVAL, "column memory_bytes",
                     "positive");
    expect_gpus_fail(HDR "X1,Acme,2e12,9e11,7e13,3.5e13,PCIe,3.2e10,d\n", FL_EINVAL, "column memory_bytes", "1 TB");
    expect_gpus_fail(HDR "X1,Acme,2.5e10,2e14,7e13,3.5e13,PCIe,3.2e10,d\n", FL_EINVAL, "column hbm_bw_bytes_per_s",
                     "100 TB/s");
    expect_gpus_fail(HDR "X1,Acme,24,9e11,7e13,3.5e13,PCIe,3.2e10,d\n", FL_EINVAL, "column memory_bytes", "unit");
    expect_gpus_fail(HDR "X1,Acme,2.5e10,9e11,7e13,35.6,PCIe,3.2e10,d\n", FL_EINVAL, "column fp32_flops", "unit");
    expect_gpus_fail(HDR "X1,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,1e15,d\n", FL_EINVAL, "column link_bw_bytes_per_s",
                     NULL);
    expect_gpus_fail(HDR "X1,Acme,2.5e10,9e11,7e13,nan,PCIe,3.2e10,d\n", FL_EPARSE, "column fp32_flops", NULL);
    expect_gpus_fail(HDR "X1,Acme,2.5e10,9e11,7e13,3.5e13,Infiniband,3.2e10,d\n", FL_EINVAL, "column link_type",
                     "Infiniband");
    expect_gpus_fail(HDR "X1,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,\n", FL_EINVAL, "column source", "required");
    expect_gpus_fail(HDR "X1,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10\n", FL_EPARSE, "line 2", "8 fields");
    expect_gpus_fail("sms," HDR "8.5,X1,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,d\n", FL_EINVAL, "column sms",
                     "whole number");
    expect_gpus_fail("usable_memory_bytes," HDR "3e10,X1,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,d\n", FL_EINVAL,
                     "usable_memory_bytes", "exceeds");
    expect_gpus_fail(HDR "X1;X2,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,d\n", FL_EINVAL, "column name", "';'");
    /* uniqueness of names and aliases over all GPU types */
    expect_gpus_fail(HDR OK_ROW "x1,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,d\n", FL_EINVAL, "line 3",
                     "already on line 2");
    expect_gpus_fail(HDR "h100,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,d\n", FL_EINVAL, "line 2, column name",
                     "H100-SXM-80GB");
    expect_gpus_fail("aliases," HDR "a100-sxm-40gb,X1,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,d\n", FL_EINVAL,
                     "line 2, column aliases", "A100-SXM-40GB");
    expect_gpus_fail("aliases," HDR "x;NVIDIA H100 80GB HBM3,X1,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,d\n",
                     FL_EINVAL, "column aliases", "NVIDIA H100 80GB HBM3");
    expect_gpus_fail("aliases," HDR "shared,X1,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,d\n"
                     "shared,X2,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,d\n", FL_EINVAL, "line 3", "'shared'");
    /* empty file, header only, unterminated quote */
    expect_gpus_fail("", FL_EPARSE, "empty file", NULL);
    expect_gpus_fail(HDR, FL_EPARSE, "no GPU rows", NULL);
    expect_gpus_fail(HDR "X1,Acme,2.5e10,9e11,7e13,3.5e13,PCIe,3.2e10,\"unterminated\n", FL_EPARSE, "unterminated",
                     NULL);
    /* a file that does not exist */
    fl_catalog *cat = open_builtin();
    fl_error err;
    assert_int_equal(fl_catalog_import_gpus(cat, "/nonexistent/gpus.csv", NULL, &err), FL_EIO);
    assert_int_equal(fl_catalog_import_gpus(cat, NULL, NULL, &err), FL_EMISUSE);
    fl_catalog_free(cat);
}

/* A catalog file of schema 1 (no sms / tf32_flops columns, no v2 columns) is migrated on open and
 * the built-in GPU types get their sms and tf32_flops. */
static void test_migration_fills_columns(void **state)
{
    (void)state;
    const char *path = temp_path(3, ".sqlite");
    fl_catalog *cat = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_open(path, &cat, &err), FL_OK);
    fl_catalog_free(cat);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE gpus DROP COLUMN sms; ALTER TABLE gpus DROP COLUMN tf32_flops;"
                                      "ALTER TABLE measured DROP COLUMN model; ALTER TABLE measured DROP COLUMN tp;"
                                      "ALTER TABLE measured DROP COLUMN oom; ALTER TABLE measured DROP COLUMN row;"
                                      "ALTER TABLE nodes DROP COLUMN nic_bw_bytes_per_s;"
                                      "ALTER TABLE nodes DROP COLUMN nic_latency_s; ALTER TABLE nodes DROP COLUMN link_type;"
                                      "ALTER TABLE nodes DROP COLUMN link_bw_bytes_per_s; PRAGMA user_version=1;",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(fl_catalog_open(path, &cat, &err), FL_OK);
    assert_int_equal(gpu_named(cat, "h100")->sms, 132);
    assert_true(gpu_named(cat, "l4")->tf32_flops == 6.03e13);
    assert_true(gpu_named(cat, "v100")->tf32_flops == 0);
    fl_catalog_free(cat);
    /* an early schema-2 file without the GPU columns is completed the same way */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE gpus DROP COLUMN sms; ALTER TABLE gpus DROP COLUMN tf32_flops;",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(fl_catalog_open(path, &cat, &err), FL_OK);
    assert_int_equal(gpu_named(cat, "a100")->sms, 108);
    fl_catalog_free(cat);
    unlink(path);
}

/* Declared NICs set the zone's node-to-node link and cap links leaving the zone; a declared
 * intra-node link replaces the GPU type's for that zone only. */
static void test_declared_node_network(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    fl_error err;
    const char *xml = test_data("nvidia-smi-q-x.rtx3090-4gpu.xml");
    assert_int_equal(fl_catalog_import_gpus(cat, source_file("examples/gpus/rtx3090.csv"), NULL, &err), FL_OK);
    fl_node_network net = {100e9 / 8, 5e-6, "nvlink", 900e9 / 8};
    assert_int_equal(fl_catalog_import_nvidia_smi_network(cat, xml, "onprem:lab", "n1", &net, &err), FL_OK);
    net.nic_bw = 25e9 / 8; /* a slower node: the zone runs at the slowest declared NIC */
    net.nic_latency = -1;
    assert_int_equal(fl_catalog_import_nvidia_smi_network(cat, xml, "onprem:lab", "n2", &net, &err), FL_OK);
    int lab = fl_catalog_find_zone(cat, "onprem:lab", NULL, NULL);
    int gcp = fl_catalog_find_zone(cat, "gcp:us-central1-a", NULL, NULL);
    int rtx = fl_catalog_find_gpu(cat, "rtx3090", NULL, NULL);
    assert_true(lab >= 0 && gcp >= 0 && rtx >= 0);
    const fl_node *n1 = fl_catalog_node(cat, 0);
    assert_string_equal(n1->name, "n1");
    assert_true(n1->nic_bw == 12.5e9 && n1->nic_latency == 5e-6 && n1->link_bw == 112.5e9 && n1->nvlink == 1);
    assert_string_equal(n1->link_type, "NVLink");
    assert_true(fl_catalog_node(cat, 1)->nic_latency < 0);
    fl_link self = fl_catalog_link(cat, lab, lab);
    assert_true(self.bandwidth == 25e9 / 8);
    assert_true(self.latency == 5e-6);
    fl_link out = fl_catalog_link(cat, lab, gcp), back = fl_catalog_link(cat, gcp, lab);
    assert_true(out.bandwidth <= 25e9 / 8 && back.bandwidth == out.bandwidth);
    assert_true(out.latency >= 5e-6);
    /* intra-node link: declared in the lab, datasheet elsewhere */
    fl_gpu_link l = fl_catalog_gpu_link(cat, lab, rtx);
    assert_true(l.declared && l.bandwidth == 112.5e9);
    assert_string_equal(l.type, "NVLink");
    l = fl_catalog_gpu_link(cat, gcp, rtx);
    assert_true(!l.declared && l.bandwidth == 3.2e10);
    assert_string_equal(l.type, "PCIe");
    l = fl_catalog_gpu_link(cat, -1, rtx);
    assert_true(!l.declared && l.bandwidth == 3.2e10);
    /* the simulator's same-node p2p uses it: NVLink 112.5 GB/s beats PCIe 32 GB/s */
    double bytes = 1e9;
    double t_lab = fl_train_p2p_time(cat, rtx, lab, lab, 1, bytes);
    double t_dc = fl_train_p2p_time(cat, rtx, gcp, gcp, 1, bytes);
    double bw, lat;
    fl_train_link_eff("NVLink", 112.5e9, &bw, &lat);
    assert_true(fabs(t_lab - (bytes / bw + lat)) < 1e-12);
    assert_true(t_lab < t_dc);
    /* across nodes: the declared NIC */
    double t_nodes = fl_train_p2p_time(cat, rtx, lab, lab, 0, bytes);
    assert_true(fabs(t_nodes - (bytes / (25e9 / 8) + 5e-6)) < 1e-9);
    /* a zone without declared NICs keeps its class figures */
    fl_catalog *plain = open_builtin();
    fl_link g1 = fl_catalog_link(plain, gcp, gcp), g2 = fl_catalog_link(cat, gcp, gcp);
    assert_true(g1.bandwidth == g2.bandwidth && g1.latency == g2.latency);
    fl_catalog_free(plain);
    /* re-importing a node without the options drops its declaration */
    assert_int_equal(fl_catalog_import_nvidia_smi(cat, xml, "onprem:lab", "n2", &err), FL_OK);
    assert_true(fl_catalog_link(cat, lab, lab).bandwidth == 12.5e9);
    fl_catalog_free(cat);
}

static void expect_net_fail(fl_node_network net, const char *field, const char *needle)
{
    fl_catalog *cat = open_builtin();
    fl_error err;
    fl_error_clear(&err);
    size_t nodes = fl_catalog_node_count(cat), zones = fl_catalog_zone_count(cat);
    fl_status rc = fl_catalog_import_nvidia_smi_network(cat, test_data("nvidia-smi-q-x.h100-sxm-80gb.xml"),
                                                        "onprem:x", "n", &net, &err);
    if (rc != FL_EINVAL || strcmp(err.field, field) != 0 || !strstr(err.message, needle))
        fail_msg("expected EINVAL on %s with '%s', got %d %s: %s", field, needle, rc, err.field, err.message);
    assert_int_equal(fl_catalog_node_count(cat), nodes);
    assert_int_equal(fl_catalog_zone_count(cat), zones);
    fl_catalog_free(cat);
}

static void test_node_network_bad(void **state)
{
    (void)state;
    expect_net_fail((fl_node_network){-1, -1, NULL, 0}, "nic_bw", "positive");
    expect_net_fail((fl_node_network){1e14, -1, NULL, 0}, "nic_bw", "100 Tb/s");
    expect_net_fail((fl_node_network){NAN, -1, NULL, 0}, "nic_bw", "nic bandwidth");
    expect_net_fail((fl_node_network){1e10, 5, NULL, 0}, "nic_latency", "0 to 1 s");
    expect_net_fail((fl_node_network){0, 1e-6, NULL, 0}, "nic_latency", "needs the nic bandwidth");
    expect_net_fail((fl_node_network){0, -1, "infiniband", 0}, "link", "nvlink, xgmi, pcie");
    expect_net_fail((fl_node_network){0, -1, "xgmi", 0}, "link_bw", "give the xGMI bandwidth");
    expect_net_fail((fl_node_network){0, -1, "nvlink", -5}, "link_bw", "positive");
    /* accepted: pcie without a figure takes the GPU type's PCIe rate */
    fl_catalog *cat = open_builtin();
    fl_error err;
    fl_node_network net = {0, -1, "PCIe", 0};
    assert_int_equal(fl_catalog_import_nvidia_smi_network(cat, test_data("nvidia-smi-q-x.h100-sxm-80gb.xml"),
                                                          "onprem:x", "n", &net, &err), FL_OK);
    const fl_node *n = fl_catalog_node(cat, 0);
    assert_true(n->link_bw == 6.4e10 && n->nvlink == 0 && n->nic_bw == 0);
    fl_catalog_free(cat);
}

static void test_network_csv(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    fl_error err;
    assert_int_equal(fl_catalog_import_nvidia_smi(cat, test_data("nvidia-smi-q-x.h100-sxm-80gb.xml"), "onprem:lab",
                                                  "n1", &err), FL_OK);
    int lab = fl_catalog_find_zone(cat, "onprem:lab", NULL, NULL);
    int gcp = fl_catalog_find_zone(cat, "gcp:us-central1-a", NULL, NULL);
    const char *ok = temp_file(4, ".csv", "zone_a,zone_b,bandwidth_bytes_per_s,latency_s,egress_per_gb,source\n"
                                          "onprem:lab,GCP:us-central1-a,1.25e9,0.002,0.0,dedicated 10G interconnect\n"
                                          "onprem:lab,onprem:lab,5e10,3e-6,0,lab fabric\n");
    size_t rows = 0;
    assert_int_equal(fl_catalog_import_network(cat, ok, &rows, &err), FL_OK);
    assert_int_equal(rows, 2);
    fl_link l = fl_catalog_link(cat, gcp, lab);
    assert_true(l.bandwidth == 1.25e9 && l.latency == 0.002 && l.egress_per_gb == 0);
    assert_true(fl_catalog_link(cat, lab, lab).bandwidth == 5e10);
    /* the pair again, in the other order and without latency: replaced, class latency kept */
    const char *again = temp_file(5, ".csv", "zone_b,zone_a,bandwidth_bytes_per_s,source\n"
                                             "onprem:lab,gcp:us-central1-a,2.5e9,upgraded\n");
    assert_int_equal(fl_catalog_import_network(cat, again, &rows, &err), FL_OK);
    l = fl_catalog_link(cat, lab, gcp);
    assert_true(l.bandwidth == 2.5e9 && l.latency > 0.002);
    /* bad files: unchanged */
    static const struct { const char *text, *needle; } bad[] = {
        {"zone_a,zone_b,bandwidth_bytes_per_s,source\nonprem:lab,onprem:nowhere,1e9,x\n", "line 2, column zone_b"},
        {"zone_a,zone_b,bandwidth_bytes_per_s,source\nonprem:lab,onprem:lab,-1e9,x\n", "column bandwidth_bytes_per_s"},
        {"zone_a,zone_b,bandwidth_bytes_per_s,source\nonprem:lab,onprem:lab,fast,x\n", "not a number"},
        {"zone_a,zone_b,bandwidth_bytes_per_s,latency_s,source\nonprem:lab,onprem:lab,1e9,-1,x\n", "column latency_s"},
        {"zone_a,zone_b,source\nonprem:lab,onprem:lab,x\n", "bandwidth_bytes_per_s is missing"},
        {"zone_a,zone_b,bandwidth_bytes_per_s,source,colour\nonprem:lab,onprem:lab,1e9,x,red\n", "unknown column"},
        {"zone_a,zone_b,bandwidth_bytes_per_s,source\nonprem:lab,onprem:lab,1e9,\n", "column source"},
        {"zone_a,zone_b,bandwidth_bytes_per_s,source\n", "no rows"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = temp_file(6, ".csv", bad[i].text);
        fl_error_clear(&err);
        assert_int_not_equal(fl_catalog_import_network(cat, p, &rows, &err), FL_OK);
        if (!strstr(err.message, bad[i].needle) || !strstr(err.message, p))
            fail_msg("case %zu: expected '%s' in: %s", i, bad[i].needle, err.message);
        assert_true(fl_catalog_link(cat, lab, gcp).bandwidth == 2.5e9);
        assert_true(fl_catalog_link(cat, lab, lab).bandwidth == 5e10);
    }
    fl_catalog_free(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_sms_tf32),
        cmocka_unit_test(test_import_example_rtx3090),
        cmocka_unit_test(test_builtin_file_reimports),
        cmocka_unit_test(test_replace_keeps_references),
        cmocka_unit_test(test_gpus_bad_inputs),
        cmocka_unit_test(test_migration_fills_columns),
        cmocka_unit_test(test_declared_node_network),
        cmocka_unit_test(test_node_network_bad),
        cmocka_unit_test(test_network_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
