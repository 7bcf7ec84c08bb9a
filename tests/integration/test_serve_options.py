"""`billing serve`'s options for several processes refuse what cannot work, before anything is
built or bound (docs/DEPLOY.md)."""

from __future__ import annotations

import contextlib
import io

import pytest

import cli
from cli.common import EXIT_CONFIG


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = cli.main(argv)
        except SystemExit as exit:  # argparse's own refusals
            code = int(exit.code or 0)
    return code, out.getvalue()


def test_the_demo_is_seeded_and_served_by_one_process(tmp_path):
    code, said = _run(["serve", "--workers", "2", "--demo", "--db", f"{tmp_path}/d.sqlite"])
    assert code == EXIT_CONFIG
    assert "leave out --workers" in said
    assert not (tmp_path / "d.sqlite").exists()  # nothing was built


def test_scheduler_metrics_need_a_scheduler_in_the_process(tmp_path):
    argv = ["serve", "--no-scheduler", "--metrics-port", "9101", "--db", f"{tmp_path}/m.sqlite"]
    code, said = _run(argv)
    assert code == EXIT_CONFIG
    assert "give it to `billing scheduler`" in said


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_workers_must_be_a_whole_number_of_at_least_one(workers):
    code, said = _run(["serve", "--workers", workers])
    assert code == 2
    assert "must be a whole number of at least 1" in said
