"""Error codes of the todos app (rendered as problem+json by apps.common.errors)."""

from __future__ import annotations

from apps.common.errors import ApplicationError, Conflict


class TodoValidationError(ApplicationError):
    """A business rule a request broke, reported like a serializer's validation error so clients
    handle both the same way: 400 `validation_error` with `errors: {field: [messages]}`."""

    status = 400
    code = "validation_error"

    def __init__(self, errors: dict[str, list[str]], detail: str = "The request has invalid fields.") -> None:
        super().__init__(detail, errors=errors)

    @classmethod
    def field(cls, name: str, message: str) -> TodoValidationError:
        return cls({name: [message]})


class IdConflict(Conflict):
    """A client-chosen id that is already taken by a different object (anyone's, or a tombstone)."""

    code = "id_conflict"

    def __init__(self, detail: str = "This id is already taken by a different object.") -> None:
        super().__init__(detail)
