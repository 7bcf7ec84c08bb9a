"""`billing representatives create|change|list|assign` on a store: the id on the last line,
the list as JSON, a move recorded as the console operator's doing, and every refusal a message
with its code and the exit status of its kind (2 bad input, 4 not found, 1 refused)."""

from __future__ import annotations

import contextlib
import io
import json
import uuid

import cli
from bootstrap import build_application
from domain.customer import Customer
from tests.builders import T0, a_person


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _created(url: str, *options: str) -> str:
    code, out, err = _run("representatives", "create", *options, "--db", url)
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    assert str(uuid.UUID(last)) == last  # the id, alone on the last line
    return last


def _listed(url: str) -> dict[str, dict]:
    code, out, err = _run("representatives", "list", "--format", "json", "--db", url)
    assert code == 0, err
    return {row["id"]: row for row in json.loads(out)}


def test_create_list_assign_and_move_at_the_console(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.sqlite"
    ali = _created(url, "--name", "Ali Rezaei", "--mobile", "0912 123 4567")
    reza = _created(url, "--name", "Reza")
    app = build_application(database_url=url)
    customer = app.register_customer(a_person(), T0, representative_id=uuid.UUID(ali))
    other = app.register_customer(a_person("Nima"), T0)  # no representative yet
    app.close()

    listed = _listed(url)
    assert listed[ali] | {"added_at": None} == {
        "id": ali,
        "name": "Ali Rezaei",
        "mobile": "09121234567",
        "email": None,
        "registered": True,
        "added_at": None,
        "customers": 1,
    }
    assert listed[reza]["customers"] == 0

    code, out, err = _run(
        "representatives", "assign", str(customer), reza, "--reason", "Ali moved", "--db", url
    )
    assert code == 0, err
    assert f"moved from representative {ali} to Reza" in out
    assert out.strip().splitlines()[-1] == reza
    code, out, err = _run(
        "representatives", "assign", str(other), ali, "--reason", "walk-in", "--db", url
    )
    assert code == 0 and "assigned to representative Ali Rezaei" in out, err
    assert {i: r["customers"] for i, r in _listed(url).items()} == {ali: 1, reza: 1}

    app = build_application(database_url=url)
    moved = list(app.events.get(customer))[-1]
    assert isinstance(moved, Customer.RepresentativeAssigned)
    assert (str(moved.previous_representative_id), str(moved.representative_id)) == (ali, reza)
    assert vars(moved)["actor"]["kind"] == "operator"  # who typed it, at this host
    assert "@" in vars(moved)["actor"]["id"]
    app.close()

    code, out, _ = _run("representatives", "list", "--db", url)
    assert code == 0
    assert any(line.startswith(reza) and "Reza" in line for line in out.splitlines())

    code, out, err = _run(
        "representatives", "change", reza, "--name", "Reza Karimi", "--email", "r@example.ir",
        "--db", url,
    )  # fmt: skip
    assert code == 0, err
    assert _listed(url)[reza]["name"] == "Reza Karimi"


def test_refusals_say_why_and_exit_by_their_kind(tmp_path):
    url = f"sqlite:///{tmp_path}/refusals.sqlite"
    ali = _created(url, "--name", "Ali")
    app = build_application(database_url=url)
    customer = str(app.register_customer(a_person(), T0, representative_id=uuid.UUID(ali)))
    app.close()
    nobody = str(uuid.uuid4())
    refusals = [
        (("create", "--name", "Ali", "--mobile", "123"), 2, "[invalid_representative]"),
        (("create", "--name", " "), 2, "name is required"),
        (("assign", customer, ali, "--reason", "again"), 1, "[representative_unchanged]"),
        (("assign", customer, nobody, "--reason", "typo"), 4, "[representative_not_found]"),
        (("assign", nobody, ali, "--reason", "typo"), 4, "[customer_not_found]"),
        (("assign", customer, _created(url, "--name", "Reza"), "--reason", " "), 2, "reason"),
        (("change", nobody, "--name", "X"), 4, "[representative_not_found]"),
    ]
    for argv, status, says in refusals:
        code, out, err = _run("representatives", *argv, "--db", url)
        assert code == status, (argv, out, err)
        assert says in err, (argv, err)
    assert {r["customers"] for r in _listed(url).values()} == {0, 1}  # nothing moved

    # A representative's token names an added representative only.
    code, _, err = _run("tokens", "create", "--role", "representative",
                        "--representative", nobody, "--db", url)  # fmt: skip
    assert code == 4 and "[representative_not_found]" in err
    code, out, err = _run("tokens", "create", "--role", "representative",
                          "--representative", ali, "--db", url)  # fmt: skip
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("bt_")


def test_a_representative_of_before_is_listed_and_added_under_their_id(tmp_path):
    url = f"sqlite:///{tmp_path}/before.sqlite"
    legacy = uuid.uuid4()
    app = build_application(database_url=url)
    app.save(Customer.register(a_person(), legacy, T0))  # as the code of before recorded it
    app.close()
    code, out, _ = _run("representatives", "list", "--db", url)
    assert code == 0
    assert f"{legacy}          1  (registered before representatives were kept" in out
    assert _created(url, "--name", "Sina", "--id", str(legacy)) == str(legacy)
    row = _listed(url)[str(legacy)]
    assert (row["registered"], row["name"], row["customers"]) == (True, "Sina", 1)
