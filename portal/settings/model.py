"""The settings model: the declarations (`fields`, `fields_running`), how a variable's text
becomes a value, the checks (`checks`) and what is worked out from the rest (`derived`).

Defaults give a working development portal with no setup: a SQLite file, the built-in identity
provider and the sample products. The settings reference (docs/reference/settings.md) and
`.env.example` are generated from the declarations (`portal settings reference --write`), so
neither can drift from what the portal reads. Field names are the Python names; the environment
variable of each is its alias (`auth0_management_domain` is `AUTH0_MANAGEMENT_DOMAIN`,
`blocked_paths` is `PORTAL_BLOCK`), and either may be given.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from auth.product_paths import parse_blocks
from portal.settings import values
from portal.settings.checks import check_agreement, check_production, check_sign_in
from portal.settings.derived import DEFAULT_BASE_URL, Derived
from portal.settings.fields import AccessSettings
from portal.settings.fields_running import RunningSettings

#: Blank means unset for every setting but these, where blank is a value of its own.
BLANK_IS_A_VALUE = frozenset({"PORTAL_LOGIN_RATE_LIMIT", "login_rate_limit"})


class Settings(Derived, RunningSettings, AccessSettings):
    """The portal's settings: from the environment and, in development, a `.env` file."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """`Settings(...)` holds what it is given, whatever the machine's environment or `.env`
        (code and tests build the settings they mean); `load_settings()` reads the environment."""
        return (init_settings,)

    @classmethod
    def env_name(cls, field: str) -> str:
        return cls.model_fields[field].alias or field

    def random_secrets(self) -> list[tuple[str, str]]:
        """(variable, value) of every setting that must hold a random secret."""
        return [
            (info.alias or name, getattr(self, name))
            for name, info in type(self).model_fields.items()
            if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("random")
        ]

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """Values are stripped, and a blank one is unset, as an env file's `NAME=` reads."""
        if not isinstance(data, dict):
            return data
        kept = {}
        for key, value in data.items():
            if isinstance(value, str):
                value = value.strip()
                if not value and key not in BLANK_IS_A_VALUE:
                    continue
            kept[key] = value
        return kept

    @field_validator("apps_patterns", mode="before")
    @classmethod
    def _words(cls, value: Any) -> Any:
        return values.words(value) if isinstance(value, str) else value

    @field_validator("trusted_hosts", "websocket_origins", mode="before")
    @classmethod
    def _spaced(cls, value: Any, info: ValidationInfo) -> Any:
        found = tuple(value.split()) if isinstance(value, str) else value
        if info.field_name == "websocket_origins":
            return tuple(origin.rstrip("/") for origin in found)
        return found

    @field_validator("metrics_allow", "forward_auth_sources", mode="before")
    @classmethod
    def _networks(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            return values.networks(cls.env_name(str(info.field_name)), value)
        return value

    @field_validator("identity_header_names", mode="before")
    @classmethod
    def _header_patterns(cls, value: Any) -> Any:
        if isinstance(value, str):
            return values.header_patterns("PORTAL_IDENTITY_HEADERS", value)
        return value

    @field_validator("tier_roles", mode="before")
    @classmethod
    def _tier_roles(cls, value: Any) -> Any:
        return values.tier_roles("PORTAL_TIER_ROLES", value) if isinstance(value, str) else value

    @field_validator("blocked_paths", mode="before")
    @classmethod
    def _blocks(cls, value: Any) -> Any:
        return parse_blocks(value) if isinstance(value, str) else value

    @field_validator("identity_key")
    @classmethod
    def _identity_key(cls, value: str) -> str:
        return values.identity_key("PORTAL_IDENTITY_KEY", value)

    @field_validator("auth0_domain", "auth0_management_domain")
    @classmethod
    def _auth0_host(cls, value: str, info: ValidationInfo) -> str:
        return values.auth0_host(cls.env_name(str(info.field_name)), value)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        base_url = value.rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
            raise ValueError(
                f"PORTAL_BASE_URL must be like https://portal.example.org, got {base_url!r}"
            )
        return base_url

    @field_validator("host_domain")
    @classmethod
    def _host_domain(cls, value: str) -> str:
        domain = value.lower().rstrip("/")
        if "/" in domain or " " in domain or domain.startswith(".") or "." not in domain + ".":
            raise ValueError(
                f"PORTAL_HOST_DOMAIN must be a host name like portal.example.org, got {domain!r}"
            )
        return domain

    @field_validator("oidc_scopes")
    @classmethod
    def _sign_in_scopes(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError(f"OIDC_SCOPES must include openid, got {value!r}")
        return value

    @field_validator("admin_scope")
    @classmethod
    def _admin_scope(cls, value: str) -> str:
        if len(value.split()) != 1:
            raise ValueError(f"PORTAL_ADMIN_SCOPE must be one scope, got {value!r}")
        return value

    @model_validator(mode="after")
    def _checked_and_completed(self) -> Settings:
        """The settings that must agree, production's refusals, then the defaults worked out
        from other settings (the base URL in host mode, the instance folder's files).

        The worked-out values are written into the validated instance: pydantic keeps the
        instance `__init__` validates, so a copy could not take its place."""
        scheme = urlsplit(self.base_url or DEFAULT_BASE_URL).scheme
        check_agreement(self, base_url_given=bool(self.base_url))
        if self.production:
            check_production(self, scheme=scheme, issuer=self.configured_issuer)
        check_sign_in(self)
        instance = self.instance_path
        if self.host_domain and not self.base_url:
            base_url = f"{scheme}://{self.host_domain}"
        else:
            base_url = self.base_url or DEFAULT_BASE_URL
        recheck = self.apps_recheck_seconds
        self.__dict__.update(
            base_url=base_url,
            secret_key=self.secret_key or values.development_secret(instance),
            database_url=self.database_url or f"sqlite:///{instance / 'portal.sqlite3'}",
            dev_idp_database_url=self.dev_idp_database_url
            or f"sqlite:///{instance / 'devidp.sqlite3'}",
            apps_recheck_seconds=(10.0 if self.production else 1.0) if recheck is None else recheck,
        )
        return self
