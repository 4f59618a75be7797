"""The sandbox lab: environments per client, the per-client catalogue, the go-live gate, the
request log and fault injection (``docs/environments.md``, ``docs/lab.md``)."""
