"""The test suite, a regular package: ppi-python (a test dependency) installs a top-level ``tests``
package into site-packages, which would otherwise shadow this namespace package."""
