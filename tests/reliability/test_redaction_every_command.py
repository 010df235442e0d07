"""Issue 25: log redaction in every command, not only ``serve``: ``finadvisor.cli.main`` installs it before any
sub-command runs, with the environment's keys known as secrets."""

from __future__ import annotations

import logging
import sys

import pytest

from finadvisor import cli

SERVICE_KEY = "svc-key-0123456789abcdef"


def test_every_command_logs_through_redaction(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FINADVISOR_SPENDING_SERVICE_KEY", SERVICE_KEY)
    monkeypatch.setattr(sys, "argv", ["finadvisor", "--version"])
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # a handler another test left on the root logger may hold a stream pytest has since closed: start clean, as a
    # fresh process does
    root.handlers[:] = []
    try:
        with pytest.raises(SystemExit):
            cli.main()
        logging.getLogger("finadvisor.batch").warning(
            "spending API said no to %s (cookie=abcdef123456)", SERVICE_KEY
        )
        err = capfd.readouterr().err
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert "spending API said no" in err and "[REDACTED]" in err
    assert SERVICE_KEY not in err and "abcdef123456" not in err
