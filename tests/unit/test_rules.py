from __future__ import annotations

import pytest

from streamhook.config import RuleConfig, parse_settings
from streamhook.events import PushEvent, Target
from streamhook.rules import decide


def rules(*specs: dict) -> list[RuleConfig]:
    settings = parse_settings(
        {
            "registries": [{"name": "r", "url": "http://127.0.0.1:5000"}],
            "rules": [{"registry": "r", **spec} for spec in specs],
        }
    )
    return settings.rules


def push(repository: str, tag: str = "v1", registry: str = "r") -> PushEvent:
    return PushEvent(webhook="w", registry=registry, repository=repository, tag=tag)


def test_templates_render_from_repository_and_tag() -> None:
    rs = rules(
        {
            "repository": "team-*/**",
            "namespace": "{project}",
            "imageStream": "{name}",
            "tag": "{tag}",
            "allowedNamespaces": ["team-*"],
        }
    )
    decision = decide(rs, push("team-a/group/app", "1.4"))
    assert decision.target == Target("team-a", "app", "1.4")
    assert decision.rule_index == 0


def test_star_matches_across_slashes_and_tags_filter() -> None:
    rs = rules({"repository": "demo/*", "tags": ["v*", "latest"], "namespace": "demo"})
    assert decide(rs, push("demo/a/b", "v2")).target == Target("demo", "b", "v2")
    assert decide(rs, push("demo/a", "latest")).target == Target("demo", "a", "latest")
    no = decide(rs, push("demo/a", "dev"))
    assert (no.target, no.reason) == (None, "no-matching-rule")


def test_first_matching_rule_wins() -> None:
    rs = rules(
        {"repository": "demo/special", "namespace": "special"},
        {"repository": "demo/*", "namespace": "demo"},
    )
    assert decide(rs, push("demo/special")).target == Target("special", "special", "v1")
    assert decide(rs, push("demo/other")).target == Target("demo", "other", "v1")


def test_other_registry_does_not_match() -> None:
    rs = rules({"repository": "*", "namespace": "demo"})
    assert decide(rs, push("demo/a", registry="elsewhere")).reason == "no-matching-rule"


def test_templated_namespace_outside_allowed_is_refused_not_passed_on() -> None:
    rs = rules(
        {"repository": "*/*", "namespace": "{project}", "allowedNamespaces": ["team-*"]},
        {"repository": "*", "namespace": "fallback"},
    )
    decision = decide(rs, push("kube-system/app"))
    assert decision.target is None
    assert decision.reason == "namespace-not-allowed"
    assert "kube-system" in decision.detail


@pytest.mark.parametrize(
    ("spec", "repository", "tag"),
    [
        ({"namespace": "{repository}", "allowedNamespaces": ["*"]}, "a/b", "v1"),
        ({"namespace": "x", "imageStream": "{repository}"}, "a/b", "v1"),
        ({"namespace": "x", "tag": "{repository}"}, "a/b", "v1"),
        ({"namespace": "{project}", "allowedNamespaces": ["*"]}, "a" * 70, "v1"),
        ({"namespace": "x", "tag": "pre-{tag}"}, "a", "v" * 128),
    ],
)
def test_invalid_rendered_names_are_refused(spec: dict, repository: str, tag: str) -> None:
    rs = rules({"repository": "**", **spec})
    decision = decide(rs, push(repository, tag))
    assert (decision.target, decision.reason) == (None, "invalid-target")


def test_fixed_namespace_is_allowed_by_default() -> None:
    (rule,) = rules({"repository": "*", "namespace": "demo"})
    assert rule.effective_allowed_namespaces == ["demo"]
