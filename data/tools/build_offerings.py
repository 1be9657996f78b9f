#!/usr/bin/env python3
"""Build data/offerings.csv and data/zones.csv from SkyPilot catalog GPU extracts.

Usage: python3 data/tools/build_offerings.py [CATALOG_DIR]
CATALOG_DIR defaults to ../shared/catalogs relative to the repository root and
must hold gcp-gpu-vms.csv, aws-gpu-vms-sample.csv, azure-gpu-vms.csv,
lambda-gpu-vms.csv (see SOURCE.md there).  Standard library only.

Rules (see data/SOURCES.md): keep accelerators that map to a catalog GPU,
synthesize GCP instance types and add a host-VM price, fix accelerator counts
that disagree with the instance type, dedupe (zone, instance_type), validate
that every GPU exists in data/gpus.csv and every zone in the generated
data/zones.csv.
"""
import collections
import csv
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(REPO, "data")
EXTRACTED = "2026-11-22"
COMMIT = {
    "gcp": "catalogs/v8/gcp/vms.csv commit 006059e0f18acb1341e22a27751e9f80df6ba92f",
    "aws": "catalogs/v8/aws/vms.csv commit 00148f2af3672e2229b4f7bf8157d5a3f36e3c35",
    "azure": "catalogs/v6/azure/vms.csv commit 098741e70562f65d7af1cceb81e33b284f742604",
    "lambda": "catalogs/v8/lambda/vms.csv commit 0f4070387edc953d7004cff197940e1918a1d6aa",
}

GPU_MAP = {
    "A100": "A100-SXM-40GB", "A100-80GB": "A100-SXM-80GB", "H100": "H100-SXM-80GB",
    "H200": "H200-SXM-141GB", "L4": "L4-24GB", "T4": "T4-16GB", "V100": "V100-SXM2-16GB",
    "V100-32GB": "V100-SXM2-32GB", "A10G": "A10G-24GB", "L40S": "L40S-48GB",
    "GH200": "GH200-96GB",
    # a3-megagpu-8g carries the same H100 SXM 80GB parts as a3-highgpu-8g
    "H100-MEGA": "H100-SXM-80GB",
}

# Per-instance-type GPU overrides where the generic accelerator name hides a
# different part (PCIe cards), with the note that goes into the source column.
TYPE_GPU = {
    # Lambda: gpu_{1,2,4}x_a100 are A100 40GB PCIe; gpu_8x_a100 and *_sxm4 are SXM4.
    "gpu_1x_a100": ("A100-PCIE-40GB", "Lambda lists gpu_1x_a100 as A100 40GB PCIe"),
    "gpu_2x_a100": ("A100-PCIE-40GB", "Lambda lists gpu_2x_a100 as A100 40GB PCIe"),
    "gpu_4x_a100": ("A100-PCIE-40GB", "Lambda lists gpu_4x_a100 as A100 40GB PCIe"),
    "gpu_1x_h100_pcie": ("H100-PCIE-80GB", "Lambda gpu_1x_h100_pcie is H100 PCIe"),
    "Standard_NC24ads_A100_v4": ("A100-PCIE-80GB", "Azure NC_A100_v4 is A100 80GB PCIe (no NVLink)"),
    "Standard_NC48ads_A100_v4": ("A100-PCIE-80GB", "Azure NC_A100_v4 is A100 80GB PCIe (no NVLink)"),
    "Standard_NC96ads_A100_v4": ("A100-PCIE-80GB", "Azure NC_A100_v4 is A100 80GB PCIe (no NVLink)"),
    # Azure NCads H100 v5 carry H100 NVL (94 GB, PCIe); nearest catalog part is H100 PCIe 80GB.
    "Standard_NC40ads_H100_v5": ("H100-PCIE-80GB", "Azure NCads_H100_v5 is H100 NVL 94GB PCIe; modelled as H100-PCIE-80GB (conservative memory)"),
    "Standard_NC80adis_H100_v5": ("H100-PCIE-80GB", "Azure NCads_H100_v5 is H100 NVL 94GB PCIe; modelled as H100-PCIE-80GB (conservative memory)"),
}
# Azure parts that are PCIe but have no PCIe row in gpus.csv: keep the mapping, note it.
TYPE_NOTE = {
    "Standard_NC6s_v3": "Azure NCv3 is V100 16GB PCIe (no NVLink); mapped to V100-SXM2-16GB",
    "Standard_NC12s_v3": "Azure NCv3 is V100 16GB PCIe (no NVLink); mapped to V100-SXM2-16GB",
    "Standard_NC24s_v3": "Azure NCv3 is V100 16GB PCIe (no NVLink); mapped to V100-SXM2-16GB",
    "Standard_NC24rs_v3": "Azure NCv3 is V100 16GB PCIe (no NVLink); mapped to V100-SXM2-16GB",
}
# Accelerator counts fixed against the public instance spec.
COUNT_FIX = {
    "Standard_ND96isr_H100_v5": 8,  # extract says 12; the VM has 8 H100 SXM
}
# Known accelerator count per instance type (validation; mismatches are fixed + noted).
EXPECTED_COUNT = {
    "Standard_ND96isr_H100_v5": 8, "Standard_ND96asr_v4": 8, "Standard_ND96amsr_A100_v4": 8,
    "Standard_ND40rs_v2": 8, "Standard_NC24ads_A100_v4": 1, "Standard_NC48ads_A100_v4": 2,
    "Standard_NC96ads_A100_v4": 4, "Standard_NC40ads_H100_v5": 1, "Standard_NC80adis_H100_v5": 2,
    "Standard_NC4as_T4_v3": 1, "Standard_NC8as_T4_v3": 1, "Standard_NC16as_T4_v3": 1,
    "Standard_NC64as_T4_v3": 4, "Standard_NC6s_v3": 1, "Standard_NC12s_v3": 2,
    "Standard_NC24s_v3": 4, "Standard_NC24rs_v3": 4,
    "p4d.24xlarge": 8, "p4de.24xlarge": 8, "p5.48xlarge": 8, "p5.4xlarge": 1, "p5e.48xlarge": 8,
    "p5en.48xlarge": 8, "p3.8xlarge": 4, "p3dn.24xlarge": 8, "g4dn.metal": 8, "g5.xlarge": 1,
    "g6.xlarge": 1, "g6e.12xlarge": 4, "g6e.16xlarge": 1,
}

GBIT = 1.25e8  # bytes/s per Gbit/s
# Per-instance NIC bandwidth (public instance-type pages), bytes/s.
NIC = {
    # AWS EC2 instance type pages
    "p4d.24xlarge": 400 * GBIT, "p4de.24xlarge": 400 * GBIT, "p5.48xlarge": 3200 * GBIT,
    "p5e.48xlarge": 3200 * GBIT, "p5en.48xlarge": 3200 * GBIT, "p5.4xlarge": 100 * GBIT,
    "p3.8xlarge": 10 * GBIT, "p3dn.24xlarge": 100 * GBIT, "g4dn.metal": 100 * GBIT,
    "g5.xlarge": 10 * GBIT, "g6.xlarge": 10 * GBIT, "g6e.12xlarge": 100 * GBIT,
    "g6e.16xlarge": 35 * GBIT,
    # GCP accelerator-optimized machine docs (max egress bandwidth per VM)
    "a2-highgpu-1g": 24 * GBIT, "a2-highgpu-2g": 32 * GBIT, "a2-highgpu-4g": 50 * GBIT,
    "a2-highgpu-8g": 100 * GBIT, "a2-megagpu-16g": 100 * GBIT,
    "a2-ultragpu-1g": 24 * GBIT, "a2-ultragpu-2g": 32 * GBIT, "a2-ultragpu-4g": 50 * GBIT,
    "a2-ultragpu-8g": 100 * GBIT, "a3-highgpu-8g": 1000 * GBIT, "a3-megagpu-8g": 1800 * GBIT,
    "a3-ultragpu-8g": 3600 * GBIT, "g2-standard-4": 10 * GBIT, "g2-standard-24": 32 * GBIT,
    "g2-standard-48": 50 * GBIT, "g2-standard-96": 100 * GBIT,
    # Azure VM size pages (InfiniBand per VM)
    "Standard_ND96asr_v4": 1600 * GBIT, "Standard_ND96amsr_A100_v4": 1600 * GBIT,
    "Standard_ND96isr_H100_v5": 3200 * GBIT, "Standard_ND40rs_v2": 100 * GBIT,
}

# ---- GCP host VMs -------------------------------------------------------
# GCP lists GPUs separately from the host VM.  Host VM prices (whole VM, $/h,
# on-demand / spot) per region below are copied from the host rows of the same
# SkyPilot gcp/vms.csv commit (a2/a3 families).  Where a region is missing, the
# us-central1 per-GPU figure is used (estimate).  g2 and n1 hosts are
# estimates from GCP's published us-central1 list prices (g2-standard-4 host
# about $0.147/h, g2-standard-24/48/96 about $0.44 per GPU-hour; n1-standard
# $0.0475 per vCPU-hour = $0.38 per GPU-hour with 8 vCPUs per GPU); their spot
# host price is the on-demand host price times the row's GPU spot/on-demand ratio.
GCP_HOST_VM = {
    "a2-highgpu": (1, {  # per GPU (1g rows)
        "asia-northeast1": (0.94803, 0.41783), "asia-northeast3": (0.94803, 0.34226),
        "asia-southeast1": (0.9122, 0.41954), "europe-west4": (0.81406, 0.31824),
        "me-west1": (0.81342, 0.33516), "us-central1": (0.73948, 0.36975),
        "us-east1": (0.73948, 0.36975), "us-west1": (0.73948, 0.36975),
        "us-west3": (0.8882, 0.40554), "us-west4": (0.8328, 0.33306)}),
    "a2-megagpu": (16, {
        "asia-southeast1": (10.85126, 4.99032), "europe-west4": (9.68403, 3.78624),
        "us-central1": (8.79698, 4.39824)}),
    "a2-ultragpu": (1, {
        "asia-southeast1": (1.35641, 0.62379), "europe-west4": (1.2105, 0.47328),
        "us-central1": (1.09962, 0.54978), "us-east4": (1.23833, 0.49613),
        "us-east5": (1.09962, 0.31193)}),
    "a3-highgpu": (8, {
        "asia-east1": (10.95381, 2.74269), "asia-northeast1": (12.14861, 3.04013),
        "asia-south1": (9.83846, 2.25285), "asia-south2": (11.36248, 2.59792),
        "asia-southeast1": (11.67088, 2.79032), "australia-southeast1": (11.82508, 2.49496),
        "europe-north1": (10.41647, 1.61762), "europe-west1": (10.41647, 2.38181),
        "europe-west3": (11.16287, 2.55632), "europe-west4": (9.93306, 2.27469),
        "europe-west8": (10.97368, 1.9752), "europe-west9": (10.97367, 2.25971),
        "northamerica-northeast2": (10.41647, 1.87408),
        "us-central1": (9.46006, 2.88933), "us-east4": (9.46006, 2.15966),
        "us-east5": (10.65487, 2.32627), "us-west1": (9.46006, 2.88933),
        "us-west4": (10.65487, 2.43734)}),
    "a3-ultragpu": (8, {
        "asia-south1": (12.75664, 2.92129), "asia-south2": (14.73269, 3.36872),
        "europe-west1": (13.50609, 3.08825), "europe-west4": (12.8793, 2.94949),
        "us-central1": (12.266, 3.74713), "us-east4": (12.266, 2.80034),
        "us-east5": (13.81519, 3.01627), "us-south1": (14.47387, 3.15354),
        "us-west1": (12.266, 3.74713)}),
}
GCP_HOST_VM["a3-megagpu"] = GCP_HOST_VM["a3-highgpu"]  # same host shape and SKU prices
GCP_HOST_EST = {  # $/GPU-hour, on-demand (estimate, us-central1 list)
    ("g2", 1): 0.147, ("g2", 2): 0.44, ("g2", 4): 0.44, ("g2", 8): 0.44,
    ("n1", 1): 0.38, ("n1", 2): 0.38, ("n1", 4): 0.38, ("n1", 8): 0.38,
}


def gcp_instance(acc, n):
    """Synthesize the GCP machine type for acc x n; None if no such shape."""
    if acc == "A100":
        return {1: "a2-highgpu-1g", 2: "a2-highgpu-2g", 4: "a2-highgpu-4g",
                8: "a2-highgpu-8g", 16: "a2-megagpu-16g"}.get(n)
    if acc == "A100-80GB":
        return {1: "a2-ultragpu-1g", 2: "a2-ultragpu-2g", 4: "a2-ultragpu-4g",
                8: "a2-ultragpu-8g"}.get(n)
    if acc == "H100":
        return "a3-highgpu-8g" if n == 8 else None
    if acc == "H100-MEGA":
        return "a3-megagpu-8g" if n == 8 else None
    if acc == "H200":
        return "a3-ultragpu-8g" if n == 8 else None
    if acc == "L4":
        return {1: "g2-standard-4", 2: "g2-standard-24", 4: "g2-standard-48",
                8: "g2-standard-96"}.get(n)
    if acc in ("T4", "V100"):
        vcpus = {1: 8, 2: 16, 4: 32, 8: 64}.get(n)
        if vcpus is None or (acc == "T4" and n == 8):
            return None
        return "n1-standard-%d+%dx%s" % (vcpus, n, acc)
    return None


GCP_SHAPE = {  # vCPUs, memory GiB of the synthesized host
    "a2-highgpu-1g": (12, 85), "a2-highgpu-2g": (24, 170), "a2-highgpu-4g": (48, 340),
    "a2-highgpu-8g": (96, 680), "a2-megagpu-16g": (96, 1360), "a2-ultragpu-1g": (12, 170),
    "a2-ultragpu-2g": (24, 340), "a2-ultragpu-4g": (48, 680), "a2-ultragpu-8g": (96, 1360),
    "a3-highgpu-8g": (208, 1872), "a3-megagpu-8g": (208, 1872), "a3-ultragpu-8g": (224, 2952),
    "g2-standard-4": (4, 16), "g2-standard-24": (24, 96), "g2-standard-48": (48, 192),
    "g2-standard-96": (96, 384),
}


def gcp_host(itype, region, n, gpu_od, gpu_spot):
    """Return (host_od, host_spot or None, note)."""
    fam = "-".join(itype.split("-")[:2]) if itype.startswith(("a2-", "a3-")) else None
    if fam in GCP_HOST_VM:
        per, table = GCP_HOST_VM[fam]
        if region in table:
            od, sp = table[region]
            od, sp = od / per * n, sp / per * n
            note = "host VM %s $%.4f/GPU-h (SkyPilot gcp host row, %s)" % (fam, od / n, region)
        else:
            od, sp = table["us-central1"]
            od, sp = od / per * n, sp / per * n
            note = "host VM %s estimate $%.4f/GPU-h (us-central1 host row; region not listed)" % (fam, od / n)
        return od, sp, note
    key = ("g2" if itype.startswith("g2-") else "n1", n)
    per_gpu = GCP_HOST_EST[key]
    od = per_gpu * n
    sp = None
    if gpu_spot is not None and gpu_od > 0:
        sp = od * gpu_spot / gpu_od
    note = "host VM %s estimate $%.3f/GPU-h (us-central1 list; spot host scaled by GPU spot ratio)" % (key[0], per_gpu)
    return od, sp, note


# ---- zones --------------------------------------------------------------
def continent(cloud, region):
    r = region.lower()
    if cloud == "azure":
        table = {"us": "na", "canada": "na", "brazil": "sa", "europe": "eu", "uk": "eu",
                 "france": "eu", "germany": "eu", "norway": "eu", "sweden": "eu",
                 "switzerland": "eu", "poland": "eu", "italy": "eu", "australia": "oceania",
                 "japan": "asia", "korea": "asia", "india": "asia", "asia": "asia",
                 "uae": "me", "qatar": "me", "israel": "me", "southafrica": "africa"}
        if r.endswith("us") or r.endswith("us2") or r.endswith("us3") or "centralus" in r:
            return "na"
        for k, v in table.items():
            if k in r:
                return v
        raise ValueError("no continent for azure region " + region)
    if cloud == "aws":
        if r in ("ap-southeast-2", "ap-southeast-4", "ap-southeast-6"):
            return "oceania"
        pref = {"us": "na", "ca": "na", "mx": "na", "sa": "sa", "eu": "eu", "ap": "asia",
                "me": "me", "il": "me", "af": "africa"}
        return pref[r.split("-")[0]]
    # gcp and lambda use similar spelled-out prefixes
    pref = {"us": "na", "northamerica": "na", "southamerica": "sa", "europe": "eu",
            "asia": "asia", "australia": "oceania", "me": "me", "africa": "africa"}
    return pref[r.split("-")[0]]


# ---- helpers ------------------------------------------------------------
def num(s):
    s = (s or "").strip()
    if s == "":
        return None
    return float(s)


def money(x):
    if x is None:
        return ""
    s = ("%.5f" % x).rstrip("0").rstrip(".")
    return s if s else "0"


def bw(x):
    if x is None:
        return ""
    m, e = ("%.6e" % x).split("e")
    m = m.rstrip("0")
    if m.endswith("."):
        m += "0"
    return "%se%d" % (m, int(e))


def plain(x):
    if x is None:
        return ""
    return ("%.3f" % x).rstrip("0").rstrip(".")


def main():
    src_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "..", "shared", "catalogs")
    src_dir = os.path.abspath(src_dir)
    gpus = set()
    with open(os.path.join(DATA, "gpus.csv"), newline="") as f:
        for r in csv.DictReader(f):
            gpus.add(r["name"])
    out = []            # offering dicts
    dropped = collections.Counter()
    skipped = collections.Counter()
    fixes = []
    zones = {}          # zone -> (cloud, region)

    def src(cloud, extra):
        s = "SkyPilot catalog %s (extracted %s)" % (COMMIT[cloud], EXTRACTED)
        return s + ("; " + extra if extra else "")

    def add(cloud, region, zone, itype, acc, n, vcpus, mem, price, spot, extra_notes):
        gpu, note = GPU_MAP.get(acc), None
        if itype in TYPE_GPU:
            gpu, note = TYPE_GPU[itype]
        if gpu is None:
            dropped[(cloud, acc)] += 1
            return
        notes = [x for x in ([note, TYPE_NOTE.get(itype)] + extra_notes) if x]
        if itype in EXPECTED_COUNT and EXPECTED_COUNT[itype] != n:
            notes.append("accelerator count fixed %d->%d per instance spec" % (n, EXPECTED_COUNT[itype]))
            fixes.append((cloud, itype, region, n, EXPECTED_COUNT[itype]))
            n = EXPECTED_COUNT[itype]
        if spot is not None and spot >= price:
            notes.append("spot >= on-demand in source; kept as given")
        zones[zone] = (cloud, region)
        out.append({
            "cloud": cloud, "region": region, "zone": zone, "instance_type": itype, "gpu": gpu,
            "gpus_per_instance": n, "vcpus": vcpus, "memory_gib": mem, "price": price,
            "spot": spot, "nic": NIC.get(itype), "source": src(cloud, "; ".join(notes)),
        })

    # GCP
    with open(os.path.join(src_dir, "gcp-gpu-vms.csv"), newline="") as f:
        for r in csv.DictReader(f):
            acc, n = r["AcceleratorName"], int(float(r["AcceleratorCount"]))
            price, spot = num(r["Price"]), num(r["SpotPrice"])
            if GPU_MAP.get(acc) is None:
                dropped[("gcp", acc)] += 1
                continue
            if price is None or price == 700.0 or price <= 0:
                skipped["gcp placeholder/empty price"] += 1
                continue
            itype = gcp_instance(acc, n)
            if itype is None:
                skipped["gcp %s x%d: no matching machine type" % (acc, n)] += 1
                continue
            host_od, host_sp, note = gcp_host(itype, r["Region"], n, price, spot)
            total = price + host_od
            total_spot = spot + host_sp if (spot is not None and host_sp is not None) else None
            if itype in GCP_SHAPE:
                vc, mem = GCP_SHAPE[itype]
            else:  # n1-standard-N: 3.75 GiB per vCPU
                vc = int(itype.split("-")[2].split("+")[0])
                mem = vc * 3.75
            notes = ["GPU price $%s + %s" % (money(price), note)]
            add("gcp", r["Region"], "gcp:" + r["AvailabilityZone"], itype, acc, n, vc, mem,
                total, total_spot, notes)

    # AWS
    with open(os.path.join(src_dir, "aws-gpu-vms-sample.csv"), newline="") as f:
        for r in csv.DictReader(f):
            price = num(r["Price"])
            if price is None or price <= 0:
                skipped["aws empty price"] += 1
                continue
            add("aws", r["Region"], "aws:" + r["AvailabilityZone"], r["InstanceType"],
                r["AcceleratorName"], int(float(r["AcceleratorCount"])), num(r["vCPUs"]),
                num(r["MemoryGiB"]), price, num(r["SpotPrice"]), [])

    # Azure
    with open(os.path.join(src_dir, "azure-gpu-vms.csv"), newline="") as f:
        for r in csv.DictReader(f):
            price = num(r["Price"])
            if GPU_MAP.get(r["AcceleratorName"]) is None and r["InstanceType"] not in TYPE_GPU:
                dropped[("azure", r["AcceleratorName"])] += 1
                continue
            if price is None or price <= 0:
                skipped["azure empty price"] += 1
                continue
            add("azure", r["Region"], "azure:%s-1" % r["Region"], r["InstanceType"],
                r["AcceleratorName"], int(float(r["AcceleratorCount"])), num(r["vCPUs"]),
                num(r["MemoryGiB"]), price, num(r["SpotPrice"]), [])

    # Lambda
    with open(os.path.join(src_dir, "lambda-gpu-vms.csv"), newline="") as f:
        for r in csv.DictReader(f):
            price = num(r["Price"])
            if GPU_MAP.get(r["AcceleratorName"]) is None and r["InstanceType"] not in TYPE_GPU:
                dropped[("lambda", r["AcceleratorName"])] += 1
                continue
            if price is None or price <= 0:
                skipped["lambda empty price"] += 1
                continue
            add("lambda", r["Region"], "lambda:" + r["Region"], r["InstanceType"],
                r["AcceleratorName"], int(float(r["AcceleratorCount"])), num(r["vCPUs"]),
                num(r["MemoryGiB"]), price, num(r["SpotPrice"]), [])

    # dedupe (zone, instance_type): keep the first row
    seen, rows, dups = set(), [], 0
    for o in out:
        k = (o["zone"], o["instance_type"])
        if k in seen:
            dups += 1
            continue
        seen.add(k)
        rows.append(o)
    rows.sort(key=lambda o: (o["cloud"], o["zone"], o["gpu"], o["gpus_per_instance"], o["instance_type"]))

    # validate
    bad = [o for o in rows if o["gpu"] not in gpus]
    if bad:
        sys.exit("unknown gpu names: %s" % sorted({o["gpu"] for o in bad}))
    zone_rows = sorted((z, c, reg, continent(c, reg)) for z, (c, reg) in zones.items())
    zone_names = {z for z, _, _, _ in zone_rows}
    missing = [o["zone"] for o in rows if o["zone"] not in zone_names]
    if missing:
        sys.exit("zones missing: %s" % missing[:5])

    with open(os.path.join(DATA, "offerings.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["cloud", "region", "zone", "instance_type", "gpu", "gpus_per_instance", "vcpus",
                    "memory_gib", "price_per_hour", "spot_price_per_hour", "network_bw_bytes_per_s",
                    "source"])
        for o in rows:
            w.writerow([o["cloud"], o["region"], o["zone"], o["instance_type"], o["gpu"],
                        o["gpus_per_instance"], plain(o["vcpus"]), plain(o["memory_gib"]),
                        money(o["price"]), money(o["spot"]), bw(o["nic"]), o["source"]])
    with open(os.path.join(DATA, "zones.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["zone", "cloud", "region", "continent", "source"])
        for z, c, reg, cont in zone_rows:
            w.writerow([z, c, reg, cont, "SkyPilot catalog %s (extracted %s); continent from region name"
                        % (COMMIT[c], EXTRACTED)])

    # summary
    print("offerings: %d rows, %d zones, %d duplicates removed" % (len(rows), len(zone_rows), dups))
    for c in ("gcp", "aws", "azure", "lambda"):
        print("  %-6s %4d rows" % (c, sum(1 for o in rows if o["cloud"] == c)))
    for g, n in sorted(collections.Counter(o["gpu"] for o in rows).items()):
        print("  gpu %-16s %4d" % (g, n))
    print("dropped (accelerator not in catalog): %d rows" % sum(dropped.values()))
    for (c, a), n in sorted(dropped.items()):
        print("  %-6s %-12s %4d" % (c, a, n))
    for k, n in sorted(skipped.items()):
        print("skipped: %s: %d" % (k, n))
    for c, it, reg, a, b in fixes:
        print("count fix: %s %s %s %d -> %d" % (c, it, reg, a, b))


if __name__ == "__main__":
    main()
