"""An OpenAPI 3.1 description of a Flask app's JSON routes, written next to the views.

spectree reads the app's own URL map (paths, methods, path parameters) and the pydantic models
each view names for its query, body and answers, so the description follows the code: a route
added without a description is caught by the portal's tests, and one whose answers drift from
its models fails the schemathesis run against a live portal. Views are not rewritten: they keep
their own checks and error messages (every refusal a clear 4xx with `{"error", "message"}`), and
spectree only documents them (`skip_validation`), so describing a route changes no answer:

    api = JsonApi("Reports API", "1.0.0", "What scripts can ask the reports product.")

    @app.get("/api/reports/<report_id>")
    @api.describe(responses={200: Report, 404: ErrorAnswer})
    def report(report_id: str): ...

    api.document("/ea/reports")     # in a request: the OpenAPI document, as a dict

spectree's own routes (its JSON file and the documentation pages, which load scripts from
elsewhere) are never registered: each app serves `document()` itself, to whom it chooses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import SecuritySchemeData, Server

OPENAPI_VERSION = "3.1.0"


class ErrorAnswer(BaseModel):
    """Every refusal of the portal's JSON API: a machine-readable name and a sentence."""

    error: str = Field(description="what went wrong, as a short name: not_found, forbidden, ...")
    message: str = Field(description="a sentence fit to show a person")


class OpenApiDocument(BaseModel, extra="allow"):
    """An OpenAPI 3.1 document, such as this one."""

    openapi: str
    info: dict[str, object]
    paths: dict[str, object]


SECURITY_SCHEMES = (
    SecurityScheme(
        name="session",
        data=SecuritySchemeData(
            type="apiKey",
            name="portal_session",
            field_in="cookie",
            description="The portal's session cookie (`__Host-portal_session` on https).",
        ),
    ),
    SecurityScheme(
        name="bearer",
        data=SecuritySchemeData(
            type="http",
            scheme="bearer",
            bearer_format="JWT",
            description="An access token for the portal's API (`OIDC_AUDIENCE`).",
        ),
    ),
)
"""How a request proves who sends it: the portal's session cookie (browsers, and scripts that signed
in like one), or an access token from the identity provider for the portal's API."""
Security = list[dict[str, list[str]]]
SIGNED_IN: Security = [{"session": []}, {"bearer": []}]
"""The security requirement of a route any signed-in caller may use, or only browsers."""
SESSION_ONLY: Security = [{"session": []}]


class JsonApi:
    """One described API: its title, its models, and the routes that name them."""

    def __init__(
        self,
        title: str,
        version: str,
        description: str,
        *,
        signed_in: Security = SIGNED_IN,
        schemes: Sequence[SecurityScheme] = SECURITY_SCHEMES,
    ) -> None:
        """`signed_in`: how a route proves its caller, unless it says otherwise; `schemes`:
        every way of proving it the routes name."""
        self.signed_in = signed_in
        self._tree = SpecTree(
            "flask",
            mode="strict",
            title=title,
            version=version,
            description=description,
            openapi_version=OPENAPI_VERSION,
            annotations=False,
            page_templates={},
            validation_error_model=ErrorAnswer,
            security_schemes=list(schemes),
            # Components named after the models alone, so the document reads (and diffs) well.
            naming_strategy=lambda model: model.__name__,
            nested_naming_strategy=lambda _parent, child: child,
        )

    def describe(
        self,
        *,
        responses: Mapping[int, type[BaseModel] | None],
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        form: type[BaseModel] | None = None,
        tags: Sequence[str] = (),
        security: Security | None = None,
        public: bool = False,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Describe the decorated view; `responses` maps each status it can answer to its
        model (None for no body); `body` is a JSON body, `form` a form-encoded one. The
        caller proves itself as `security` says (default: the API's `signed_in`), or not at
        all when the route is `public`."""
        if public:
            security = []
        elif security is None:
            security = self.signed_in
        # The portal refuses a request whose address or headers hold a control character before
        # any view runs (400, JSON for API clients), so every operation can give that answer.
        answers = {**responses, 400: responses.get(400, ErrorAnswer)}
        return self._tree.validate(
            query=query,
            json=body,
            form=form,
            resp=Response(**{f"HTTP_{status}": model for status, model in answers.items()}),
            tags=tags,
            security=security or {},
            skip_validation=True,
            # spectree documents a "validation failed" answer for this status; naming one the
            # view lists anyway keeps the document to the answers the view really gives.
            validation_error_status=next(iter(responses)),
        )

    def document(self, server: str = "/") -> dict[str, Any]:
        """The OpenAPI document of the current app's described routes, for an app whose paths
        start at `server` (a product's mount path; `/` for the portal)."""
        return {**self._tree.spec, "servers": [Server(url=server).to_dict(exclude_none=True)]}
