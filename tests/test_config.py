from __future__ import annotations

from pathlib import Path

import pytest

from zapline.config import Settings, load_settings, read_env_file
from zapline.errors import ConfigError

VALID = {
    "APP_URL": "https://zapline.example.com/",
    "UPSTASH_REDIS_REST_URL": "https://eu1-example.upstash.io",
    "UPSTASH_REDIS_REST_TOKEN": "redis-token",
    "QSTASH_TOKEN": "qstash-token",
    "QSTASH_CURRENT_SIGNING_KEY": "sig_current",
    "QSTASH_NEXT_SIGNING_KEY": "sig_next",
    "CENTRIFUGO_API_URL": "https://rt.example.com/api",
    "CENTRIFUGO_API_KEY": "api-key",
    "CENTRIFUGO_TOKEN_HMAC_SECRET": "hmac",
}


def test_valid_settings_are_normalised() -> None:
    settings = load_settings(VALID, env_file=None)
    assert settings.app_url == "https://zapline.example.com"  # trailing slash dropped: URLs are joined
    assert settings.qstash_url == "https://qstash.upstash.io"
    assert settings.http_timeout == 10.0


def test_missing_setting_names_the_variable_and_what_it_expects() -> None:
    env = {k: v for k, v in VALID.items() if k != "UPSTASH_REDIS_REST_TOKEN"}
    with pytest.raises(ConfigError) as info:
        load_settings(env, env_file=None)
    assert "UPSTASH_REDIS_REST_TOKEN: missing (expected: Upstash Redis REST token)" in str(info.value)


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("APP_URL", "zapline.example.com", "http:// or https:// URL"),
        ("ZAPLINE_HTTP_TIMEOUT", "soon", "valid number"),
        ("ZAPLINE_HTTP_TIMEOUT", "0", "greater than 0"),
        ("CENTRIFUGO_WS_URL", "http://rt.example.com", "ws:// or wss://"),
        ("ZAPLINE_LOG_LEVEL", "LOUD", "pattern"),
    ],
)
def test_malformed_setting_is_named(name: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({**VALID, name: value}, env_file=None)
    message = str(info.value)
    assert f"{name}: " in message and needle in message


def test_rejected_values_are_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({**VALID, "APP_URL": "s3cr3t-not-a-url"}, env_file=None)
    assert "s3cr3t" not in str(info.value)


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# local settings\n"
        + "\n".join(f"{k}={v}" for k, v in VALID.items())
        + "\nexport ZAPLINE_HTTP_TIMEOUT='3.5'\nZAPLINE_LOG_LEVEL=DEBUG  # chatty\n"
    )
    assert read_env_file(env_file)["ZAPLINE_HTTP_TIMEOUT"] == "3.5"
    settings = load_settings({"ZAPLINE_LOG_LEVEL": "WARNING"}, env_file=env_file)
    assert settings.http_timeout == 3.5
    assert settings.log_level == "WARNING"


def test_every_setting_is_documented_in_env_example() -> None:
    documented = read_env_file(Path(__file__).parents[1] / ".env.example")
    example_text = (Path(__file__).parents[1] / ".env.example").read_text()
    for field in Settings.model_fields.values():
        assert field.alias in documented or f"# {field.alias}=" in example_text, field.alias
