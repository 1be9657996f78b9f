/* profiles/import_nvidia_smi.c — `nvidia-smi -q -x` XML → one on-prem node in table `nodes`.
 *
 * Reads the GPUs of one machine (product_name, fb_memory_usage/total, product_architecture),
 * maps the product name through the catalog's GPU aliases and registers (or replaces) the node,
 * creating its `onprem:<site>` zone when missing. One SQLite transaction per import.
 *
 * NVLink: `nvidia-smi -q -x` carries no NVLink topology (that needs `nvidia-smi topo -m` or
 * `nvidia-smi nvlink -s`). The node's nvlink flag therefore comes from the GPU type's link_type
 * (NVLink → 1), unless each <gpu> element carries an explicit <nvlink> child (a flotilla extension
 * a wrapper script may add) whose text is Yes/Active/Enabled/1 or No/None/Disabled/0.
 *
 * Declared network (fl_catalog_import_nvidia_smi_network): the node's NIC bandwidth and latency
 * and its intra-node link (type and bandwidth) are stored with the node; a declared link sets the
 * nvlink flag (NVLink -> 1, otherwise 0).
 */
#include "profiles/catalog.h"
#include "common/error.h"
#include "profiles/storage.h"
#include "common/json_util.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NSMI_MAX_TEXT 256

/* First element child of `parent` named `name`, or NULL. */
static xmlNode *child(xmlNode *parent, const char *name)
{
    for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
            return c;
    return NULL;
}

/* Trimmed text content of an element into buf; 0 when the element is absent or empty. */
static int text_of(xmlNode *n, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (!n)
        return 0;
    xmlChar *t = xmlNodeGetContent(n);
    if (!t)
        return 0;
    const char *s = (const char *)t;
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len >= cap)
        len = cap - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    xmlFree(t);
    return len > 0;
}

/* "81559 MiB" → bytes. Returns 0 on an unparsable value. */
static double parse_memory(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v <= 0 || v > 1e15) /* NaN, Inf and absurd sizes are not memory */
        return 0;
    while (*end == ' ')
        end++;
    static const struct { const char *unit; double mult; } units[] = {
        {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"B", 1.0},
        {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcasecmp(end, units[i].unit) == 0)
            return v * units[i].mult;
    return 0;
}

/* Explicit <nvlink> flag: 1 / 0, or -1 when absent or not recognised. */
static int nvlink_flag(xmlNode *gpu)
{
    char t[NSMI_MAX_TEXT];
    if (!text_of(child(gpu, "nvlink"), t, sizeof t))
        return -1;
    static const char *yes[] = {"yes", "active", "enabled", "1", "true"};
    static const char *no[] = {"no", "none", "disabled", "0", "false", "inactive"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcasecmp(t, yes[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcasecmp(t, no[i]) == 0)
            return 0;
    return -1;
}

/* What the XML says about one machine. */
typedef struct nsmi_node {
    char hostname[NSMI_MAX_TEXT];
    char driver[NSMI_MAX_TEXT];
    char product[NSMI_MAX_TEXT];
    int gpu_index;        /* catalog GPU */
    int gpu_count;
    double memory_bytes;  /* smallest fb_memory_usage/total of the GPUs */
    int nvlink;           /* -1: not in the XML */
} nsmi_node;

/* Parse the file with libxml2 (no network, no DTD) and fill *node; the catalog resolves names. */
static fl_status parse_xml(const fl_catalog *cat, const char *path, nsmi_node *node, fl_error *err)
{
    memset(node, 0, sizeof *node);
    node->nvlink = -1;
    /* at most FL_INPUT_MAX bytes of UTF-8 (nvidia-smi writes UTF-8; a bad byte is reported with its
     * line and column rather than left to the XML parser's encoding guess) */
    char *text = NULL;
    size_t len = 0;
    fl_status rrc = fl_read_file(path, "nvidia-smi", &text, &len, err);
    if (rrc)
        return rrc;
    if (len > (size_t)INT_MAX) {
        free(text);
        return fl_fail(err, FL_EINVAL, "nvidia-smi", "%s is too large", path);
    }
    xmlParserCtxtPtr ctx = xmlNewParserCtxt();
    if (!ctx) {
        free(text);
        return fl_fail(err, FL_ENOMEM, "nvidia-smi", "out of memory");
    }
    xmlDocPtr doc = xmlCtxtReadMemory(ctx, text, (int)len, path, "UTF-8",
                                      XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    free(text);
    fl_status rc = FL_OK;
    if (!doc) {
        const xmlError *xe = xmlCtxtGetLastError(ctx);
        char msg[200] = "not well-formed XML";
        if (xe && xe->message) {
            snprintf(msg, sizeof msg, "%s", xe->message);
            size_t l = strlen(msg);
            while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
                msg[--l] = '\0';
        }
        rc = fl_fail(err, FL_EPARSE, "nvidia-smi", "%s line %d: not a valid nvidia-smi -q -x file: %s", path,
                     xe ? xe->line : 0, msg);
        xmlFreeParserCtxt(ctx);
        return rc;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "nvidia_smi_log") != 0) {
        rc = fl_fail(err, FL_EPARSE, "nvidia_smi_log", "%s: root element is <%s>, expected <nvidia_smi_log> "
                     "(output of `nvidia-smi -q -x`)", path, root ? (const char *)root->name : "none");
        goto done;
    }
    text_of(child(root, "hostname"), node->hostname, sizeof node->hostname);
    if (!text_of(child(root, "driver_version"), node->driver, sizeof node->driver))
        snprintf(node->driver, sizeof node->driver, "unknown");
    int idx = 0, nv_yes = 0, nv_no = 0;
    for (xmlNode *g = root->children; g; g = g->next) {
        if (g->type != XML_ELEMENT_NODE || strcmp((const char *)g->name, "gpu") != 0)
            continue;
        char field[96], product[NSMI_MAX_TEXT], mem[NSMI_MAX_TEXT];
        snprintf(field, sizeof field, "nvidia_smi_log.gpu[%d].product_name", idx);
        if (!text_of(child(g, "product_name"), product, sizeof product)) {
            rc = fl_fail(err, FL_EPARSE, field, "%s line %ld: gpu %d has no product_name", path, xmlGetLineNo(g), idx);
            goto done;
        }
        fl_error lerr;
        fl_error_clear(&lerr);
        int gi = fl_catalog_find_gpu(cat, product, field, &lerr);
        if (gi < 0) {
            const char *close = strstr(lerr.message, "(closest: ");
            rc = fl_fail(err, FL_ENOTFOUND, field, "%s line %ld: GPU product_name '%s' is not in the catalog "
                         "(add the GPU type, with this name among its aliases, by `profiles import --gpus FILE.csv`: see "
                         "examples/gpus/rtx3090.csv) %s", path, xmlGetLineNo(g), product,
                         close ? close : "");
            goto done;
        }
        if (idx == 0) {
            snprintf(node->product, sizeof node->product, "%s", product);
            node->gpu_index = gi;
        } else if (gi != node->gpu_index) {
            rc = fl_fail(err, FL_EINVAL, field, "%s line %ld: gpu %d is '%s' but gpu 0 is '%s'; a node must have one "
                         "GPU type (import each type as its own node)", path, xmlGetLineNo(g), idx, product,
                         node->product);
            goto done;
        }
        snprintf(field, sizeof field, "nvidia_smi_log.gpu[%d].fb_memory_usage.total", idx);
        text_of(child(child(g, "fb_memory_usage"), "total"), mem, sizeof mem);
        double bytes = parse_memory(mem);
        if (bytes <= 0) {
            rc = fl_fail(err, FL_EPARSE, field, "%s line %ld: gpu %d fb_memory_usage/total '%s' is not a memory size "
                         "like '81559 MiB'", path, xmlGetLineNo(g), idx, mem);
            goto done;
        }
        if (node->memory_bytes <= 0 || bytes < node->memory_bytes)
            node->memory_bytes = bytes;
        int nv = nvlink_flag(g);
        nv_yes += nv == 1;
        nv_no += nv == 0;
        idx++;
    }
    if (idx == 0) {
        rc = fl_fail(err, FL_EPARSE, "nvidia_smi_log.gpu", "%s: no <gpu> elements (no GPUs attached?)", path);
        goto done;
    }
    node->gpu_count = idx;
    if (nv_yes + nv_no == idx) /* every GPU says it explicitly */
        node->nvlink = nv_no == 0;
done:
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctx);
    return rc;
}

static const char *const continents[] = {"na", "sa", "eu", "asia", "oceania", "me", "africa"};

/* Resolve the zone argument: an existing zone, or a new "onprem:<site>[@continent]" zone which is
 * inserted. `zone_out` receives the canonical zone name. Runs inside the transaction. */
static fl_status ensure_zone(fl_catalog *cat, const char *zone_arg, char *zone_out, size_t cap, fl_error *err)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", zone_arg && *zone_arg ? zone_arg : "onprem:local");
    const char *continent = "na";
    char *at = strchr(buf, '@');
    if (at) {
        *at = '\0';
        continent = at + 1;
        int ok = 0;
        for (size_t i = 0; i < sizeof continents / sizeof continents[0]; i++)
            ok |= strcmp(continent, continents[i]) == 0;
        if (!ok)
            return fl_fail(err, FL_EINVAL, "zone", "zone '%s': unknown continent '%s' (na, sa, eu, asia, oceania, me, "
                           "africa)", zone_arg, continent);
    }
    int zi = fl_catalog_find_zone(cat, buf, "zone", NULL);
    if (zi >= 0) {
        snprintf(zone_out, cap, "%s", fl_catalog_zone(cat, (size_t)zi)->name);
        return FL_OK;
    }
    if (strncmp(buf, "onprem:", 7) != 0 || !buf[7]) {
        fl_catalog_find_zone(cat, buf, "zone", err);
        return err ? err->code : FL_ENOTFOUND;
    }
    const char *site = buf + 7;
    for (const char *c = site; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.'))
            return fl_fail(err, FL_EINVAL, "zone", "zone '%s': site names use letters, digits, '-', '_' and '.'",
                           zone_arg);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(cat->db, "INSERT INTO zones(zone, cloud, region, continent, source) VALUES(?,?,?,?,?)", -1,
                           &st, NULL) != SQLITE_OK)
        return fl_catalog_fail(cat, err, FL_ECATALOG, "zones", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
    sqlite3_bind_text(st, 1, buf, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, "onprem", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, site, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, continent, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, at ? "on-prem site (continent given with the zone)"
                                : "on-prem site created by `profiles import --nvidia-smi` (continent na by default)",
                      -1, SQLITE_STATIC);
    fl_status rc = FL_OK;
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fl_catalog_fail(cat, err, FL_ECATALOG, "zones", "catalog %s: cannot add zone %s: %s", cat->path, buf,
                     sqlite3_errmsg(cat->db));
    sqlite3_finalize(st);
    snprintf(zone_out, cap, "%s", buf);
    return rc;
}

/* Default node name: the XML hostname, else the first free "node-<n>". */
static void default_name(const fl_catalog *cat, const nsmi_node *node, char *out, size_t cap)
{
    if (node->hostname[0]) {
        snprintf(out, cap, "%s", node->hostname);
        return;
    }
    for (size_t n = 1;; n++) {
        snprintf(out, cap, "node-%zu", n);
        int used = 0;
        for (size_t i = 0; i < cat->n_nodes && !used; i++)
            used = strcmp(cat->nodes[i].name, out) == 0;
        if (!used)
            return;
    }
}

/* Upper limits of declared figures: 100 Tb/s NIC, 100 TB/s link, 1 s latency. */
#define NET_MAX_NIC_BW 1.25e13
#define NET_MAX_LINK_BW 1e14
#define NET_MAX_LATENCY 1.0
/* Upper limit of an owned node's price, $/h per GPU (a typo guard). */
#define NET_MAX_PRICE 1e4

/* Check the declared network against GPU type g and resolve the link: *link_type (canonical
 * spelling, or NULL when no link is declared) and *link_bw. */
static fl_status check_network(const fl_node_network *net, const fl_gpu *g, const char **link_type, double *link_bw,
                               fl_error *err)
{
    *link_type = NULL;
    *link_bw = 0;
    if (!net)
        return FL_OK;
    if (!isfinite(net->nic_bw) || net->nic_bw < 0 || net->nic_bw > NET_MAX_NIC_BW)
        return fl_fail(err, FL_EINVAL, "nic_bw", "nic bandwidth %g bytes/s: give a positive figure up to %g bytes/s "
                       "(100 Tb/s)", net->nic_bw, NET_MAX_NIC_BW);
    if (!isfinite(net->nic_latency) || net->nic_latency > NET_MAX_LATENCY)
        return fl_fail(err, FL_EINVAL, "nic_latency", "nic latency %g s: give 0 to %g s", net->nic_latency,
                       NET_MAX_LATENCY);
    if (net->nic_latency >= 0 && net->nic_bw <= 0)
        return fl_fail(err, FL_EINVAL, "nic_latency", "a nic latency needs the nic bandwidth too");
    if (!isfinite(net->link_bw) || net->link_bw < 0 || net->link_bw > NET_MAX_LINK_BW)
        return fl_fail(err, FL_EINVAL, "link_bw", "link bandwidth %g bytes/s: give a positive figure up to %g bytes/s",
                       net->link_bw, NET_MAX_LINK_BW);
    static const char *types[] = {"NVLink", "xGMI", "PCIe"};
    const char *want = net->link_type;
    if (!want && net->link_bw > 0)
        want = g->link_type; /* a bandwidth alone: the GPU type's kind of link */
    if (!want)
        return FL_OK;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(want, types[i]) == 0)
            *link_type = types[i];
    if (!*link_type)
        return fl_fail(err, FL_EINVAL, "link", "link '%s': one of nvlink, xgmi, pcie", want);
    *link_bw = net->link_bw;
    if (*link_bw <= 0) { /* the datasheet figure of that kind of link on this GPU type */
        if (strcmp(*link_type, "PCIe") == 0)
            *link_bw = g->pcie_bw > 0 ? g->pcie_bw : (strcasecmp(g->link_type, "PCIe") == 0 ? g->link_bw : 0);
        else if (strcasecmp(g->link_type, *link_type) == 0)
            *link_bw = g->link_bw;
        if (*link_bw <= 0)
            return fl_fail(err, FL_EINVAL, "link_bw", "link %s: %s's datasheet link is %s; give the %s bandwidth "
                           "(--link-gbps)", *link_type, g->name, g->link_type, *link_type);
    }
    return FL_OK;
}

fl_status fl_catalog_import_nvidia_smi(fl_catalog *cat, const char *xml_path, const char *zone,
                                       const char *node_name, fl_error *err)
{
    return fl_catalog_import_nvidia_smi_network(cat, xml_path, zone, node_name, NULL, err);
}

fl_status fl_catalog_import_nvidia_smi_network(fl_catalog *cat, const char *xml_path, const char *zone,
                                               const char *node_name, const fl_node_network *net, fl_error *err)
{
    return fl_catalog_import_nvidia_smi_priced(cat, xml_path, zone, node_name, net, 0.0, err);
}

fl_status fl_catalog_import_nvidia_smi_priced(fl_catalog *cat, const char *xml_path, const char *zone,
                                              const char *node_name, const fl_node_network *net,
                                              double price_per_gpu_hour, fl_error *err)
{
    if (!isfinite(price_per_gpu_hour) || price_per_gpu_hour < 0 || price_per_gpu_hour > NET_MAX_PRICE)
        return fl_fail(err, FL_EINVAL, "price_per_gpu_hour", "price per GPU hour %g: give 0 (fully owned) to %g $/h",
                       price_per_gpu_hour, NET_MAX_PRICE);
    if (!cat || !xml_path)
        return fl_fail(err, FL_EMISUSE, "nvidia-smi", "fl_catalog_import_nvidia_smi: catalog or path is NULL");
    if (node_name && !*node_name)
        return fl_fail(err, FL_EINVAL, "node", "empty node name");
    nsmi_node node;
    fl_status rc = parse_xml(cat, xml_path, &node, err);
    if (rc)
        return rc;
    const fl_gpu *g = &cat->gpus[node.gpu_index];
    const char *link_type;
    double link_bw;
    if ((rc = check_network(net, g, &link_type, &link_bw, err)))
        return rc;
    int nvlink = node.nvlink >= 0 ? node.nvlink : strcasecmp(g->link_type, "NVLink") == 0;
    if (link_type)
        nvlink = strcmp(link_type, "NVLink") == 0;
    char name[NSMI_MAX_TEXT], zname[256], source[512];
    if (node_name)
        snprintf(name, sizeof name, "%s", node_name);
    else
        default_name(cat, &node, name, sizeof name);
    snprintf(source, sizeof source, "nvidia-smi -q -x %s driver %s%s", xml_path, node.driver,
             node.nvlink >= 0 ? "; nvlink from <nvlink> elements" : "; nvlink from the GPU type's link_type");
    if ((rc = fl_catalog_exec(cat, "BEGIN", err)))
        return rc;
    rc = ensure_zone(cat, zone, zname, sizeof zname, err);
    /* catalogs created before owned capacity lack the price column: add it (same transaction) */
    if (rc == FL_OK && !fl_catalog_has_column(cat->db, "nodes", "price_per_gpu_hour") &&
        sqlite3_exec(cat->db, "ALTER TABLE nodes ADD COLUMN price_per_gpu_hour REAL CHECK(price_per_gpu_hour IS NULL "
                     "OR price_per_gpu_hour >= 0)", NULL, NULL, NULL) != SQLITE_OK)
        rc = fl_catalog_fail(cat, err, FL_ECATALOG, "nodes", "catalog %s: cannot add column price_per_gpu_hour: %s",
                             cat->path, sqlite3_errmsg(cat->db));
    sqlite3_stmt *st = NULL;
    if (rc == FL_OK && sqlite3_prepare_v2(cat->db, "INSERT OR REPLACE INTO nodes(name, zone, gpu, gpu_count, "
                                          "memory_bytes, nvlink, source, nic_bw_bytes_per_s, nic_latency_s, link_type, "
                                          "link_bw_bytes_per_s, price_per_gpu_hour) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                                          -1, &st, NULL) != SQLITE_OK)
        rc = fl_catalog_fail(cat, err, FL_ECATALOG, "nodes", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
    if (rc == FL_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, zname, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, g->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 4, node.gpu_count);
        sqlite3_bind_double(st, 5, node.memory_bytes);
        sqlite3_bind_int(st, 6, nvlink);
        sqlite3_bind_text(st, 7, source, -1, SQLITE_TRANSIENT);
        if (net && net->nic_bw > 0) sqlite3_bind_double(st, 8, net->nic_bw); else sqlite3_bind_null(st, 8);
        if (net && net->nic_bw > 0 && net->nic_latency >= 0) sqlite3_bind_double(st, 9, net->nic_latency);
        else sqlite3_bind_null(st, 9);
        if (link_type) {
            sqlite3_bind_text(st, 10, link_type, -1, SQLITE_STATIC);
            sqlite3_bind_double(st, 11, link_bw);
        } else {
            sqlite3_bind_null(st, 10);
            sqlite3_bind_null(st, 11);
        }
        sqlite3_bind_double(st, 12, price_per_gpu_hour);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = fl_catalog_fail(cat, err, FL_ECATALOG, "nodes", "catalog %s: cannot store node %s: %s", cat->path, name,
                         sqlite3_errmsg(cat->db));
    }
    sqlite3_finalize(st);
    return fl_catalog_end_import(cat, rc, err);
}
