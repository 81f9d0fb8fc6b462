"""gridint: connect rooftop PV and battery storage to distribution grids.

Importing the package has no side effects; sub-packages are imported on use.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
