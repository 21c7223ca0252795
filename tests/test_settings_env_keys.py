"""Environment variables name slug keys with ``_`` for ``-``, and only those."""

from __future__ import annotations

from yamasat.settings import load_settings

DEPLOYMENT = "YAMASAT_ORCHESTRATION__DEPLOYMENTS__S1_FLOOD_DAILY"


def test_a_deployment_parameter_keeps_its_underscores() -> None:
    settings = load_settings(env={f"{DEPLOYMENT}__PARAMETERS__LOOKBACK_DAYS": "5"})
    params = settings.orchestration.deployments["s1-flood-daily"].parameters
    assert params["lookback_days"] == 5
    assert "lookback-days" not in params


def test_slug_keys_take_dashes_for_underscores() -> None:
    settings = load_settings(env={f"{DEPLOYMENT}__CONCURRENCY_LIMIT": "2"})
    assert settings.orchestration.deployments["s1-flood-daily"].concurrency_limit == 2
    defaults = load_settings(env={}).orchestration.deployments
    assert set(settings.orchestration.deployments) == set(defaults)
