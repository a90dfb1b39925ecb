"""Login endpoints: ``/services/oauth2/token`` and the SOAP partner ``login()``.

Both mint sessions for the integration user. The instance URL handed back is the emulator's
own address as ``https://host:port`` (Salesforce only speaks HTTPS; clients reach a plain-HTTP
emulator through :class:`closedloop.connectors.salesforce.transport.SalesforceHTTP`), unless
the emulator was created with ``instance_url=``.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from flask import Blueprint, Response, jsonify, request

from closedloop.emulators.salesforce.auth import (
    JWT_GRANT,
    OAuthError,
    client_credentials,
    token_signature,
    verify_client,
    verify_jwt,
)
from closedloop.emulators.salesforce.auth import soap_credentials as parse_login

if TYPE_CHECKING:
    from closedloop.emulators.salesforce.emulator import SalesforceEmulator

_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_LOGIN_FAULT = "Invalid username, password, security token; or user locked out."


def instance_url(emu: SalesforceEmulator) -> str:
    """The instance URL given to clients."""
    return emu.options.instance_url or f"https://{request.host}"


def _token_response(emu: SalesforceEmulator) -> Response:
    org = emu.org
    token = emu.sessions.issue(org.org_id, org.api_user_id)
    url = instance_url(emu)
    identity = f"{url}/id/{org.org_id}/{org.api_user_id}"
    issued_at = str(emu.clock.now_ms())
    return jsonify(
        {
            "access_token": token,
            "signature": token_signature(emu.auth.client_secret, identity, issued_at),
            "scope": "api",
            "instance_url": url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
    )


def _oauth(emu: SalesforceEmulator) -> Response:
    grant = request.form.get("grant_type", "")
    settings = emu.auth
    if grant == "client_credentials":
        verify_client(settings, *client_credentials(request))
    elif grant == JWT_GRANT:
        verify_jwt(
            settings, request.form.get("assertion", ""), emu.clock.timestamp(), instance_url(emu)
        )
    elif grant == "password":
        verify_client(settings, *client_credentials(request))
        if not settings.password_flow:
            raise OAuthError("invalid_grant", "authentication failure")
        if not _password_ok(
            emu, request.form.get("username", ""), request.form.get("password", "")
        ):
            raise OAuthError("invalid_grant", "authentication failure")
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    return _token_response(emu)


def _password_ok(
    emu: SalesforceEmulator, username: str, password: str, *, org_scoped: bool = False
) -> bool:
    settings = emu.auth
    if username.lower() != settings.username.lower():
        return False
    with_token = settings.password + settings.security_token
    return hmac.compare_digest(password, with_token) or (
        org_scoped and hmac.compare_digest(password, settings.password)
    )


def _soap_fault(code: str, message: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode>"
        f"<faultstring>{code}: {escape(message)}</faultstring><detail>"
        f'<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:LoginFault>"
        "</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status=500, mimetype="text/xml")


def _soap_login(emu: SalesforceEmulator, version: str) -> Response:
    try:
        username, password, scoped_org = parse_login(request.get_data())
    except ValueError:
        return _soap_fault("INVALID_LOGIN", _LOGIN_FAULT)
    org = emu.org
    org_scoped = scoped_org is not None and scoped_org[:15] == org.org_id[:15]
    if not _password_ok(emu, username, password, org_scoped=org_scoped):
        return _soap_fault("INVALID_LOGIN", _LOGIN_FAULT)
    token = emu.sessions.issue(org.org_id, org.api_user_id)
    url = instance_url(emu)
    seconds = int(emu.auth.session_timeout)
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}" '
        'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{url}/services/Soap/m/{version}/{org.org_id[:15]}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
        f"<serverUrl>{url}/services/Soap/u/{version}/{org.org_id[:15]}</serverUrl>"
        f"<sessionId>{escape(token)}</sessionId><userId>{org.api_user_id}</userId><userInfo>"
        f"<organizationId>{org.org_id}</organizationId><sessionSecondsValid>{seconds}</sessionSecondsValid>"
        f"<userName>{escape(emu.auth.username)}</userName><userId>{org.api_user_id}</userId>"
        "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, mimetype="text/xml")


def login_blueprint(emu: SalesforceEmulator) -> Blueprint:
    """The OAuth and SOAP login routes."""
    blueprint = Blueprint("salesforce_login", __name__)

    @blueprint.post("/services/oauth2/token")
    def token() -> Response:
        try:
            return _oauth(emu)
        except OAuthError as error:
            response = jsonify({"error": error.error, "error_description": error.description})
            response.status_code = error.status
            return response

    @blueprint.post("/services/Soap/u/<version>")
    def soap_login(version: str) -> Response:
        return _soap_login(emu, version)

    return blueprint
