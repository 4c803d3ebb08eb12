"""numba's on-disk cache for the fast kernels, invalidated when any module of this package changes.

numba stamps a cached function with its own file only, but the loops inline
helpers from other modules here (ops.py, products.py): an edit to any of them
must recompile every loop. The locators below stamp with a hash of all the
package's sources and are put ahead of numba's own. They subclass numba's
cache locators, whose names numba 0.59-0.60 spell with a leading underscore.
"""

import glob
import hashlib
import os

from numba.core import caching

_HERE = os.path.dirname(os.path.abspath(__file__))


# numba 0.59-0.60 spell these with a leading underscore
_InTree = getattr(caching, "InTreeCacheLocator", None) or caching._InTreeCacheLocator
_UserDir = getattr(caching, "UserProvidedCacheLocator", None) or caching._UserProvidedCacheLocator
_CacheImpl = getattr(caching, "CacheImpl", None) or caching._CacheImpl


class _KernelsStamp:
    """Stamps cached functions of this package with the hash of all its sources."""

    def get_source_stamp(self):
        digest = hashlib.sha256()
        for path in sorted(glob.glob(os.path.join(_HERE, "*.py"))):
            with open(path, "rb") as f:
                digest.update(f.read())
        return digest.hexdigest()

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.dirname(os.path.abspath(py_file)) != _HERE:
            return None
        return super().from_function(py_func, py_file)


class _KernelsUserDir(_KernelsStamp, _UserDir):
    """In NUMBA_CACHE_DIR when it is set."""


class _KernelsInTree(_KernelsStamp, _InTree):
    """Else in __pycache__ beside this file."""


for _locator in (_KernelsInTree, _KernelsUserDir):  # ahead of numba's own, first match wins
    if _locator not in _CacheImpl._locator_classes:
        _CacheImpl._locator_classes.insert(0, _locator)
