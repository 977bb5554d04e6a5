"""The one exception family of kgtoolkit: every message says what went wrong and what to do."""


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


class SchemaError(GraphStoreError):
    """A label, relationship type or property is not part of the graph model."""

    exit_code = 2


class DataError(KgToolkitError):
    """The data on disk cannot serve the job at all (e.g. no training clip decodes)."""


class ServerError(KgToolkitError):
    """The local Neo4j server could not be resolved, started, reached or stopped."""
