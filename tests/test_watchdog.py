"""How SIGINT and SIGTERM reach a run (opskit.watchdog): one route from the run's
start until its report is written."""

from __future__ import annotations

import os
import signal

from opskit.watchdog import on_signals, routed_signals


def test_a_route_hands_signals_to_the_run_then_holds_them_until_it_ends() -> None:
    """A signal before the run takes them is heard by the run as it starts (not
    lost, not SIGTERM's default); one after the run let them go is only noted;
    after the route the handlers found before are back."""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    heard: list[int] = []
    with routed_signals() as route:
        os.kill(os.getpid(), signal.SIGTERM)  # the run is not listening yet
        with on_signals(heard.append):
            assert heard == [signal.SIGTERM]
            os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)  # the run's end: noted, not obeyed
        assert route.held == [signal.SIGTERM]

    assert heard == [signal.SIGTERM, signal.SIGINT]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
