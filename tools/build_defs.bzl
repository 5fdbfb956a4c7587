"""Every fleet target goes through these macros (Envoy's rule: one place for flags)."""

def fleet_cc_library(name, deps = [], **kwargs):
    native.cc_library(name = name, deps = deps, **kwargs)

def fleet_cc_binary(name, deps = [], **kwargs):
    native.cc_binary(name = name, deps = deps, **kwargs)

def fleet_cc_test(name, deps = [], size = "small", **kwargs):
    native.cc_test(
        name = name,
        size = size,
        deps = deps + ["//tools/sys:gtest_main"],
        **kwargs
    )

def fleet_fuzz_test(name, srcs, deps = [], **kwargs):
    """A libFuzzer target (LLVMFuzzerTestOneInput) with its seed corpus.

    `bazel test` runs it over tests/fuzz/corpus/<name>/ with a small replay
    main: every seed, and every crash found and kept there, stays a
    regression test. With --config=fuzz the same sources link libFuzzer;
    `bazel run --config=fuzz //tests/fuzz:<name> -- -max_total_time=60`
    then fuzzes (tools/fuzz.sh does it for every target).
    """
    corpus = "corpus/" + name
    native.cc_test(
        name = name,
        size = "small",
        srcs = srcs,
        deps = deps + select({
            "//tools:fuzzing": [],
            "//conditions:default": ["//tests/fuzz:replay_main"],
        }),
        linkopts = select({
            "//tools:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        data = native.glob([corpus + "/**"]),
        args = [native.package_name() + "/" + corpus],
        **kwargs
    )

def fleet_proto(name, srcs, deps = [], grpc = False, lite = False, visibility = None):
    """Generates C++ for srcs with the OS protoc (and grpc_cpp_plugin when grpc).

    srcs live under proto/ and import each other as "proto/fleet/...". The result
    is a cc_library `name`; include "proto/fleet/<area>/v1/<file>.pb.h".
    lite: the protos declare optimize_for = LITE_RUNTIME; `name` links the full
    runtime (for fleetd) and `name_lite` the shared protobuf-lite (for plugins).
    """
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    dep_srcs = [d + "_srcs" for d in deps]
    own = " ".join([native.package_name() + "/" + s for s in srcs])
    cmd = "$(location //tools/sys:protoc) -I. -I/usr/include --cpp_out=$(GENDIR) "
    tools = ["//tools/sys:protoc"]
    if grpc:
        cmd += ("--grpc_out=$(GENDIR) " +
                "--plugin=protoc-gen-grpc=$(location //tools/sys:grpc_cpp_plugin) ")
        tools.append("//tools/sys:grpc_cpp_plugin")

    # Imported protos must be present for protoc but are compiled by their own rule.
    native.filegroup(name = name + "_srcs", srcs = srcs + dep_srcs, visibility = visibility)
    native.genrule(
        name = name + "_gen",
        srcs = srcs + dep_srcs,
        outs = outs,
        cmd = cmd + own,
        tools = tools,
    )
    # The host links the full runtime (statically); lite-only code runs on it.
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["//tools/sys:protobuf"] + (["//tools/sys:grpcpp"] if grpc else []),
        visibility = visibility,
    )
    if lite:
        # Plugins link the shared protobuf-lite, as a third party would. Never
        # link both flavours into one binary.
        native.cc_library(
            name = name + "_lite",
            srcs = [o for o in outs if o.endswith(".cc")],
            hdrs = [o for o in outs if o.endswith(".h")],
            deps = [d + "_lite" for d in deps] + ["//tools/sys:protobuf_lite"],
            visibility = visibility,
        )

_PLUGIN_KINDS = ["health", "sync", "recovery"]

def fleet_plugin(name, kind, srcs, deps = [], **kwargs):
    """A plugin built exactly as a third party would build it.

    Emits `<name>_lib` (static, for unit tests that call fleet_plugin_v1()
    directly) and `libfleet_<kind>_<name>.so` (hidden visibility, -z defs:
    it can never depend on a fleetd symbol).
    """
    if kind not in _PLUGIN_KINDS:
        fail("fleet_plugin %s: unknown kind '%s' (one of %s)" % (name, kind, _PLUGIN_KINDS))
    native.cc_library(
        name = name + "_lib",
        srcs = srcs,
        copts = ["-fvisibility=hidden"],
        deps = deps,
        alwayslink = True,
        **kwargs
    )
    native.cc_binary(
        name = "libfleet_%s_%s.so" % (kind, name),
        srcs = srcs,
        copts = ["-fvisibility=hidden"],
        linkopts = ["-Wl,-z,defs"],
        linkshared = True,
        deps = deps,
        **kwargs
    )
