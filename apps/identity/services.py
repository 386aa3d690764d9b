"""Writes of the identity app: accounts, sign-in sessions and their tokens, password flows."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import IntegrityError, router, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.module_loading import import_string
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from apps.common import context
from apps.common.errors import ApplicationError, ErrorCode, ValidationFailed
from apps.common.versioning import require_version

from . import sessions, throttling
from .models import DeviceSession, User, normalize_email
from .selectors import user_for_login

logger = logging.getLogger(__name__)


class AuthError(ApplicationError):
    status = 401
    code = ErrorCode.AUTHENTICATION_FAILED


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    session_id: uuid.UUID


def _db() -> str:
    return router.db_for_write(User)


def _now() -> Any:
    return timezone.now()


# --- accounts --------------------------------------------------------------------------------


_WELCOME = (
    "Welcome to ExampleApp",
    "Your ExampleApp account for this address is ready. If you did not create it, reset its "
    "password or tell us, and it will be removed.",
)
_TAKEN = (
    "Someone tried to register with your address",
    "An account already exists for this e-mail address. If this was you, sign in or reset your "
    "password. If not, you can ignore this message.",
)


def user_register(*, email: str, password: str, display_name: str = "") -> User:
    """Create an account. When the address is taken, nothing is created: the caller gets an
    unsaved stand-in shaped like a fresh account, and the owner of the address a notice.

    Nothing tells the two apart (no enumeration): the same body and headers (one timestamp for
    `date_joined` and `updated_at`, version 1), the same work before the answer (the password is
    hashed, then the insert is tried) and one e-mail either way — a welcome or the notice — sent
    after the response, so an SMTP server's pace is not part of the answer's timing."""
    email = normalize_email(email)
    user = User(email=email, display_name=display_name)
    user.set_password(password)
    user.date_joined = user.updated_at = timezone.now()
    try:
        with transaction.atomic(using=_db()):
            user.save(using=_db(), force_insert=True)
        subject, body = _WELCOME
    except IntegrityError:
        user = User(
            email=email, display_name=display_name, date_joined=user.date_joined, updated_at=user.date_joined
        )
        subject, body = _TAKEN
    context.after_response(lambda: send_mail(subject, body, None, [email]))
    return user


def user_update(
    *,
    user_id: uuid.UUID,
    fields: dict[str, Any],
    expected_version: int | None = None,
    current_password: str | None = None,
    ip: str = "",
) -> User:
    """Apply `fields` (already validated) to an account, bumping its version.

    `kosync_password` turns KOReader sync on with that password (only a slow hash of the key
    KOReader derives from it is kept) or off when empty or None. It is a credential: changing
    it needs the account's `current_password` (checked like a sign-in, from `ip`)."""
    fields = dict(fields)
    kosync = "kosync_password" in fields
    if kosync:
        password = fields.pop("kosync_password")
        fields["kosync_key_hash"] = make_password(kosync_user_key(password)) if password else ""
    with transaction.atomic(using=_db()):
        user = User.objects.select_for_update().get(id=user_id)
        require_version(user.version, expected_version)
        if kosync:
            if current_password is None:
                message = "Changing the KOReader password needs your current password."
                raise ValidationFailed.field("current_password", message)
            _require_password(user, current_password, ip=ip)
        changed = [name for name, value in fields.items() if getattr(user, name) != value]
        if not changed:
            return user
        for name in changed:
            setattr(user, name, fields[name])
        user.save(update_fields=[*changed, *user.bump(changed)])
        if "is_active" in changed and not user.is_active:
            _revoke_sessions(user_id=user.id, reason=DeviceSession.RevokeReason.STAFF)
    # Staff flag and activity are part of the cached session state.
    sessions.forget(DeviceSession.objects.using(_db()).filter(user_id=user_id).values_list("id", flat=True))
    return user


def user_delete(*, user_id: uuid.UUID, expected_version: int | None = None) -> None:
    """Delete an account and, through cascading foreign keys, everything it owns; its stored
    files go once the deletion committed (objects cannot be rolled back). Should that fail,
    `cleanup_uploads` later removes the objects no file row owns."""
    with transaction.atomic(using=_db()):
        user = User.objects.select_for_update().get(id=user_id)
        require_version(user.version, expected_version)
        session_ids = list(user.sessions.values_list("id", flat=True))
        user.delete()
    sessions.mark_revoked(session_ids)
    for hook in settings.ACCOUNT_DELETED_HOOKS:  # e.g. the library deletes stored objects
        try:
            import_string(hook)(user_id=user_id)
        except Exception:  # storage trouble must not turn a completed deletion into an error
            logger.exception("account deletion hook %s failed for user %s", hook, user_id)


def kosync_user_key(password: str) -> str:
    """What KOReader sends instead of a password: the md5 hex of its UTF-8 bytes."""
    return hashlib.md5(password.encode("utf-8"), usedforsecurity=False).hexdigest()


def user_register_for_kosync(*, email: str, key: str) -> bool:
    """KOReader's own registration (only when KOSYNC_REGISTRATION_ENABLED): an account named by
    an e-mail, with no API password (a reset sets one) and the received key as its kosync key.
    False when the name is taken."""
    email = normalize_email(email)
    try:
        with transaction.atomic(using=_db()):
            User.objects.create_user(email, None, kosync_key_hash=make_password(key))
    except IntegrityError:
        return False
    return True


# --- sessions and tokens ---------------------------------------------------------------------


def _issue(session: DeviceSession) -> tuple[str, str]:
    refresh = RefreshToken()
    refresh["user_id"] = str(session.user_id)
    refresh["sid"] = str(session.id)
    # When this session last proved the password: operations that need a recent proof (deleting
    # the account) compare it with REAUTHENTICATION_SECONDS. Copied into the access token.
    refresh["auth_time"] = int(session.authenticated_at.timestamp())
    session.refresh_jti = refresh["jti"]
    return str(refresh.access_token), str(refresh)


def _require_password(user: User, password: str, *, ip: str, field: str = "current_password") -> None:
    """A password check inside a signed-in session (password change, KOReader key, re-sign-in)
    counts like a sign-in attempt: a stolen access token cannot guess its way further."""
    if not throttling.credential_check(email=user.email, ip=ip, verify=lambda: user.check_password(password)):
        message = "The password is not correct."
        raise ValidationFailed.field(field, message)


def session_reauthenticate(*, session_id: uuid.UUID, password: str, ip: str) -> TokenPair:
    """Prove the password again inside a session (for operations that need a recent proof):
    a new token pair for the same session, stamped now. Like a refresh, it rotates the
    session's refresh token."""
    with transaction.atomic(using=_db()):
        session = DeviceSession.objects.select_for_update().select_related("user").get(id=session_id)
        if not session.is_active:  # revoked since the access token was checked
            raise AuthError("This session has ended; sign in again.", code=ErrorCode.SESSION_REVOKED)
        _require_password(session.user, password, ip=ip, field="password")
        session.authenticated_at = session.last_used_at = _now()
        access, refresh = _issue(session)
        session.previous_refresh_jti = ""  # a token from before the password was asked: no retry
        session.save(
            update_fields=["authenticated_at", "last_used_at", "refresh_jti", "previous_refresh_jti"]
        )
    return TokenPair(access=access, refresh=refresh, session_id=session.id)


def credentials_verify(*, email: str, password: str, ip: str) -> User | None:
    """The active account with this e-mail and password, or None; under the sign-in limits
    (throttling.credential_check: 429 while the account or the address is locked). An unknown
    address costs the same password hash as a real check, so timing tells nothing. The API's
    sign-in and the Django admin's (backends.py) both come through here."""
    email = normalize_email(email)

    def verify() -> User | None:
        user = user_for_login(email=email)
        if user is None:
            make_password(password)
            return None
        return user if user.check_password(password) and user.is_active else None

    result: User | None = throttling.credential_check(email=email, ip=ip, verify=verify)
    return result


def session_login(
    *, email: str, password: str, ip: str, device_name: str = "", user_agent: str = ""
) -> TokenPair:
    """Check credentials (with lockout) and open a new session for the device."""
    user = credentials_verify(email=email, password=password, ip=ip)
    if user is None:
        raise AuthError("E-mail or password is incorrect.", code=ErrorCode.INVALID_CREDENTIALS)
    now = _now()
    session = DeviceSession(
        user=user,
        device_name=device_name[:100],
        user_agent=user_agent[:300],
        ip_address=ip or None,
        created_at=now,
        authenticated_at=now,
        last_used_at=now,
        expires_at=now + settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"],
    )
    access, refresh = _issue(session)
    with transaction.atomic(using=_db()):
        session.save(force_insert=True)
        User.objects.filter(id=user.id).update(last_login=now)
    ctx = context.current()
    if ctx is not None:
        ctx.user_id = str(user.id)  # the new user's next reads see this session
    return TokenPair(access=access, refresh=refresh, session_id=session.id)


def _decode_refresh(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError:
        raise AuthError("The refresh token is invalid or expired.", code=ErrorCode.TOKEN_INVALID) from None


def _lost_answer(session: DeviceSession, jti: object, now: datetime) -> bool:
    """`jti` is the refresh token the newest one replaced, presented again within
    REFRESH_RETRY_SECONDS of that exchange."""
    return (
        bool(jti)
        and jti == session.previous_refresh_jti
        and session.rotated_at is not None
        and now - session.rotated_at <= timedelta(seconds=settings.REFRESH_RETRY_SECONDS)
    )


def session_refresh(*, raw_refresh: str) -> TokenPair:
    """Rotate: the presented refresh token must be the session's newest one. An older token
    means it leaked; the whole session (every token descended from its login) is revoked."""
    token = _decode_refresh(raw_refresh)
    sid, jti = token.get("sid"), token.get("jti")
    reused = False
    with transaction.atomic(using=_db()):
        session = (
            DeviceSession.objects.select_for_update()
            .select_related("user")
            .filter(id=sid, user_id=token.get("user_id"))
            .first()
        )
        if session is None or not session.is_active or not session.user.is_active:
            raise AuthError("This session has ended; sign in again.", code=ErrorCode.SESSION_REVOKED)
        now = _now()
        if session.refresh_jti == jti:
            access, refresh = _issue(session)
            session.previous_refresh_jti, session.rotated_at, session.last_used_at = jti, now, now
            session.save(update_fields=["refresh_jti", "previous_refresh_jti", "rotated_at", "last_used_at"])
        elif _lost_answer(session, jti, now):
            # The client never got the pair it was given (the page reloaded, the connection
            # dropped): answer again with a new pair. The unseen one is now an old token, so
            # whoever does hold it is caught if they use it. The window counts from the first
            # exchange: retrying cannot stretch it.
            access, refresh = _issue(session)
            session.last_used_at = now
            session.save(update_fields=["refresh_jti", "last_used_at"])
            logger.info("refresh retried within %ss: session %s", settings.REFRESH_RETRY_SECONDS, session.id)
        else:
            reused = True
            session.revoked_at = now
            session.revoke_reason = DeviceSession.RevokeReason.REFRESH_REUSE
            session.save(update_fields=["revoked_at", "revoke_reason"])
    if reused:
        sessions.mark_revoked([session.id])
        logger.warning("refresh token reuse: session %s revoked", session.id)
        raise AuthError(
            "This refresh token was already used; the session has been ended for safety.",
            code=ErrorCode.TOKEN_REUSED,
        )
    return TokenPair(access=access, refresh=refresh, session_id=session.id)


def session_logout(*, raw_refresh: str) -> None:
    token = _decode_refresh(raw_refresh)
    revoked = DeviceSession.objects.filter(
        id=token.get("sid"), user_id=token.get("user_id"), revoked_at__isnull=True
    ).update(revoked_at=_now(), revoke_reason=DeviceSession.RevokeReason.LOGOUT)
    if revoked:
        sessions.mark_revoked([token.get("sid")])


def session_revoke(*, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """Revoke one of the user's own sessions; False when it is not theirs or already over."""
    revoked = DeviceSession.objects.filter(id=session_id, user_id=user_id, revoked_at__isnull=True).update(
        revoked_at=_now(), revoke_reason=DeviceSession.RevokeReason.USER
    )
    if revoked:
        sessions.mark_revoked([session_id])
    return bool(revoked)


def _revoke_sessions(*, user_id: uuid.UUID, reason: str, keep: uuid.UUID | None = None) -> list[uuid.UUID]:
    live = DeviceSession.objects.filter(user_id=user_id, revoked_at__isnull=True)
    if keep is not None:
        live = live.exclude(id=keep)
    ids = list(live.values_list("id", flat=True))
    DeviceSession.objects.filter(id__in=ids).update(revoked_at=_now(), revoke_reason=reason)
    transaction.on_commit(lambda: sessions.mark_revoked(ids), using=_db())
    return ids


# --- passwords -------------------------------------------------------------------------------


def _kosync_off(user: User) -> None:
    """End KOReader sync (its key is a credential): password change and reset, and signing out
    everywhere, must leave no way in that the old password opened."""
    if user.kosync_key_hash:
        user.kosync_key_hash = ""
        user.save(update_fields=["kosync_key_hash", *user.bump(now=_now())])


def password_change(
    *, user_id: uuid.UUID, current_password: str, new_password: str, current_session: uuid.UUID, ip: str
) -> None:
    """Change the password, end every other session and KOReader sync (the caller stays signed
    in). A wrong current password counts towards the sign-in lockout."""
    with transaction.atomic(using=_db()):
        user = User.objects.select_for_update().get(id=user_id)
        _require_password(user, current_password, ip=ip)
        user.set_password(new_password)
        user.save(update_fields=["password"])
        _kosync_off(user)
        _revoke_sessions(
            user_id=user.id, reason=DeviceSession.RevokeReason.PASSWORD_CHANGE, keep=current_session
        )


def sessions_end_all(*, user_id: uuid.UUID) -> int:
    """Sign out everywhere: every session of the account ends (this one too) and KOReader sync
    is turned off. Returns the number of sessions ended."""
    with transaction.atomic(using=_db()):
        user = User.objects.select_for_update().get(id=user_id)
        _kosync_off(user)
        return len(_revoke_sessions(user_id=user.id, reason=DeviceSession.RevokeReason.USER))


def password_reset_request(*, email: str) -> None:
    """Mail a single-use reset link if the account exists; say nothing either way."""
    user = user_for_login(email=email)
    if user is None or not user.is_active:
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = settings.PASSWORD_RESET_URL.format(uid=uid, token=token)
    body = (
        "Use this link to choose a new password. It works once and expires in "
        f"{settings.PASSWORD_RESET_TIMEOUT // 60} minutes:\n\n{link}\n\n"
        f"uid: {uid}\ntoken: {token}\n\nIf you did not ask for this, ignore this message."
    )
    # After the response: sending inline would make "the account exists" the slower answer.
    context.after_response(lambda: send_mail("Reset your ExampleApp password", body, None, [user.email]))


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> None:
    """Set a new password with a mailed token and end every session of the account.

    The token is single-use because it is derived from the password hash, which it changes."""
    invalid = ApplicationError("The reset link is invalid or has expired.", code=ErrorCode.INVALID_TOKEN)
    try:
        user_id = uuid.UUID(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError):
        raise invalid from None
    with transaction.atomic(using=_db()):
        user = User.objects.select_for_update().filter(id=user_id, is_active=True).first()
        if user is None or not default_token_generator.check_token(user, token):
            raise invalid
        user.set_password(new_password)
        user.save(update_fields=["password"])
        _kosync_off(user)
        _revoke_sessions(user_id=user.id, reason=DeviceSession.RevokeReason.PASSWORD_RESET)
