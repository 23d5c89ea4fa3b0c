"""The `flask --app app users …` commands (create a user, list them, set a password),
`flask --app app search reindex` (rebuild the search index) and `flask --app app providers
refresh` (read every provider's model list and cache it).

Part of the web layer (click comes with Flask); calls `app.accounts` through the app's services.
"""

from __future__ import annotations

import sys

import click
from flask import Flask

import conversation_manager as cm
from app import accounts as auth
from responses_client import discovery

WEAK_WORDS = "at least 12 characters, not only white space, and no control characters (such as NUL)"


def read_password() -> str:
    """Read a password: prompted twice on a terminal, else one line of standard input."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True)
        confirm = click.prompt("Repeat the password", hide_input=True)
        if password != confirm:
            raise click.ClickException("the passwords differ")
        return str(password)
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def register_cli(app: Flask) -> None:
    """Add the `users` command group to `app`."""
    users = click.Group("users", help="Manage user accounts.")

    @users.command("create")
    @click.argument("name")
    def create(name: str) -> None:
        """Create a user; the password comes from standard input (or a prompt on a terminal)."""
        password = read_password()
        try:
            app.extensions["accounts"].create_user(name, password)
        except auth.InvalidUsername:
            raise click.ClickException(
                "invalid user name: use 3-32 characters of a-z, 0-9, _ and -, "
                "starting with a letter or digit"
            ) from None
        except auth.NameTaken:
            raise click.ClickException(f"user {name!r} exists already") from None
        except auth.WeakPassword:
            raise click.ClickException(f"password too short or weak: {WEAK_WORDS}") from None
        click.echo(f"created user {name}")

    @users.command("list")
    def list_users() -> None:
        """List the user names."""
        for name in app.extensions["accounts"].list_users():
            click.echo(name)

    @users.command("set-password")
    @click.argument("name")
    def set_password(name: str) -> None:
        """Set a user's password (from standard input or a prompt) and end their sessions."""
        password = read_password()
        try:
            app.extensions["accounts"].reset_password(name, password)
        except auth.WeakPassword:
            raise click.ClickException(f"password too short or weak: {WEAK_WORDS}") from None
        except (auth.InvalidUsername, auth.InvalidCredentials):
            raise click.ClickException(f"no user {name!r}") from None
        click.echo(f"password of {name} set; their sessions were ended")

    app.cli.add_command(users)

    search = click.Group("search", help="Manage the search index.")

    @search.command("reindex")
    @click.option("--user", "only", default=None, help="Rebuild this user's index only.")
    def reindex(only: str | None) -> None:
        """Rebuild the search index of every user (or of one) from the conversation files."""
        store = app.extensions["store"]
        names = [only] if only is not None else app.extensions["accounts"].list_users()
        for name in names:
            try:
                count = store.rebuild_search(name)
            except cm.InvalidId:
                raise click.ClickException(f"invalid user name {name!r}") from None
            click.echo(f"{name}: {count} conversations indexed")

    app.cli.add_command(search)

    providers = click.Group("providers", help="Model providers.")

    @providers.command("refresh")
    def refresh() -> None:
        """Read each configured provider's model list and cache it: one line per provider, its
        count of models or its error code; exit 1 only when every provider failed."""
        registry = app.extensions["services"].providers
        outcome = discovery.refresh(registry)
        warnings = {w.provider: w for w in discovery.default_warnings(registry, outcome)}
        for item in outcome.providers:
            if item.error is None:
                plural = "" if item.count == 1 else "s"
                click.echo(f"{item.provider}: {item.count} model{plural}")
            else:
                click.echo(f"{item.provider}: failed ({item.error})")
            warning = warnings.get(item.provider)
            if warning is not None:
                click.echo(
                    f"warning: {item.provider}'s default model {warning.model} is not in its list "
                    "(turns naming it are refused until it is listed or the default changes)",
                    err=True,
                )
        if not outcome.saved and not outcome.all_failed:
            click.echo("warning: the model cache could not be written", err=True)
        if not outcome.providers:
            raise click.ClickException("no provider is configured")
        if outcome.all_failed:
            raise click.ClickException("no provider's model list could be read")

    app.cli.add_command(providers)
