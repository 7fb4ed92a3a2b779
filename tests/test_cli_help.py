"""The CLI explains itself: --version, help and defaults on every argument, an example in every
--help that parses, and one-line errors for the confusing cases (in-process, no model needed)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import pytest
import tierscope
from tierscope.cli import _EXAMPLES, build_parser, main


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    """Every sub-command, nested ones (``log compact``) included, by its name after ``tierscope``."""
    out: dict[str, argparse.ArgumentParser] = {}
    todo: list[tuple[str, argparse.ArgumentParser]] = [("", build_parser())]
    while todo:
        prefix, parser = todo.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, command in action.choices.items():
                    out[f"{prefix}{name}"] = command
                    todo.append((f"{prefix}{name} ", command))
    return out


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tierscope: error: "), err
    assert "Traceback" not in err
    return err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"tierscope {tierscope.__version__}"


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_argument_has_help_and_its_default(name: str) -> None:
    command = _subcommands()[name]
    text = command.format_help()
    for action in command._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        label = action.option_strings[0] if action.option_strings else action.metavar
        assert action.help, f"{name} {label}: no help text"
        shown = command._get_formatter()._get_help_string(action) or ""
        takes_value = action.option_strings and not isinstance(action, argparse._StoreTrueAction)
        if takes_value and not action.required:
            assert "default" in shown, f"{name} {label}: help does not say the default"
    assert "example:" in text and f"tierscope {name}" in text


@pytest.mark.parametrize("name", sorted(_EXAMPLES))
def test_every_example_parses(name: str) -> None:
    parser = build_parser()
    for line in _EXAMPLES[name].splitlines():
        if not line.startswith("tierscope"):
            continue
        args = parser.parse_args(shlex.split(line)[1:])
        assert args.command == shlex.split(line)[1]


def test_top_level_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--version" in out and "example:" in out


def test_route_with_two_paths_names_the_layout(capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(capsys, ["route", "in.csv", "out.parquet"])
    assert "expected 3 arguments, MODEL_DIR INPUT OUTPUT, got 2" in err
    assert "the following arguments are required" not in err
    assert "tierscope route models/default-minilm-int8-v1" in err


def test_audit_and_plan_given_a_file_say_they_want_a_log_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "decisions.parquet"
    f.write_bytes(b"PAR1")
    for argv in (["audit", str(f)], ["plan", str(f), "--out", str(tmp_path / "p.csv")]):
        err = _error(capsys, argv)
        assert "decision-log directory" in err and "is a file" in err and "not exist" not in err


def test_missing_output_directory_is_one_line_without_a_temporary_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    log = tmp_path / "log"
    log.mkdir()
    src = tmp_path / "in.csv"
    src.write_text("text\nhello\n", encoding="utf-8")
    missing = tmp_path / "no" / "such"
    cases = [
        ["route", str(model), str(src), str(missing / "out.parquet")],
        ["plan", str(log), "--out", str(missing / "plan.csv")],
        ["audit", str(log), "--html", str(missing / "r.html")],
    ]
    for argv in cases:
        err = _error(capsys, argv)
        assert "directory not found" in err and str(missing) in err
        assert ".tmp" not in err and "tmp-" not in err
    assert not (tmp_path / "no").exists()
