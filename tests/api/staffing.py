"""Staff over HTTP: hiring a member, and who the events of an aggregate say acted."""

from __future__ import annotations

from typing import Any

import httpx

from domain.actor import recorded_actor


def hire(http: httpx.Client, admin: dict[str, str], name: str, role: str, **extra: Any) -> dict:
    """POST /staff as ``admin``: the new member, with their first token (``token``)."""
    added = http.post("/staff", json={"name": name, "role": role, **extra}, headers=admin)
    assert added.status_code == 201, added.text
    return added.json()


def actors(app: Any, aggregate_id: Any) -> dict[str, dict]:
    """Each event's name → the actor it recorded (the last of each name)."""
    return {type(e).__name__: recorded_actor(e).to_dict() for e in app.events.get(aggregate_id)}


def problem_of(answer: httpx.Response, status: int) -> dict:
    """The problem+json body of an answer that must have ``status``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    return answer.json()
