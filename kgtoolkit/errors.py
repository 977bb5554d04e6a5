"""Every exception of kgtoolkit, in one place.

`KgToolkitError` and its subclasses are what a user sees: the CLI prints them as one line (no
traceback) with the exit code of the class, and every message says what went wrong and what to
do. The three `ValueError`s at the end are ingest's own: the ingest catches them per file and
reports the file and the reason; they never reach the user as exceptions.
"""


class KgToolkitError(Exception):
    """Base class. The CLI prints these as one line (no traceback) and exits non-zero."""

    exit_code = 1


class ConfigurationError(KgToolkitError):
    """A setting, URI, environment variable or file the user gave cannot be used."""

    exit_code = 2


class GraphStoreError(KgToolkitError):
    """The graph store refused or failed an operation."""


class CypherNotSupportedError(GraphStoreError):
    """Cypher was asked of a store that has no Cypher engine (the embedded store)."""

    exit_code = 2


class ReadOnlyQueryError(GraphStoreError):
    """A query that writes was run with read access (`kgtoolkit query` without --write)."""


class SchemaError(GraphStoreError):
    """A label, relationship type or property is not part of the graph model."""

    exit_code = 2


class DataError(KgToolkitError):
    """The data on disk cannot serve the job at all (e.g. no training clip decodes)."""


class CheckpointError(KgToolkitError):
    """A checkpoint file is missing, truncated, foreign or of another format version."""

    exit_code = 2


class UnsafePickleError(KgToolkitError):
    """The file is not a plain pickle of int triples: it was refused, nothing in it was run."""

    exit_code = 2


class ServerError(KgToolkitError):
    """The local Neo4j server could not be resolved, started, reached or stopped."""


# --- ingest's per-file errors (caught and reported with the file; never shown as exceptions) ------
class VideoError(ValueError):
    """The file is not a readable video."""


class FlistError(ValueError):
    """The file as a whole cannot be read as an flist; the message says why and what to do."""


class FrameError(ValueError):
    """A frame file or one of its entries is not a valid annotation."""
