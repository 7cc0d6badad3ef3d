"""The package's version, in its one home.

Hatchling reads it for the built files' metadata, ``scripts/release.py`` checks a release's
tag and CHANGELOG entry against it, and any module can read it without importing the
package root. A ``.devN`` version is never released: a release sets the version and dates
its CHANGELOG entry, then is tagged ``v<version>`` (see the README's "Releasing").
"""

__version__ = "0.6.0.dev0"
