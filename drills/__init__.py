"""Fault drills against the cluster (issue 6): `make drills`, see drills/run_drills.py."""
