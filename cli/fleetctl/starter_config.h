// What `fleetctl init` writes: a small, valid, commented fleet file.
#ifndef FLEET_CLI_FLEETCTL_STARTER_CONFIG_H_
#define FLEET_CLI_FLEETCTL_STARTER_CONFIG_H_

namespace fleet::cli {

inline constexpr char kStarterConfig[] =
    R"(# A fleet: engines that fleetd starts, watches and restarts.
# Check it with `fleetctl validate fleet.yaml`; run it with `fleetd -c fleet.yaml`.
name: my-fleet

# Where fleetd keeps fleetd.pid, its control socket, the stop flag, locks/ and
# logs/ (relative paths are relative to this file). Default: ~/.fleet/run.
run_dir: run

# Log capture defaults for every engine: rotate at max_size, keep max_files.
logs:
  max_size: 10MB
  max_files: 5

# More engines can live one per file in these directories (conf.d style).
# engine_dirs: [engines.d]

engines:
  - name: worker
    description: does the work, forever
    # argv as a list; use `shell: "..."` for a shell command line.
    command: ["sh", "-c", "while true; do echo working; sleep 5; done"]
    replicas: 2              # worker/0 and worker/1
    restart: always          # always | on-failure | never
    backoff: {initial: 500ms, max: 60s, factor: 2, jitter: 0.2, reset_after: 60s}
    crash_loop: {max_failures: 10, window: 5m}   # then FATAL until `fleetctl start`
    stop: {signal: TERM, grace: 10s}             # then SIGKILL to the whole group
    env:
      MODE: "production"
    # Each instance also gets FLEET_ENGINE, FLEET_INSTANCE and FLEET_RUN_DIR.

  - name: moderator
    command: ["sh", "-c", "while true; do echo checking; sleep 10; done"]
    depends_on: [worker]     # starts once every worker instance is running
)";

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_STARTER_CONFIG_H_
