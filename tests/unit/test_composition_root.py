"""One composition root: bootstrap.py builds every adapter; the API, the CLI and the
scheduler receive its runtime and construct none themselves."""

from __future__ import annotations

import ast
from pathlib import Path

from app import create_app
from bootstrap import Runtime, build_runtime, open_runtime

ROOT = Path(__file__).resolve().parents[2]

#: The adapters' classes and factories: only bootstrap.py calls them.
ADAPTERS = {
    "AdvisoryClaims", "Dispatcher", "IdempotencyStore", "InvoiceDocuments", "InvoiceLinks",
    "KavenegarSmsSender", "LinkSecretStore", "ReturnUrls",
    "NoClaims", "NoticeRenderer", "OnlinePayments", "OutboxStore", "OutboxView", "PanelInbox",
    "PlatformClient", "ReadModels", "SandboxGateway", "ScanStore", "SimulatedClock",
    "SmtpEmailSender", "StaffAccess", "StoredClock", "SystemClock", "TokenStore", "WebhookEndpoints",
    "WebhookSender",
    "ZarinpalGateway",
    "build_with_tables", "claims_for", "parse_database_url",
}  # fmt: skip


def _callers() -> list[Path]:
    files = [ROOT / "app.py", ROOT / "scheduler.py"]
    for folder in ("api", "cli"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def test_nothing_but_bootstrap_constructs_an_adapter():
    found = []
    for path in _callers():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in ADAPTERS:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert found == []


def test_the_api_runs_on_the_runtime_it_is_given(tmp_path):
    runtime = build_runtime(database_url=f"sqlite:///{tmp_path}/api.sqlite")
    context = create_app(runtime).state.context
    assert context.runtime is runtime
    assert context.app is runtime.app and context.tokens is runtime.tokens
    assert context.read_models is runtime.read_models
    runtime.close()


def test_a_command_builds_only_the_parts_it_uses(tmp_path):
    runtime = open_runtime(database_url=f"sqlite:///{tmp_path}/cli.sqlite")
    assert isinstance(runtime, Runtime)
    runtime.app.plans()
    assert runtime.built("app") and not runtime.built("read_models")
    assert not runtime.built("scheduler")
    runtime.close()
