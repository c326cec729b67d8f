from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from streamhook.config import ConfigError, effective_config, load_settings, parse_settings

BASE = {
    "registries": [{"name": "local", "url": "http://127.0.0.1:5000"}],
    "webhooks": [
        {
            "name": "local",
            "format": "distribution",
            "registry": "local",
            "auth": {"bearerToken": "s3cret-token"},
        }
    ],
    "rules": [{"registry": "local", "repository": "demo/*", "namespace": "demo"}],
}


def problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data)
    return caught.value.problems


def with_(path: str, value: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    node = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    node[keys[-1]] = value
    return data


def test_defaults_match_the_design_contract() -> None:
    s = parse_settings(BASE)
    assert s.server.listen == "0.0.0.0:8080"
    assert s.openshift.mode == "cluster"
    assert s.openshift.kubeconfig is None
    assert s.openshift.dry_run_output == "-"
    assert s.openshift.create_image_streams is True
    assert s.openshift.manifest_lists == "preserve"
    assert s.server.max_body_bytes == 1024 * 1024
    assert s.rules[0].tags == ["*"]
    assert s.rules[0].image_stream == "{name}" and s.rules[0].tag == "{tag}"
    assert s.registries[0].effective_pull_host == "127.0.0.1:5000"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("openshift.bogus", 1, "openshift.bogus: unknown key"),
        ("openshift.mode", "live", "openshift.mode: Input should be 'cluster' or 'dry-run'"),
        ("openshift.manifestLists", "all", "openshift.manifestLists:"),
        ("server.listen", "8080", "server.listen: must be HOST:PORT"),
        ("registries.0.url", "ftp://x", "registries[0].url: must be an http"),
        ("registries.0.url", "http://h/v2", "registries[0].url: must not have a path"),
        ("registries.0.name", "Bad Name", "registries[0].name:"),
        ("webhooks.0.format", "svn", "webhooks[0].format:"),
        ("webhooks.0.registry", "nope", "webhooks[0].registry: no registry named 'nope'"),
        ("webhooks.0.auth", {}, "webhooks[0].auth: webhook auth is required"),
        ("webhooks.0.auth", {"bearerToken": "a", "none": True}, "choose one auth kind"),
        ("webhooks.0.auth", {"bearerToken": ""}, "secrets must not be empty"),
        ("rules.0.registry", "nope", "rules[0].registry: no registry named"),
        ("rules.0.namespace", "{team}", "rules[0].namespace: unknown template field"),
        (
            "rules.0.namespace",
            "{project}",
            "rules[0]: a templated namespace needs allowedNamespaces",
        ),
        ("rules.0.tags", [], "rules[0].tags: must list at least one"),
        ("rules.0.colour", "red", "rules[0].colour: unknown key"),
        ("registries.0.auth", {"username": "u"}, "username and password"),
        ("registries.0.caFile", "/does/not/exist", "registries[0].caFile: file"),
        ("registries.0.pullHost", "https://Reg.example/", "registries[0].pullHost: 'https://"),
        ("registries.0.pullHost", "Reg.example", "registries[0].pullHost: 'Reg.example' must"),
        ("registries.0.hosts", ["ok.example", "a/b"], "registries[0].hosts: 'a/b' must"),
        ("rules.0.namespace", "Demo_X", "rules[0].namespace: namespace 'Demo_X' is not"),
        ("rules.0.imageStream", "Bad_Name", "rules[0].imageStream: imageStream 'Bad_Name'"),
        ("rules.0.tag", "bad tag!", "rules[0].tag: tag 'bad tag!' is not a valid name"),
        ("rules.0.allowedNamespaces", ["other"], "rules[0]: namespace 'demo' is not in its"),
        ("openshift.kubeconfig", "/no/such/kubeconfig", "openshift.kubeconfig: file"),
    ],
)
def test_errors_name_the_key(path: str, value: object, expected: str) -> None:
    found = problems(with_(path, value))
    assert any(p.startswith(expected) or expected in p for p in found), found


def test_secrets_from_files_and_masked_output(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("file-token\n")
    password = tmp_path / "pw"
    password.write_text("registry-pass")
    data = with_("webhooks.0.auth", {"bearerTokenFile": str(token)})
    data["registries"][0]["auth"] = {"username": "bot", "passwordFile": str(password)}
    settings = parse_settings(data)
    assert settings.webhooks[0].auth.bearer_token is not None
    assert settings.webhooks[0].auth.bearer_token.get_secret_value() == "file-token"
    printed = yaml.safe_dump(effective_config(settings))
    assert "file-token" not in printed and "registry-pass" not in printed
    # Secrets read from files show as their paths, so the output loads again unchanged.
    assert parse_settings(yaml.safe_load(printed)) == settings


def test_inline_secrets_are_masked() -> None:
    printed = yaml.safe_dump(effective_config(parse_settings(BASE)))
    assert "s3cret-token" not in printed
    assert "bearerToken: '**********'" in printed


def test_secret_file_missing_and_both_forms(tmp_path: Path) -> None:
    assert any(
        "webhooks[0].auth: bearerTokenFile: cannot read secret file" in p
        for p in problems(with_("webhooks.0.auth", {"bearerTokenFile": str(tmp_path / "no")}))
    )
    assert any(
        "not both" in p
        for p in problems(
            with_("webhooks.0.auth", {"bearerToken": "a", "bearerTokenFile": str(tmp_path)})
        )
    )


def test_duplicate_names_are_errors() -> None:
    data = with_("registries", BASE["registries"] * 2)
    assert any("duplicate registry name" in p for p in problems(data))


def test_load_settings_reports_unreadable_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("server: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_settings(scalar)


def test_example_config_is_the_embedded_default() -> None:
    root = Path(__file__).parents[2]
    example = root / "examples" / "local.yaml"
    embedded = root / "service" / "streamhook" / "defaults" / "local.yaml"
    assert example.read_text() == embedded.read_text()
    settings = load_settings(example)
    assert settings.openshift.mode == "dry-run"
