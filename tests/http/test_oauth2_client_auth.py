"""OAuth2 client authentication: private_key_jwt (Okta service apps), client_secret_post
(Graph, CrowdStrike), and an invalid_client answer that names the method to try instead —
against the simulator's token endpoints, which require what the vendors require."""

from __future__ import annotations

import pytest

from collectorkit import AuthenticationError, CollectorClient, connector_blueprint
from collectorkit._errors import ConfigError
from collectorkit.http import OAuth2ClientCredentialsHandler
from collectorkit.simulator import SimulatorServer, build_config


async def _first_page(blueprint: object) -> int:
    async with CollectorClient(blueprint) as client:  # type: ignore[arg-type]
        async for page in client.iter_pages():
            return len(page.events)
    return 0


async def test_private_key_jwt_gets_an_okta_token_and_a_secret_does_not() -> None:
    async with SimulatorServer(build_config(seed=1, profiles=["okta"], records=20)) as sim:
        creds = sim.credentials("okta")
        jwt_auth = {
            "type": "oauth2",
            "client_id": creds["client_id"],
            "private_key": creds["private_key"],
        }
        blueprint = connector_blueprint("okta", base_url=sim.url("okta"), auth=jwt_auth)
        assert isinstance(blueprint.auth_handler, OAuth2ClientCredentialsHandler)
        assert blueprint.auth_handler.auth_method == "private_key_jwt"
        assert await _first_page(blueprint) == 20
        assert creds["private_key"] not in repr(blueprint.auth_handler)

        secret_auth = {
            "type": "oauth2",
            "client_id": creds["client_id"],
            "client_secret": "s3cr3t-value",
            "auth_method": "client_secret_basic",
        }
        refused = connector_blueprint("okta", base_url=sim.url("okta"), auth=secret_auth)
        with pytest.raises(AuthenticationError) as caught:
            await _first_page(refused)
        message = str(caught.value)
        assert "'client_secret_basic' was refused" in message
        assert "'private_key_jwt'" in message
        assert "s3cr3t-value" not in message


async def test_graph_refuses_basic_and_the_error_says_to_post_the_secret() -> None:
    async with SimulatorServer(build_config(seed=1, profiles=["graph"], records=10)) as sim:
        creds = sim.credentials("graph")
        auth = {
            "type": "oauth2",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "auth_method": "client_secret_basic",
        }
        options = {"tenant": creds["tenant"], "login_url": sim.url("graph")}
        basic = connector_blueprint(
            "msgraph_security_alerts", base_url=sim.url("graph"), auth=auth, options=options
        )
        with pytest.raises(AuthenticationError, match="'client_secret_post'"):
            await _first_page(basic)
        post = connector_blueprint(
            "msgraph_security_alerts",
            base_url=sim.url("graph"),
            auth={k: v for k, v in auth.items() if k != "auth_method"},
            options=options,
        )
        assert await _first_page(post) == 10


def test_a_private_key_that_cannot_sign_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="private_key: is not an RSA private key"):
        OAuth2ClientCredentialsHandler(
            "https://x.test/token", "client", private_key="-----BEGIN PRIVATE KEY-----\nnope"
        )
    with pytest.raises(ConfigError, match="client_secret"):
        OAuth2ClientCredentialsHandler("https://x.test/token", "client")


def test_the_private_key_and_each_signed_assertion_are_masked_in_logs() -> None:
    from collectorkit.http._redact import redact_text
    from collectorkit.simulator._vendor_okta import private_key_pem

    pem = private_key_pem()
    handler = OAuth2ClientCredentialsHandler(
        "https://x.test/oauth2/v1/token", "client", private_key=pem
    )
    assertion = handler._assertion()
    logged = redact_text(f"client_assertion={assertion} key={pem}")
    assert assertion not in logged
    assert "BEGIN PRIVATE KEY" not in logged or pem not in logged
    assert pem.splitlines()[1] not in logged
