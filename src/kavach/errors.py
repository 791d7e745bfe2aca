"""The one exception tree of Kavach.

Every error a user can meet carries a stable machine-readable ``code``, a message that says what to
do, the CLI exit status and the HTTP status it maps to::

    KavachError
    ├── InputError                (bad input from the user: exit 2, HTTP 400)
    │   ├── InvalidHashError      a hash string or array that is not what it claims to be
    │   ├── FormatError           a list file (VICS, NCMEC, ICSE, CSV, text) that cannot be read on
    │   ├── MediaError            a file that cannot be decoded safely
    │   │   ├── EmptyFileError
    │   │   ├── FileTooLargeError
    │   │   ├── TooManyPixelsError (decompression bombs)
    │   │   ├── UnsupportedMediaError (not media, or a format we do not read)
    │   │   ├── TruncatedMediaError
    │   │   ├── CorruptMediaError
    │   │   ├── NoVideoStreamError (no video stream, e.g. audio-only; an UnsupportedMediaError)
    │   │   ├── VideoTooLongError (past the duration or frame-count limit)
    │   │   └── DecodeTimeoutError (past the per-file decoding time limit)
    │   ├── ArchiveError          a zip archive that cannot be read (corrupt, encrypted)
    │   │   └── ArchiveLimitError a zip past a scan limit (zip bombs: size, ratio, entries, depth)
    │   └── CheckpointError       a scan checkpoint that does not fit the scan being resumed
    ├── NotFoundError             (exit 2, HTTP 404)
    ├── AuthenticationError       (no or bad credentials: HTTP 401)
    ├── PermissionDeniedError     (the role or organisation may not do this: HTTP 403)
    ├── ConflictError             (the thing exists already, or is in use: HTTP 409)
    ├── PayloadTooLargeError      (a request body past its limit: HTTP 413)
    ├── RateLimitedError          (too many requests for one API key: HTTP 429)
    ├── ServiceUnavailableError   (not ready: database unreachable, indexes loading: HTTP 503)
    ├── IndexFormatError          (a saved index file that is corrupt or of another version)
    └── ConfigurationError        (exit 2, HTTP 500)
"""

from __future__ import annotations

__all__ = [
    "ArchiveError",
    "ArchiveLimitError",
    "AuthenticationError",
    "CheckpointError",
    "ConfigurationError",
    "ConflictError",
    "CorruptMediaError",
    "DecodeTimeoutError",
    "EmptyFileError",
    "FileTooLargeError",
    "FormatError",
    "IndexFormatError",
    "InputError",
    "InvalidHashError",
    "KavachError",
    "MediaError",
    "NoVideoStreamError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServiceUnavailableError",
    "TooManyPixelsError",
    "TruncatedMediaError",
    "UnsupportedMediaError",
    "VideoTooLongError",
]


class KavachError(Exception):
    """Base of every error Kavach raises on purpose."""

    code: str = "error"
    exit_code: int = 2
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """The error as the ``{code, message}`` record used in JSON output."""
        return {"code": self.code, "message": self.message}


class InputError(KavachError):
    """The input given to Kavach is not acceptable."""

    code = "invalid_input"
    http_status = 400


class InvalidHashError(InputError):
    """A hash value is malformed (wrong length, not hex, wrong shape)."""

    code = "invalid_hash"


class FormatError(InputError):
    """A hash-list file is malformed past the point where reading can go on.

    ``where`` names the place (``line 12``, ``value[0].Media[3]``); ``line`` is set when known.
    """

    code = "bad_format"

    def __init__(self, message: str, *, where: str | None = None, line: int | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.line = line


class MediaError(InputError):
    """A file could not be decoded as media."""

    code = "media_error"
    http_status = 422


class EmptyFileError(MediaError):
    code = "empty_file"


class FileTooLargeError(MediaError):
    code = "file_too_large"
    http_status = 413


class TooManyPixelsError(MediaError):
    code = "too_many_pixels"
    http_status = 413


class UnsupportedMediaError(MediaError):
    code = "unsupported_media"
    http_status = 415


class TruncatedMediaError(MediaError):
    code = "truncated_media"


class CorruptMediaError(MediaError):
    code = "corrupt_media"


class NoVideoStreamError(UnsupportedMediaError):
    """A container (MP4, MKV, ...) that holds no video stream, e.g. audio only."""

    code = "no_video_stream"


class VideoTooLongError(MediaError):
    """A video longer (in seconds or frames) than the configured limit."""

    code = "video_too_long"
    http_status = 413


class DecodeTimeoutError(MediaError):
    """Decoding one file took longer than the per-file time limit."""

    code = "decode_timeout"


class ArchiveError(InputError):
    """A zip archive (or a member of one) cannot be read: corrupt, encrypted, unsupported."""

    code = "bad_archive"
    http_status = 422


class ArchiveLimitError(ArchiveError):
    """A zip archive goes past a scan limit (total size, ratio, entry count, nesting depth)."""

    code = "archive_limit"
    http_status = 413


class CheckpointError(InputError):
    """A scan checkpoint is damaged or belongs to a different scan."""

    code = "checkpoint"


class NotFoundError(KavachError):
    code = "not_found"
    http_status = 404


class IndexFormatError(KavachError):
    """A saved index file is corrupt, truncated or of an unknown version."""

    code = "index_format"


class ConfigurationError(KavachError):
    code = "configuration"


class AuthenticationError(KavachError):
    """No credentials, or credentials that are wrong, expired or revoked."""

    code = "unauthenticated"
    http_status = 401


class PermissionDeniedError(KavachError):
    """The caller's role or organisation does not allow this."""

    code = "forbidden"
    http_status = 403


class ConflictError(KavachError):
    """The request clashes with what exists (a duplicate name, a revoked key)."""

    code = "conflict"
    http_status = 409


class PayloadTooLargeError(KavachError):
    """A request body is larger than the endpoint accepts."""

    code = "payload_too_large"
    http_status = 413


class RateLimitedError(KavachError):
    """Too many requests with one API key; ``retry_after`` says when to try again (seconds)."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailableError(KavachError):
    """The service cannot answer yet (database unreachable, indexes still loading)."""

    code = "unavailable"
    http_status = 503
