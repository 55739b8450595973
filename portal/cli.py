"""The `portal` command: serve, inspect and scaffold products, manage the database."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy.exc import SQLAlchemyError

from auth.product_kinds import ProductKind
from auth.product_paths import BlockPattern, blocks_for
from auth.tiers import TIER_NAMES, Tier
from db.engine import Database
from db.product_moves import record_move
from portal.cli_settings import settings
from portal.cli_users import users
from portal.settings import DEFAULT_BASE_URL, DEV_CLIENT_ID, ConfigError, Settings, load_settings
from portal.startup import prepare_instance

if TYPE_CHECKING:
    from portal.products.discovery import Product
    from portal.products.process_state import ProcessState


def _split_product(value: str) -> tuple[Tier, str]:
    tier, _, name = value.partition("/")
    if not name or "/" in name:
        raise click.BadParameter(f"expected <tier>/<name>, e.g. devel/disagg; got {value!r}")
    try:
        return Tier.parse(tier), name
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _settings(defaults: dict[str, str] | None = None) -> Settings:
    try:
        return load_settings(defaults=defaults)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@click.group()
def main() -> None:
    """One sign-in, many products."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the portal with the development server (gunicorn serves it in production)."""
    from werkzeug.serving import run_simple

    from portal.application import create_app
    from portal.products.supervision import start_supervisor

    settings = _settings()
    if not settings.host_domain:  # unless PORTAL_BASE_URL says otherwise, where this serves
        public_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
        settings = _settings(defaults={"PORTAL_BASE_URL": f"http://{public_host}:{port}"})
    supervisor = start_supervisor(settings)  # first: the portal's app reads where it writes
    try:
        try:
            application = create_app(settings)
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"Portal on {settings.base_url}/ ({settings.environment})")
        run_simple(host, port, application, threaded=True, use_reloader=False)
    finally:
        supervisor.stop()


@main.command("apps")
def list_apps() -> None:
    """List discovered products: tier, name, mount path and status.

    A product the portal runs as a process shows its state in the portal running on this
    instance folder (starting, up, unhealthy, restarting, failed), or "not running" when none
    runs, and how its health is watched while it runs (`[liveness]` in its product.toml)."""
    from portal.products.discovery import discover

    settings = _settings()
    found = discover(settings.apps_dir, settings.apps_patterns)
    processes = _process_states(settings)
    rows = [("TIER", "NAME", "MOUNT", "STATUS")]
    rows += [
        (p.info.tier.value, p.info.name, p.mount_path + "/", _served_status(p, processes))
        for p in found.products
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    for line in path_rules(found.products, settings.blocked_paths):
        click.echo(line)
    for product in found.products:
        if product.info.kind is ProductKind.PROCESS:
            click.echo(f"{product.info.key}: liveness {product.info.liveness.describe()}")
    for product in found.products:
        if product.error:
            click.echo(f"{product.info.key}: {product.error}", err=True)
        state = processes.get(product.info.key)
        if state is not None and state.state == "failed":
            click.echo(f"{product.info.key}: failed: {state.detail}", err=True)
            for line in state.output.splitlines():
                click.echo(f"  {line}", err=True)
    keys = [p.info.key for p in found.products]
    for block in settings.blocked_paths:
        if not any(block.applies_to(key) for key in keys):
            click.echo(f"PORTAL_BLOCK entry {block.text} matches no product", err=True)
    for name in found.ignored:
        click.echo(f"apps/{name}: not a tier ({', '.join(TIER_NAMES)}); not mounted", err=True)


def path_rules(products: Iterable[Product], blocks: Iterable[BlockPattern]) -> list[str]:
    """What `portal apps` says about paths inside products: stricter tiers and removed paths."""
    lines = []
    for product in products:
        info = product.info
        for rule in info.stricter_paths:
            if rule.tier.rank > info.tier.rank:
                lines.append(f"{info.key}: {rule.prefix}/ needs {rule.tier.value}")
        for block in blocks_for(info.key, blocks):
            lines.append(f"{info.key}: {block.text} removed (PORTAL_BLOCK)")
    return lines


def _process_states(settings: Settings) -> dict[str, ProcessState]:
    """The states the supervisors running on this instance folder wrote, by `tier/name`."""
    from portal.products.process_files import StateReader, running_state_folders

    states: dict[str, ProcessState] = {}
    for folder in running_state_folders(settings.instance_path):
        states = StateReader(folder).all() | states
    return states


def _served_status(product: Product, processes: dict[str, ProcessState]) -> str:
    """`loaded`, `broken` or `excluded`; for an upstream, how its server answers right now; for
    a process, its state in the portal running on this instance folder."""
    from portal.products.discovery import Status
    from portal.products.upstream_health import check_once

    kind = product.info.kind
    if product.status is not Status.LOADED or kind is ProductKind.WSGI:
        return product.status.value
    if kind is ProductKind.PROCESS:
        state = processes.get(product.info.key)
        return f"{state.state.value if state is not None else 'not running'} (process)"
    state = check_once(product.info)
    if state.detail:
        click.echo(f"{product.info.key}: {product.info.upstream}: {state.detail}", err=True)
    return f"{state.state.value} (upstream)"


@main.command("new-app")
@click.argument("product")
def new_app(product: str) -> None:
    """Scaffold `apps/<tier>/<name>/`: an AuthFlask app with one page and its own test."""
    from portal.products.scaffold import create_product

    tier, name = _split_product(product)
    try:
        folder = create_product(_settings().apps_dir, tier, name)
    except (ValueError, FileExistsError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Created {folder}. It is served at /{tier.value}/{name}/ (a running portal picks it up "
        f"at once). Run its test: make test-app APP={tier.value}/{name}"
    )


@main.command()
@click.argument("product")
@click.argument("new_tier", type=click.Choice(TIER_NAMES))
def promote(product: str, new_tier: str) -> None:
    """Move `apps/<tier>/<name>` to another tier (refuses when the target exists)."""
    from portal.products.scaffold import promote_product

    tier, name = _split_product(product)
    settings = _settings()
    source = settings.apps_dir / tier.value / name
    try:
        folder = promote_product(settings.apps_dir, tier, name, Tier.parse(new_tier))
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from None
    _record_move(settings, f"{tier.value}/{name}", f"{new_tier}/{name}")
    click.echo(
        f"Moved {source} to {folder}. It is served at /{new_tier}/{name}/ (a running portal "
        f"picks the move up at once), and /{tier.value}/{name}/ redirects there."
    )


def _record_move(settings: Settings, old: str, new: str) -> None:
    """Record the move where every portal node finds it, even those that never saw the folder
    move (development brings its own database up to date first, as `portal serve` does)."""
    database = Database(settings.database_url)
    try:
        if not settings.production:
            prepare_instance(settings)
        record_move(database, old, new)
    except (SQLAlchemyError, ConfigError) as error:
        click.echo(
            f"Warning: the move is not recorded in the database ({error}), so /{old}/ redirects "
            "only on portals that saw the folder move.",
            err=True,
        )
    finally:
        database.dispose()


@main.group()
def db() -> None:
    """The portal's database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply pending Alembic migrations."""
    from db.migrate import upgrade

    settings = _settings()
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    upgrade(settings.database_url, revision)
    click.echo(f"Database at {revision}.")


@db.command("purge-sessions")
@click.option("--days", default=7, show_default=True, type=click.IntRange(min=0))
def purge_sessions(days: int) -> None:
    """Delete sessions that ended (expired or signed out) more than DAYS days ago."""
    from datetime import timedelta

    from portal.products.discovery import Discovery
    from portal.services import Services

    services = Services.build(_settings(), Discovery([], []))
    removed = services.store.purge(older_than=timedelta(days=days))
    click.echo(f"Removed {removed} ended sessions.")


@main.command()
@click.argument("user", default="devel")
@click.option(
    "--scope",
    help="Scopes to ask for. Default: openid profile email, and the admin scope "
    "(PORTAL_ADMIN_SCOPE) for a user with the admin role.",
)
def token(user: str, scope: str | None) -> None:
    """Print an access token for a demo user (a tier name) or any development provider user.

    Development only: it asks the built-in identity provider directly, as a sign-in would. The
    provider grants the admin scope, which the admin console's API wants, to admins alone.
    """
    from auth.tier_roles import DEFAULT_TIER_ROLES
    from devidp import DEMO_USERS, create_dev_idp
    from portal.development import dev_idp_settings

    settings = _settings()
    if not settings.uses_dev_idp:
        raise click.ClickException("`portal token` works with the development identity provider")
    emails = {DEFAULT_TIER_ROLES.tier_of(u.roles).value: u.email for u in DEMO_USERS}
    email = emails.get(user, user)
    idp = create_dev_idp(
        dev_idp_settings(settings, issuer=settings.issuer, portal_url=settings.base_url)
    ).extensions["devidp"]
    try:
        if scope is None:
            admin = settings.tier_roles.tier_of(idp.active_user(email).roles) is Tier.ADMIN
            scope = "openid profile email" + (f" {settings.admin_scope}" if admin else "")
        click.echo(idp.access_token_for(email, scope))
    except LookupError as error:
        raise click.ClickException(str(error)) from None


@main.command("dev-idp")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=int)
@click.option("--portal-url", default=DEFAULT_BASE_URL, show_default=True)
def dev_idp(host: str, port: int, portal_url: str) -> None:
    """Run the development identity provider on its own port."""
    from werkzeug.serving import run_simple

    from devidp import DevIdpRefused, create_dev_idp
    from portal.development import dev_idp_settings

    settings = _settings()
    issuer = f"http://{host}:{port}"
    try:
        idp = create_dev_idp(dev_idp_settings(settings, issuer=issuer, portal_url=portal_url))
    except DevIdpRefused as error:
        raise click.ClickException(str(error)) from None
    click.echo("Point a portal that shares this instance folder at it with:")
    click.echo(f"  OIDC_ISSUER={issuer} OIDC_CLIENT_ID={DEV_CLIENT_ID} portal serve")
    run_simple(host, port, idp, threaded=True, use_reloader=False)


main.add_command(users)
main.add_command(settings)


if __name__ == "__main__":
    sys.exit(main())
