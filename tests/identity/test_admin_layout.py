"""The sessions changelist fits a 1366 px screen beside its filters (checked in Chromium once;
what that rests on, short of a browser, is asserted here): few columns, a device name cut
short, text columns free to wrap, and the state of each session in words."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from apps.identity.admin import SHORT_DEVICE
from apps.identity.models import DeviceSession, User

pytestmark = pytest.mark.django_db


def _session(user: User, name: str, **fields: object) -> DeviceSession:
    return DeviceSession.objects.create(
        user=user,
        device_name=name,
        refresh_jti=uuid.uuid4().hex,
        expires_at=fields.pop("expires_at", timezone.now() + timedelta(days=30)),
        **fields,
    )


def test_the_sessions_list_fits_and_says_each_state() -> None:
    staff = User.objects.create_superuser("admin@example.org", "a long admin password")
    user = User.objects.create_user("a-very-long-address-for-layouts@sub.example.org", "a long password 1")
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0"
    _session(user, agent)
    _session(user, "x" * 100, revoked_at=timezone.now(), revoke_reason="password_change")
    _session(user, "Old phone", expires_at=timezone.now() - timedelta(days=1))
    client = Client()
    client.force_login(staff)
    page = client.get("/admin/identity/devicesession/").content.decode()

    columns = re.findall(r'<th scope="col" class="(?:sortable )?column-(\w+)', page)
    assert columns == ["account", "short_device", "ip_address", "last_used_at", "state"]
    assert not re.findall(r'class="field-(account|short_device|ip_address) nowrap"', page)
    devices = re.findall(r'<td class="field-short_device">([^<]*)</td>', page)
    assert len(devices) == 3
    assert all(len(text) <= SHORT_DEVICE for text in devices), devices
    assert f">{agent}<" not in page  # cut short; the whole name is on the session's page
    states = re.findall(r'<td class="field-state">([^<]*)</td>', page)
    assert sorted(states) == ["active", "ended: the password was changed", "expired"]
    assert "/static/identity/admin.css" in page

    stylesheet = finders.find("identity/admin.css")
    assert stylesheet is not None
    css = Path(stylesheet).read_text()
    for column in ("account", "short_device", "ip_address"):
        assert f".field-{column}" in css
    assert "overflow-wrap: anywhere" in css
