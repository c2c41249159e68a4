"""The algorithms: ``catalog.py`` holds what is known about each (torch-free, read by the report too),
each module holds one algorithm's code and its ``SPEC``, and ``registry.py`` joins the two."""
