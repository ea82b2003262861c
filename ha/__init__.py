"""The shop across hosts with no single point of failure (issue 13): `python -m ha up|down|...`.

deploy/ha/topology.toml says which host runs what; ha.topology loads it, ha.configs renders the
engines' configuration files from it (templates under deploy/ha/), ha.hosts makes the hosts
(network namespaces on one machine) and runs processes in them, ha.cli starts and stops the
whole, ha.swarm runs the app tier on Docker Swarm when hosts have the "swarm" role,
ha.drills breaks it under load. Standard library only (and the repo's cluster/ and
drills/ helpers): it runs with the virtualenv's python, Patroni with Debian's /usr/bin/python3.
"""
