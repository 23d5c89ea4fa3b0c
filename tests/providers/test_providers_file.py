"""The providers file: the complete example parses, and every error names line, key path and reason,
never the text of the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from responses_client import providers_file as pf
from responses_client.providers_file import ProvidersFileError, parse
from responses_client.toml_lines import format_path, key_lines

EXAMPLE = Path(__file__).with_name("example_providers.toml")
SENTINEL = "sk-live-SENTINEL-do-not-echo-91c4"


def error(text: str) -> ProvidersFileError:
    with pytest.raises(ProvidersFileError) as caught:
        parse(text, source="p.toml")
    return caught.value


def test_the_complete_example_parses() -> None:
    file = pf.load(str(EXAMPLE))
    assert file.default == ("openai", "gpt-5.4-mini")
    assert list(file.providers) == [
        "openai",
        "anthropic",
        "gemini",
        "xai",
        "deepseek",
        "openrouter",
        "ollama",
        "local",
        "proxy",
    ]
    openai = file.providers["openai"]
    assert openai.builtin and openai.protocol == "responses"
    assert openai.models == ("gpt-5.4-mini", "gpt-5.4")
    assert openai.fallback == (("anthropic", "claude-sonnet-5-5"), ("gemini", "gemini-3.5-flash"))
    assert file.providers["gemini"].options == {
        "safety_settings": {"HARM_CATEGORY_HARASSMENT": "BLOCK_ONLY_HIGH"}
    }
    assert file.providers["gemini"].api_version == "v1beta"
    assert file.providers["anthropic"].stateful is True
    assert file.providers["ollama"].models == ("llama3:8b",)
    local = file.providers["local"]
    assert (local.builtin, local.protocol, local.base_url) == (
        False,
        "chat_completions",
        "http://127.0.0.1:8000/v1",
    )
    assert (local.api_key_env, local.local, local.flavour) == ("LOCAL_API_KEY", True, "generic")
    model = file.models[("local", "llama-4-8b")]
    assert (model.context_window, model.max_output_tokens) == (131072, 8192)
    assert model.input == ("text", "image")
    assert model.options == ("temperature", "max_output_tokens")
    assert model.price == {"input": 0.0, "output": 0.0}
    assert file.models[("anthropic", "claude-sonnet-5-5")].fallback == (
        ("gemini", "gemini-3.5-flash"),
    )


def test_an_empty_file_is_no_configuration() -> None:
    file = parse("# nothing yet\n")
    assert (file.default, file.providers, file.models) == (None, {}, {})


# (text, line, key path, words of the reason)
SEMANTIC = [
    ("colour = 1", 1, "colour", "unknown key"),
    ("providers = 1", 1, "providers", "must be a table"),
    ("[providers.Open]\n", 1, "providers.Open", "not a provider name"),
    ("[providers.openai]\nmodel = ['a']", 2, "providers.openai.model", "unknown key"),
    ("[providers.openai]\nmodels = []", 2, "providers.openai.models", "must not be empty"),
    ("[providers.openai]\nmodels = 'a'", 2, "providers.openai.models", "array of strings"),
    ("[providers.openai]\nmodels = [\n 'a',\n 3,\n]", 4, "providers.openai.models[1]", "string"),
    ("[providers.openai]\nmodels = ['a', 'a']", 2, "providers.openai.models[1]", "twice"),
    ("[providers.openai]\nmodels = ['a b']", 2, "providers.openai.models[0]", "not a model id"),
    ("[providers.openai]\nstrict = 'yes'", 2, "providers.openai.strict", "true or false"),
    ("[providers.openai]\nstrict = true", 2, "providers.openai.strict", "needs a models list"),
    ("[providers.openai]\nfallback = 'a:b'", 2, "providers.openai.fallback", "array"),
    ("[providers.openai]\nfallback = ['nocolon']", 2, "providers.openai.fallback[0]", "provider:model"),
    ("[providers.openai]\nfallback = ['antropic:x']", 2, "providers.openai.fallback[0]",
     "neither built in nor in this file"),
    ("[providers.openai]\nmodels = ['a']\nstrict = true\n[providers.xai]\nfallback = ['openai:b']",
     5, "providers.xai.fallback[0]", "(strict) does not list"),
    ("[providers.openai]\noptions = 3", 2, "providers.openai.options", "must be a table"),
    ("[providers.deepseek]\nstateful = true", 2, "providers.deepseek.stateful", "keep no state"),
    ("[providers.openai]\napi_version = 'v1'", 2, "providers.openai.api_version", "gemini protocol only"),
    ("[providers.gemini]\napi_version = 'v9'", 2, "providers.gemini.api_version", "one of v1, v1beta"),
    ("[providers.openai]\nread_timeout = 0", 2, "providers.openai.read_timeout", "above 0"),
    ("[providers.openai]\nread_timeout = 'slow'", 2, "providers.openai.read_timeout", "a number"),
    ("[providers.openai]\nconnect_timeout = true", 2, "providers.openai.connect_timeout", "a number"),
    ("[providers.openai]\nmax_retries = 1.5", 2, "providers.openai.max_retries", "whole number"),
    ("[providers.openai]\nmax_retries = 11", 2, "providers.openai.max_retries", "from 0 to 10"),
    ("[providers.openai]\nmax_retry_after = -1", 2, "providers.openai.max_retry_after", "at least 0"),
    ("[providers.openai]\nlocal = 1", 2, "providers.openai.local", "true or false"),
    ("[providers.openai]\nprice_provider = 'Open AI'", 2, "providers.openai.price_provider",
     "price data provider id"),
    ("[providers.openai]\nbase_url = 'http://h'", 2, "providers.openai.base_url", "OPENAI_BASE_URL"),
    ("[providers.openai]\napi_key_env = 'K'", 2, "providers.openai.api_key_env", "OPENAI_API_KEY"),
    ("[providers.ollama]\napi_key_env = 'K'", 2, "providers.ollama.api_key_env", "takes no key"),
    ("[providers.openai]\nprotocol = 'gemini'", 2, "providers.openai.protocol", "is fixed"),
    ("[providers.deepseek]\nflavour = 'generic'", 2, "providers.deepseek.flavour", "is fixed"),
    ("[providers.x]\nbase_url = 'http://h'", 1, "providers.x", "needs protocol"),
    ("[providers.x]\nprotocol = 'soap'", 2, "providers.x.protocol", "one of responses"),
    ("[providers.x]\nprotocol = 'chat_completions'", 1, "providers.x", "needs base_url"),
    ("[providers.x]\nprotocol = 'responses'\nbase_url = 'ftp://h'", 3, "providers.x.base_url",
     "http:// or https://"),
    ("[providers.x]\nprotocol = 'responses'\nbase_url = 'https://'", 3, "providers.x.base_url",
     "with a host"),
    ("[providers.x]\nprotocol = 'responses'\nbase_url = 'https://u:pw@h/v1'", 3,
     "providers.x.base_url", "must not carry credentials"),
    ("[providers.x]\nprotocol = 'responses'\napi_key_env = 'MY-KEY'", 3, "providers.x.api_key_env",
     "environment variable name"),
    ("[providers.x]\nprotocol = 'responses'\nflavour = 'ollama'", 3, "providers.x.flavour",
     "chat_completions protocol only"),
    ("[providers.x]\nprotocol = 'chat_completions'\nbase_url = 'http://h'\nflavour = 'x'", 4,
     "providers.x.flavour", "one of generic"),
    ("default = 3", 1, "default", "provider:model"),
    ("default = 'gpt-5'", 1, "default", "provider:model"),
    ("default = 'nobody:m'", 1, "default", "neither built in nor in this file"),
    ("[models.gpt]\n", 1, "models.gpt", "provider:model"),
    ("[models.'nobody:m']\n", 1, 'models."nobody:m"', "neither built in nor in this file"),
    ("[models.'openai:m']\nwindow = 3", 2, 'models."openai:m".window', "unknown key"),
    ("[models.'openai:m']\ncontext_window = 0", 2, 'models."openai:m".context_window', "from 1"),
    ("[models.'openai:m']\ncontext_window = 10\nmax_output_tokens = 20", 3,
     'models."openai:m".max_output_tokens', "must not exceed context_window"),
    ("[models.'openai:m']\ninput = ['text', 'video']", 2, 'models."openai:m".input[1]', "one of text"),
    ("[models.'openai:m']\ninput = []", 2, 'models."openai:m".input', "must not be empty"),
    ("[models.'openai:m']\nreasoning = ['huge']", 2, 'models."openai:m".reasoning[0]', "one of minimal"),
    ("[models.'openai:m']\noptions = ['seed']", 2, 'models."openai:m".options[0]', "one of reasoning_effort"),
    ("[models.'openai:m']\nprice = 3", 2, 'models."openai:m".price', "must be a table"),
    ("[models.'openai:m']\nprice = { input = 1 }", 2, 'models."openai:m".price', "needs output"),
    ("[models.'openai:m']\nprice = { input = 1, output = -2 }", 2,
     'models."openai:m".price.output', "at least 0"),
    ("[models.'openai:m']\nprice = { input = 1, output = 2, batch = 1 }", 2,
     'models."openai:m".price.batch', "unknown key"),
    ("[models.'openai:m']\nfallback = ['zzz:y']", 2, 'models."openai:m".fallback[0]',
     "neither built in nor in this file"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "path", "reason"), SEMANTIC)
def test_each_error_names_line_path_and_reason(
    text: str, line: int, path: str, reason: str
) -> None:
    err = error(text)
    assert (err.line, err.path) == (line, path)
    assert reason in err.reason
    assert str(err) == f"providers file p.toml: line {line}: {path}: {err.reason}"
    assert "\n" not in str(err)


@pytest.mark.parametrize(
    "text",
    [
        f"[providers.openai]\napi_key = '{SENTINEL}'",
        f"[providers.openai]\nkey = '{SENTINEL}'",
        f"[providers.x]\nprotocol = 'responses'\ntoken = '{SENTINEL}'",
        f"secret = '{SENTINEL}'",
        f"[providers.gemini.options]\nheaders = {{ API_KEY = '{SENTINEL}' }}",
        f"[providers.openai]\nopenai_api_key = '{SENTINEL}'",
        f"[models.'openai:m']\nprice = {{ input = 1, output = 1, token = '{SENTINEL}' }}",
    ],
)
def test_keys_are_refused_anywhere_and_never_echoed(text: str) -> None:
    err = error(text)
    assert "api_key_env" in err.reason and "never written" in err.reason
    assert err.line == text.count("\n") + 1
    assert SENTINEL not in str(err) and SENTINEL not in repr(err.args)


@pytest.mark.parametrize(
    ("text", "line", "path", "reason"),
    [
        (
            f"[providers.openai]\napi_key = {SENTINEL}",
            2,
            "providers.openai.api_key",
            "needs quotes",
        ),
        (f"[providers.openai]\n{SENTINEL}", 2, "providers.openai", "a key needs `= value`"),
        ("[providers.openai]\nmodels = ['a',\n", 2, "providers.openai.models", "invalid value"),
        ("default = 'openai:a'\ndefault = 'openai:b'", 2, "default", "set twice"),
        ("[providers.openai]\n[providers.openai]\n", 2, "providers.openai", "declared twice"),
        (
            f"[providers.openai]\nmodels = ['{SENTINEL}\n",
            2,
            "providers.openai.models",
            "not closed",
        ),
        (f"x = {{ a = '{SENTINEL}',\n b = 2 }}", 1, "x", "inline tables stay on one line"),
        ("[providers.openai\nmodels = []", 1, "providers.openai", "not closed"),
        (f'a = "{SENTINEL}\x01"', 1, "a", "control character"),
        (f"a = '{SENTINEL}\x01'", 1, "a", "unexpected character"),
        (f'a = "\\q{SENTINEL}"', 1, "a", "backslash"),
        (f"= '{SENTINEL}'", 1, "(top level)", "not a `key = value` line"),
    ],
)
def test_syntax_errors_name_line_path_and_reason_without_the_text(
    text: str, line: int, path: str, reason: str
) -> None:
    err = error(text)
    assert (err.line, err.path) == (line, path), str(err)
    assert reason in err.reason
    assert SENTINEL not in str(err) and SENTINEL[:8] not in str(err)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ProvidersFileError, match="not found"):
        pf.load(str(tmp_path / "missing.toml"))
    with pytest.raises(ProvidersFileError, match="is a directory"):
        pf.load(str(tmp_path))
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"# ok\n# caf\xe9\n")
    with pytest.raises(ProvidersFileError) as caught:
        pf.load(str(bad))
    assert (caught.value.line, caught.value.reason) == (2, "not UTF-8 text")


def test_key_lines_follow_strings_arrays_and_inline_tables() -> None:
    text = (
        'a = """one\n[not.a.table]\nb = 2\n"""\n'  # lines 1-4: a multi-line string
        "c = [ # comment\n  'x', # more\n  { d = 1 },\n]\n"  # lines 5-8
        "[t.'odd key']\n"  # line 9
        "e.f = 'g'  # h\n"  # line 10
        "[[arr]]\nv = 1\n[[arr]]\nv = 2\n"  # lines 11-14
    )
    lines = {format_path(k): v for k, v in key_lines(text).items()}
    assert lines["a"] == 1 and "not.a.table" not in lines and "b" not in lines
    assert (lines["c"], lines["c[0]"], lines["c[1]"], lines["c[1].d"]) == (5, 6, 7, 7)
    assert (lines['t."odd key"'], lines['t."odd key".e.f']) == (9, 10)
    assert (lines["arr[0].v"], lines["arr[1].v"]) == (12, 14)
