"""The gradcheck table: one module per ops module, each listing ``CASES`` (name, function, input maker).

``tinycnn.utils.gradcheck_registry`` collects them into ``REGISTRY``; ``python -m tinycnn gradcheck`` and
the test suite check every entry against central differences in float64. A new op gets its case here, in
the module named after its ops module, with inputs small enough that the whole table runs in seconds.
"""
