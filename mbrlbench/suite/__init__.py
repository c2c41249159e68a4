"""Suite files: the schema (``schema``), YAML and error messages (``messages``), names checked against the
registries (``resolve``), sweeps (``sweeps``), expansion into runs (``expand``), ``--set`` (``overrides``) and
the entry point ``load_suite`` (``load``)."""

from mbrlbench.suite.load import Suite, load_suite
from mbrlbench.suite.overrides import apply_set
from mbrlbench.suite.schema import SuiteError, SuiteFile
from mbrlbench.suite.sweeps import sweep_name

__all__ = ["Suite", "SuiteError", "SuiteFile", "apply_set", "load_suite", "sweep_name"]
