"""When a schedule runs: cron and interval definitions, validation and next-time computation.

Pure functions over naive UTC datetimes (what the database stores), so they are tested
with fixed clocks. Slots are whole seconds: RQ's scheduled-job registry scores jobs by
whole seconds, so a slot with a fraction would be enqueued early.

Missed runs (``following_slot``): after a run for slot S, the next run is S's successor on
the grid, unless that successor is already more than ``grace`` seconds overdue; then it
is the first slot strictly after now. So normal scheduling lag (RQ's scheduler polls once
a second) never drops a slot, while a schedule that was down for many slots sends once
(the overdue run that fires when the workers return) and then resumes on its grid; it
never catches up slot by slot.
"""

import re
from datetime import datetime, timedelta

from croniter import croniter

# The longest interval: ten years keeps every slot far inside Python's datetime range (year 9999).
MAX_INTERVAL = timedelta(days=3650)
INTERVAL_HELP = (
    "integer and period (from: days, hours, minutes, seconds) e.g. 1 minutes;"
    ' the form is "<n> <days|hours|minutes|seconds>"'
)
_INTERVAL = re.compile(r"^\s*([0-9]+)\s+(days|hours|minutes|seconds)\s*$")


class DefinitionError(ValueError):
    """A cron or interval definition that does not parse; the message names the value."""


def cron_expression(definition):
    """The croniter expression for a 5-field crontab with an optional 6th year field.

    croniter reads a 6th field as seconds and a 7th as the year, so the year moves to
    the 7th place behind a fixed second of 0.
    """
    fields = definition.split()
    if len(fields) not in (5, 6):
        raise DefinitionError(
            f"{definition} is not a valid crontab string: expected 5 fields "
            f"(minute hour day month weekday) and an optional 6th for the year, got {len(fields)}"
        )
    if len(fields) == 6:
        fields = fields[:5] + ["0", fields[5]]
    expression = " ".join(fields)
    try:
        croniter(expression)
    except (ValueError, KeyError, TypeError) as exc:
        raise DefinitionError(f"{definition} is not a valid crontab string: {exc}") from None
    return expression


def validate_cron(definition):
    """Raise DefinitionError unless ``definition`` is a valid crontab string."""
    cron_expression(definition)


def parse_interval(definition):
    """``"5 minutes"`` → ``timedelta(minutes=5)``; at least one second, at most ``MAX_INTERVAL``."""
    match = _INTERVAL.match(definition or "")
    if not match or int(match.group(1)) < 1:
        raise DefinitionError(f"{definition} is not a valid interval string: {INTERVAL_HELP}")
    count, unit = int(match.group(1)), match.group(2)
    if count > MAX_INTERVAL / timedelta(**{unit: 1}):
        raise DefinitionError(f"{definition} is longer than the longest interval, {MAX_INTERVAL.days} days")
    return timedelta(**{unit: count})


def ceil_second(moment):
    """``moment`` rounded up to a whole second."""
    return moment if moment.microsecond == 0 else moment.replace(microsecond=0) + timedelta(seconds=1)


def next_cron(definition, after):
    """The first cron slot strictly after ``after``, or None when the year field ends the schedule."""
    itr = croniter(cron_expression(definition), after.replace(microsecond=0))
    try:
        slot = itr.get_next(datetime)
    except Exception:  # croniter gives up when no later slot exists (a past year)
        return None
    return slot if slot > after else None


def next_interval(definition, anchor, after):
    """The first slot ``anchor + k * interval`` (k ≥ 1) strictly after ``after``."""
    step = parse_interval(definition)
    if after < anchor:
        return anchor + step
    k = int((after - anchor) / step) + 1
    slot = anchor + k * step
    while slot <= after:  # float division can land one step short
        slot += step
    return slot


def next_slot(cron_definition, interval_definition, anchor, after):
    """The next slot of whichever definition is set (see the module docstring for the policy)."""
    if cron_definition:
        return next_cron(cron_definition, after)
    return next_interval(interval_definition, anchor, after)


def following_slot(cron_definition, interval_definition, anchor, slot, now, grace):
    """The slot after ``slot``; when it is more than ``grace`` overdue, the first slot after ``now``."""
    following = next_slot(cron_definition, interval_definition, anchor, after=slot)
    if following is not None and following < now - timedelta(seconds=grace):
        following = next_slot(cron_definition, interval_definition, anchor, after=now)
    return following
