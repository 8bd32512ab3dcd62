# pragma version ~=0.4.3
"""
@title Alarms: the one event operators page on
@custom:contract-name alarms
@license Apache-2.0
@notice Raised on every break-glass request, every drift report, every
        principal reaching its unlock rate limit, every late removal,
        every leaver report and every access-review item that lapsed under
        FLAG, so a single log filter (by topic) catches them all. PamReviews
        logs its own.
"""


# Alarm kind: a break-glass elevation was requested.
ALARM_BREAK_GLASS: public(constant(uint8)) = 1
# Alarm kind: the oracle found a privileged member no grant explains (or removed one).
ALARM_DRIFT: public(constant(uint8)) = 2
# Alarm kind: a principal used its last self-service unlock of the window
# (a stolen device key racing AD's lockout policy looks like this).
ALARM_UNLOCK_LIMIT: public(constant(uint8)) = 3
# Alarm kind: a grant has ended but the oracle could not yet take the member out of the group.
ALARM_REMOVAL_LATE: public(constant(uint8)) = 4
# Alarm kind: an oracle reported that an enrolled principal's AD account left
# (disabled, deleted, moved to the leavers OU); target = the reason.
ALARM_LEAVER: public(constant(uint8)) = 5
# Alarm kind: an access-review item was not re-confirmed by its deadline (campaign on_lapse FLAG).
ALARM_REVIEW_LAPSED: public(constant(uint8)) = 6


event Alarm:
    kind: indexed(uint8)
    domain: indexed(bytes32)
    request_id: indexed(uint256)
    target: bytes32
    subject: bytes32
    detail: bytes32
