"""The lifecycle of a shutdown action's run, as AWS Budgets actions have it.

standby -> pending_approval (manual) -> executing -> succeeded | failed
standby -> executing (automatic);  succeeded | failed -> reversing -> reversed | failed
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from finops.errors import FinopsError

__all__ = ["ActionEvent", "ActionState", "InvalidTransition", "next_state"]


class ActionState(StrEnum):
    STANDBY = "standby"
    PENDING_APPROVAL = "pending_approval"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REVERSING = "reversing"
    REVERSED = "reversed"


class ActionEvent(StrEnum):
    TRIGGERED_MANUAL = "triggered_manual"  # an alert fired; a person must approve
    TRIGGERED_AUTOMATIC = "triggered_automatic"  # an alert fired; run it now
    APPROVED = "approved"
    EXECUTOR_SUCCEEDED = "executor_succeeded"
    EXECUTOR_FAILED = "executor_failed"
    REVERSE_REQUESTED = "reverse_requested"


class InvalidTransition(FinopsError):
    """The run is not in a state where that can happen; the message says which."""


_S, _E = ActionState, ActionEvent
TRANSITIONS: Final[dict[tuple[ActionState, ActionEvent], ActionState]] = {
    (_S.STANDBY, _E.TRIGGERED_MANUAL): _S.PENDING_APPROVAL,
    (_S.STANDBY, _E.TRIGGERED_AUTOMATIC): _S.EXECUTING,
    (_S.PENDING_APPROVAL, _E.APPROVED): _S.EXECUTING,
    (_S.EXECUTING, _E.EXECUTOR_SUCCEEDED): _S.SUCCEEDED,
    (_S.EXECUTING, _E.EXECUTOR_FAILED): _S.FAILED,
    (_S.SUCCEEDED, _E.REVERSE_REQUESTED): _S.REVERSING,
    (_S.FAILED, _E.REVERSE_REQUESTED): _S.REVERSING,
    (_S.REVERSING, _E.EXECUTOR_SUCCEEDED): _S.REVERSED,
    (_S.REVERSING, _E.EXECUTOR_FAILED): _S.FAILED,
}


def next_state(state: ActionState, event: ActionEvent) -> ActionState:
    """The state after `event`; InvalidTransition when it cannot happen now."""
    target = TRANSITIONS.get((state, event))
    if target is None:
        allowed = sorted(e.value for (s, e) in TRANSITIONS if s is state)
        raise InvalidTransition(
            f"a run that is {state.value} cannot take {event.value!r} "
            f"(possible now: {', '.join(allowed) or 'nothing'})"
        )
    return target
