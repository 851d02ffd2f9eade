"""Benchmarks for ``make bench``: each module's ``main()`` prints ``name: value unit`` lines."""
