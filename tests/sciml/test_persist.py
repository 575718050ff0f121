"""Tests for sciml.persist: atomic writes, versioned state files, resume checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sciml.persist import (
    ResumeMismatchError,
    StateFileError,
    atomic_write,
    atomic_write_text,
    check_resume,
    read_state,
    write_state,
)
from solvers.errors import SolverError


def test_atomic_write_replaces_the_file_and_creates_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "data.bin"
    assert atomic_write(path, lambda f: f.write(b"one")) == path
    atomic_write(path, lambda f: f.write(b"two"))
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = atomic_write_text(tmp_path / "state.txt", "old")

    def half_then_fail(f) -> None:
        f.write(b"new but unfini")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, half_then_fail)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.txt"]


def test_state_round_trip_is_sorted_and_deterministic(tmp_path: Path) -> None:
    payload = {"weights": [0.5, 0.25], "t": 3, "name": "ω"}
    path = write_state(tmp_path / "s.json", "bandit", 2, payload)
    assert read_state(path, "bandit", 2) == payload
    envelope = json.loads(path.read_text(encoding="utf-8"))
    assert envelope == {"kind": "bandit", "version": 2, "payload": payload}
    first = path.read_bytes()
    write_state(path, "bandit", 2, dict(reversed(list(payload.items()))))
    assert path.read_bytes() == first


def test_unserialisable_payload_fails_before_writing(tmp_path: Path) -> None:
    path = write_state(tmp_path / "s.json", "k", 1, {"a": 1})
    with pytest.raises(TypeError):
        write_state(path, "k", 1, {"a": object()})
    assert read_state(path, "k", 1) == {"a": 1}


@pytest.mark.parametrize(("content", "match"), [
    (None, "does not exist"),
    ("{not json", "not valid JSON"),
    ('{"a": 1}', "not a state file"),
    ('[1, 2]', "not a state file"),
    ('{"kind": "other", "version": 1, "payload": {}}', "holds kind 'other', expected 'k'"),
    ('{"kind": "k", "version": 7, "payload": {}}', "version 7.*reads version 1"),
    ('{"kind": "k", "version": 1, "payload": [1]}', "payload of type list"),
])
def test_read_state_names_the_file_and_the_problem(tmp_path: Path, content: str | None,
                                                    match: str) -> None:
    path = tmp_path / "s.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(StateFileError, match=match) as info:
        read_state(path, "k", 1)
    assert str(path) in str(info.value)
    assert isinstance(info.value, SolverError) and isinstance(info.value, OSError)


def test_check_resume_accepts_the_same_configuration_after_a_json_round_trip() -> None:
    check_resume({"grid": [8, 8], "lr": 1.0, "field": {}}, {"grid": (8, 8), "lr": 1,
                                                          "field": {}}, "out")


def test_check_resume_lists_every_difference_and_the_way_out(tmp_path: Path) -> None:
    saved = {"seed": 0, "grid": [8, 8], "lr": 0.1, "gone": 1}
    now = {"seed": 1, "grid": [8, 8], "lr": 0.2, "new": "x"}
    with pytest.raises(ResumeMismatchError) as info:
        check_resume(saved, now, tmp_path)
    message = str(info.value)
    for part in ("seed: saved=0 now=1", "lr: saved=0.1 now=0.2", "gone: saved=1 now=<missing>",
                 "new: saved=<missing> now='x'", "another output folder",
                 f"delete {tmp_path} to start over"):
        assert part in message
    assert "grid" not in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, SolverError)
