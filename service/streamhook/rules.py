"""Rules: which image stream tag a push maps to. Pure functions, first matching rule wins.

A rule matches when its registry equals the push's registry, its ``repository`` glob
matches the whole repository path and one of its ``tags`` globs matches the tag. Globs are
``fnmatch``-style and case-sensitive; ``*`` also matches ``/`` (``team/*`` matches
``team/a/b``). The first matching rule decides: if its rendered target is invalid or its
namespace is not allowed, the push is refused, and later rules are not consulted — a push is
never mapped somewhere only because a narrower rule failed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from streamhook.config import RuleConfig
from streamhook.events import PushEvent, Target
from streamhook.reference import name_problem


@dataclass(frozen=True, slots=True)
class Decision:
    """``target`` when the push maps; otherwise ``reason`` says why not (a metrics label)."""

    target: Target | None
    reason: str
    rule_index: int | None = None
    detail: str = ""


def template_values(repository: str, tag: str) -> dict[str, str]:
    segments = repository.split("/")
    return {"repository": repository, "name": segments[-1], "project": segments[0], "tag": tag}


def render(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def _matches(rule: RuleConfig, event: PushEvent) -> bool:
    return (
        rule.registry == event.registry
        and fnmatchcase(event.repository, rule.repository)
        and any(fnmatchcase(event.tag, pattern) for pattern in rule.tags)
    )


def target_problem(target: Target) -> str | None:
    """Why ``target`` is not a valid namespace / image stream / tag, or None."""
    for field, value in (
        ("namespace", target.namespace),
        ("imageStream", target.image_stream),
        ("tag", target.tag),
    ):
        problem = name_problem(field, value)
        if problem:
            return problem
    return None


def decide(rules: Sequence[RuleConfig], event: PushEvent) -> Decision:
    for index, rule in enumerate(rules):
        if not _matches(rule, event):
            continue
        values = template_values(event.repository, event.tag)
        namespace = render(rule.namespace, values)
        stream = render(rule.image_stream, values)
        tag = render(rule.tag, values)
        target = Target(namespace, stream, tag)
        problem = target_problem(target)
        if problem:
            return Decision(None, "invalid-target", index, problem)
        if not any(fnmatchcase(namespace, glob) for glob in rule.effective_allowed_namespaces):
            return Decision(
                None,
                "namespace-not-allowed",
                index,
                f"namespace {namespace!r} is not in allowedNamespaces",
            )
        return Decision(target, "matched", index)
    return Decision(None, "no-matching-rule")
