"""`make cluster`: the whole shop on one machine (`python -m cluster.cluster`)."""
