"""The state of a product's own server, as views show it and a supervisor hands it on."""

import pytest

from portal.products.process_state import ProcessState, State

pytestmark = pytest.mark.unit


def test_a_state_survives_its_json_form():
    failed = ProcessState(
        State.FAILED, "exited with 1", "Traceback ...", "unix:/run/a.sock", 5.0, pid=7, restarts=2
    )
    assert ProcessState.from_json(failed.to_json()) == failed


def test_the_json_form_names_the_state_by_its_value():
    assert ProcessState(State.UP, since=1.0).to_json() == {
        "state": "up",
        "detail": "",
        "output": "",
        "address": "",
        "since": 1.0,
        "pid": None,
        "restarts": 0,
    }


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"state": "sleeping"},
        {"state": "up", "since": "soon"},
        {"state": "up", "pid": "7"},
        {"state": "up", "restarts": None},
    ],
)
def test_anything_else_is_refused(data):
    with pytest.raises(ValueError):
        ProcessState.from_json(data)


def test_only_an_answering_server_is_serving():
    assert [s for s in State if ProcessState(s).serving] == [State.UP]
