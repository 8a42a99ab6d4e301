"""Benchmarks of the pack: ``python -m bench [--quick] [--only NAME]``.

Every figure is a throughput or a ratio measured side by side in one run, because the machines
this runs on are shared and loaded: an absolute time says little, a ratio taken minutes apart
says less, a ratio taken in the same run says most.
"""
