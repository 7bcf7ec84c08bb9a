"""The words of a staff member's events: added, disabled, a password set (never the password)."""

from __future__ import annotations

from domain.staff import StaffMember
from presentation.events.registry import EventData, formats
from presentation.words import Words

_ROLE_FA = {"admin": "مدیر", "finance": "مالی", "support": "پشتیبانی"}


@formats(StaffMember.StaffMemberAdded)
def _added(d: EventData) -> Words:
    role = str(d["role"])
    email_en = f", signs in as {d['email']}" if d.get("email") else ""
    email_fa = f"، نشانی ورود {d['email']}" if d.get("email") else ""
    return Words(
        f"staff member {d['name']} added as {role}{email_en}",
        f"کارمند {d['name']} با نقش {_ROLE_FA.get(role, role)} افزوده شد{email_fa}",
    )


@formats(StaffMember.StaffMemberDisabled)
def _disabled(d: EventData) -> Words:
    return Words(
        f"staff member disabled: their tokens no longer work ({d['reason']})",
        f"کارمند غیرفعال شد و توکن‌هایش دیگر کار نمی‌کنند ({d['reason']})",
    )


@formats(StaffMember.StaffPasswordSet)
def _password_set(d: EventData) -> Words:
    return Words("a new password was set", "گذرواژهٔ تازه‌ای تعیین شد")
