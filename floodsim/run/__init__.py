"""Running a scenario: the runner (load, build, simulate, write the run folder), the recorder (the output
loop and the results Dataset), checkpoints, and the benchmark set-up shared by ``floodsim bench`` and
``benchmarks/``.
"""
