"""The package version, in a leaf module: stages import it from here, not from the `aicensus`
package (which re-exports the library, so importing it would pull every stage in)."""

__version__ = "0.1.0"
