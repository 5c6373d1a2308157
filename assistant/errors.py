"""Typed errors the CLI turns into one-line messages and exit codes."""


class HcpcsError(Exception):
    """Base of every error the project raises on purpose; the CLI prints it on one line."""

    exit_code = 1


class UsageError(HcpcsError):
    """Bad input from the user: a malformed code, an unknown release, a bad option value."""

    exit_code = 2


class CorpusError(HcpcsError):
    """A corpus file is missing, damaged or does not match its manifest."""


class ChecksumError(CorpusError):
    """A file's sha256 does not match the manifest."""


class ParseError(CorpusError):
    """A source file cannot be parsed (truncated record, unknown layout, corrupt archive)."""


class IndexMissingError(HcpcsError):
    """No index has been built yet."""


class IndexStaleError(HcpcsError):
    """The index was built from another corpus, model or parser version."""


class IndexDamagedError(IndexStaleError):
    """A file of the built index is missing, truncated or unreadable."""


class NotFoundError(HcpcsError):
    """A well-formed code that no loaded release contains."""


class StoreUnavailableError(HcpcsError):
    """The Chroma server named by HCPCS_CHROMA_URL cannot be reached."""
