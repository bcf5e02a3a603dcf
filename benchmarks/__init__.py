"""Benchmarks: objstore side by side with OpenStack Swift on the same machine.

``python -m benchmarks.run`` starts both all-in-ones in the same shape, runs
the same workloads against each (alternating), and writes a table, a JSON file
and an SVG plot to ``benchmarks/results/``. Nothing here is imported by
objstore itself, and nothing here is a pass/fail test.
"""
