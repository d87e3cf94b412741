"""The manifest of test modules: which run on both runtimes and which on CPython only.

Portable modules hold only `unittest.TestCase` classes that import `unittest`, the common subset
(os, io, errno, ...), `agent` and other portable test helpers; `tools/mpy/run.mjs` runs exactly these
inside real MicroPython, and tests/test_manifest.py fails when a `tests/test_*.py` module is in
neither list or a portable one breaks these rules.
"""

PORTABLE = (
    "test_compat",
    "test_hashes",
    "test_digest",
    "test_xmlwrite",
    "test_soap",
    "test_loop",
    "test_device_service",
    "test_dispatch",
    "test_state",
    "test_auth",
    "test_http",
    "test_xmlparse",
    "test_xmltree",
    "test_wsse",
    "test_users",
    "test_user_operations",
    "test_scopes",
    "test_scope_operations",
    "test_discovery",
    "test_deferred",
    "test_durations",
    "test_bus",
    "test_deviceio_service",
    "test_hal_micropython",
    "test_board",
    "test_datetimes",
)

CPYTHON_ONLY = (
    "test_micropython",
    "test_mpy_cross",
    "test_portable_imports",
    "test_manifest",
    "test_cli",
    "test_server",
    "test_tls",
    "test_e2e_clients",
    "test_bench_smoke",
    "test_discovery_e2e",
    "test_http_interop",
    "test_digest_interop",
    "test_schema_helper",
    "test_operations",
    "test_xml_oracle",
    "test_wsse_interop",
    "test_discovery_schema",
    "test_hal_usbrelay",
    "test_hal_sim",
    "test_sim_control",
    "test_hal_serialport",
    "test_hal_pi",
    "test_hal_beaglebone",
    "test_deviceio_e2e",
)
