"""E-mail and IP addresses."""

from __future__ import annotations

import ipaddress

from piifactory.rules.recognizers.base import Pattern, PatternRecognizer

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


class EmailRecognizer(PatternRecognizer):
    """ASCII e-mail addresses; the look-behind keeps CJK text before the local part out."""

    entity_type = "EMAIL"
    patterns = (
        Pattern(
            "email",
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@"
            + _LABEL
            + r"(?:\."
            + _LABEL
            + r")*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])",
            0.8,
        ),
    )
    context = ("邮箱", "邮件", "email", "mail")

    def validate(self, value: str) -> bool:
        local = value.split("@", 1)[0]
        return not (local.startswith(".") or local.endswith(".") or ".." in local)


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"


class IpRecognizer(PatternRecognizer):
    """IPv4 dotted quads (not part of a longer dotted number) and IPv6 addresses, both checked
    with :mod:`ipaddress`, which also rejects times like 12:30:45."""

    entity_type = "IP"
    patterns = (
        Pattern("ipv4", rf"(?<![0-9A-Za-z.]){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9]|\.[0-9])", 0.6),
        Pattern(
            "ipv6",
            r"(?<![0-9A-Za-z:.])(?=[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:)[0-9A-Fa-f:]*[0-9A-Fa-f]"
            r"(?:\.[0-9]{1,3}){0,3}(?![0-9A-Za-z:])",
            0.8,
        ),
    )
    context = ("ip", "服务器", "主机", "登录", "访问", "地址", "server", "host")

    def validate(self, value: str) -> bool:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return False
        return True
