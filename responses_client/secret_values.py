"""Which configured values are secrets (API.md "Secrets"), so that none of them ever comes back
out of an upstream string: the adapters and the model lists check what they keep against them.

Reads names and values only; imports nothing but the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote, urlsplit


def secret_values(
    env: Mapping[str, str], key_variables: tuple[str, ...], urls: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """The secret values among `env`, by name (API.md "Secrets"): every `*_API_KEY`, `*_TOKEN`
    and `*_SECRET` variable, `SECRET_KEY`, every variable in `key_variables` (the providers'
    `api_key_env`), and the user-info of every `*_URL` variable and of `urls` (the file's base
    URLs). None of them may come back out of an upstream string."""
    found = [
        v
        for k, v in env.items()
        if isinstance(v, str)
        and v.strip()
        and (
            k.endswith(("_API_KEY", "_TOKEN", "_SECRET")) or k == "SECRET_KEY" or k in key_variables
        )
    ]
    addresses = [v for k, v in env.items() if k.endswith("_URL") and isinstance(v, str)]
    for url in (*addresses, *urls):
        found += url_credentials(url)
    return tuple(dict.fromkeys(found))


def url_credentials(url: str) -> list[str]:
    """The user-info parts of `url` (`user:password`, the user, the password), if any."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    if "@" not in parts.netloc:
        return []
    userinfo = parts.netloc.rpartition("@")[0]
    found = [userinfo, unquote(userinfo)]
    found += [unquote(p) for p in (parts.username, parts.password) if p]
    return found
