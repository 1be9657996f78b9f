"""Minimal ctypes binding of libflotilla (the subset a scheduler loop needs).

Every call goes through the stable C ABI of include/flotilla/flotilla.h; JSON strings cross the
boundary in both directions, so nothing here depends on the library's structs except the public
fl_error, fl_plan_summary and fl_plan_options layouts.
"""
import ctypes
import ctypes.util
import json
import os


class Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("field", ctypes.c_char * 128), ("message", ctypes.c_char * 512)]


# Copy of fl_plan_options (include/flotilla/fl_plan.h) at layout version PLAN_OPTIONS_VERSION.
# _load() checks its size against the library's fl_plan_options_size(), and the library checks
# the version field, so a layout that drifted from the C header fails loudly, never misread.
PLAN_OPTIONS_VERSION = 1


class PlanOptions(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("top_k", ctypes.c_int), ("pareto", ctypes.c_int), ("marginal", ctypes.c_int),
                ("time_limit_s", ctypes.c_double), ("horizon_hours", ctypes.c_double),
                ("current_placement_json", ctypes.c_char_p)]


class PlanSummary(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("fits", ctypes.c_int), ("cost_per_hour", ctypes.c_double),
                ("tokens_per_s", ctypes.c_double), ("iteration_s", ctypes.c_double),
                ("throughput_rps", ctypes.c_double), ("gpus", ctypes.c_int)]


class FlotillaError(Exception):
    def __init__(self, err):
        self.code = err.code
        self.field = err.field.decode()
        super().__init__(err.message.decode())


def _load():
    path = os.environ.get("FLOTILLA_LIB") or ctypes.util.find_library("flotilla")
    if not path:
        raise OSError("libflotilla not found: set FLOTILLA_LIB to the path of libflotilla.so")
    lib = ctypes.CDLL(path)
    vp, cp, err = ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(Error)
    sig = {
        "fl_version": (cp, []),
        "fl_free": (None, [vp]),
        "fl_catalog_open": (ctypes.c_int, [cp, ctypes.POINTER(vp), err]),
        "fl_catalog_free": (None, [vp]),
        "fl_job_from_json": (ctypes.c_int, [vp, cp, ctypes.POINTER(vp), err]),
        "fl_job_free": (None, [vp]),
        "fl_availability_from_json": (ctypes.c_int, [vp, cp, ctypes.POINTER(vp), err]),
        "fl_availability_free": (None, [vp]),
        "fl_plan_options_init": (None, [ctypes.POINTER(PlanOptions)]),
        "fl_plan_options_size": (ctypes.c_size_t, []),
        "fl_plan_job": (ctypes.c_int, [vp, vp, vp, ctypes.POINTER(PlanOptions), ctypes.POINTER(vp), err]),
        "fl_plan_get_summary": (ctypes.c_int, [vp, ctypes.POINTER(PlanSummary), err]),
        "fl_plan_to_json": (vp, [vp, ctypes.c_int]),
        "fl_plan_free": (None, [vp]),
        "fl_nodes_from_json": (ctypes.c_int, [vp, cp, ctypes.POINTER(vp), err]),
        "fl_nodes_free": (None, [vp]),
        "fl_place": (ctypes.c_int, [vp, vp, vp, cp, vp, ctypes.POINTER(vp), err]),
        "fl_place_report_to_json": (vp, [vp, ctypes.c_int]),
        "fl_place_report_free": (None, [vp]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    size = lib.fl_plan_options_size()
    if size != ctypes.sizeof(PlanOptions):
        raise OSError(f"{path}: fl_plan_options is {size} bytes in the library but {ctypes.sizeof(PlanOptions)} "
                      "in flotilla.py: update PlanOptions to the library's include/flotilla/fl_plan.h")
    return lib


_lib = _load()


def _check(status, err):
    if status != 0:
        raise FlotillaError(err)


def _take_string(ptr):
    """Copy a library-owned char * into a Python str and release it with fl_free."""
    if not ptr:
        raise MemoryError("flotilla returned NULL")
    s = ctypes.cast(ptr, ctypes.c_char_p).value.decode()
    _lib.fl_free(ptr)
    return s


def version():
    return _lib.fl_version().decode()


class Catalog:
    def __init__(self, path=None):
        self.h, err = ctypes.c_void_p(), Error()
        _check(_lib.fl_catalog_open(path.encode() if path else None, ctypes.byref(self.h), ctypes.byref(err)), err)

    def close(self):
        if self.h:
            _lib.fl_catalog_free(self.h)
            self.h = None

    def plan(self, job, availability=None, current=None, horizon_hours=0.0):
        """Plan `job` (dict) under `availability` (dict or None); `current` is the running placed
        plan (dict) for migration-aware replanning. Returns (plan dict, summary dict)."""
        err, job_h, av_h, plan_h = Error(), ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
        try:
            _check(_lib.fl_job_from_json(self.h, json.dumps(job).encode(), ctypes.byref(job_h), ctypes.byref(err)), err)
            if availability is not None:
                _check(_lib.fl_availability_from_json(self.h, json.dumps(availability).encode(),
                                                      ctypes.byref(av_h), ctypes.byref(err)), err)
            opts = PlanOptions()
            _lib.fl_plan_options_init(ctypes.byref(opts))
            if opts.version != PLAN_OPTIONS_VERSION:
                raise OSError(f"fl_plan_options version {opts.version} in the library, flotilla.py copies "
                              f"version {PLAN_OPTIONS_VERSION}")
            cur = json.dumps(current).encode() if current else None
            opts.current_placement_json = cur
            opts.horizon_hours = horizon_hours
            _check(_lib.fl_plan_job(self.h, job_h, av_h, ctypes.byref(opts), ctypes.byref(plan_h), ctypes.byref(err)), err)
            s = PlanSummary()
            _check(_lib.fl_plan_get_summary(plan_h, ctypes.byref(s), ctypes.byref(err)), err)
            summary = {f: getattr(s, f) for f, _ in PlanSummary._fields_}
            return json.loads(_take_string(_lib.fl_plan_to_json(plan_h, 0))), summary
        finally:
            _lib.fl_plan_free(plan_h)
            _lib.fl_availability_free(av_h)
            _lib.fl_job_free(job_h)

    def place(self, plan, nodes, current=None):
        """Place a plan (dict) onto nodes ({"nodes": [...]}); returns (placed plan dict, report dict)."""
        err, nodes_h, rep_h = Error(), ctypes.c_void_p(), ctypes.c_void_p()
        plan_h = ctypes.c_void_p()
        try:
            _check(_lib.fl_nodes_from_json(self.h, json.dumps(nodes).encode(), ctypes.byref(nodes_h),
                                           ctypes.byref(err)), err)
            # a plan handle from JSON: fl_plan_from_json
            f = _lib.fl_plan_from_json
            f.restype, f.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                                   ctypes.POINTER(Error)]
            _check(f(self.h, json.dumps(plan).encode(), ctypes.byref(plan_h), ctypes.byref(err)), err)
            cur = json.dumps(current).encode() if current else None
            _check(_lib.fl_place(self.h, plan_h, nodes_h, cur, None, ctypes.byref(rep_h), ctypes.byref(err)), err)
            placed = json.loads(_take_string(_lib.fl_plan_to_json(plan_h, 0)))
            report = json.loads(_take_string(_lib.fl_place_report_to_json(rep_h, 0)))
            return placed, report
        finally:
            _lib.fl_place_report_free(rep_h)
            _lib.fl_plan_free(plan_h)
            _lib.fl_nodes_free(nodes_h)
