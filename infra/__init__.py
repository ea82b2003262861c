"""What `make cluster`, `make ha`, the drills, the benchmarks and their tests share to start,
find and stop processes: the repository's paths and the small process tools (one copy each).

    infra.paths       ROOT, VAR: where every run keeps its state (var/cluster, var/ha, ...)
    infra.processes   run a command, wait for a condition, ask a port or a URL, tell a live
                      process by its pid and program, fill a config template, find PostgreSQL

The ports and paths of each deployment stay with it, named once: `cluster.cluster` (one machine)
and `deploy/ha/topology.toml` read by `ha.topology` (three hosts). Standard library only.
"""
