"""mask_tokens' cheap pre-checks (issue 13: the big export spent most of its time masking)
skip a pass only when it cannot match: the result is the same as running every pass, on the
secrets tests' own strings and on thousands of generated ones."""

from __future__ import annotations

import ast
import random
from pathlib import Path

from opsconsole import secrets as s


def old_mask_tokens(text: str) -> str:
    """The masking as it was before the pre-checks: every pass, always (the oracle)."""
    if not text:
        return text
    text = s._mask_pem(text)
    if "://" in text:
        text = s._SLACK_HOOK.sub(lambda m: m.group(1) + s.MASK, text)
        text = s._URL_USERINFO.sub(lambda m: m.group(1) + ":" + s.MASK + "@", text)
    text = s._TOKENS.sub(s.MASK, text)
    text = s._BEARER.sub(lambda m: m.group(1) + s.MASK, text)
    text = s._mask_kv(text)
    return s._mask_cmdline_text(text)


def corpus_from_tests() -> list[str]:
    out = []
    for path in Path(__file__).parent.glob("test_secret*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.append(node.value)
    return out


FRAGMENTS = [
    "password", "PASSWORD", "Pass-Word", "passwd", "db_password", "api-key", "API_KEY",
    "MY_KEY", "my_key", "token", "x-auth-token", "Authorization", "authorization",
    "Bearer ", "bearer\t", "BEARER ", "Basic ", "cookie", "Set-Cookie", "secret", "pwd",
    "sig", "signature", "=", ":", ": ", " = ", '"', "'", "\n", " ", "\t", ";", "&", "|",
    "-p", " -p", "--password", "--password=", "--pass ", " -u ", "user:pw", "curl",
    "mysql", "check_pgsql", "psql", "redis-cli", "-a", "AKIAABCDEFGHIJKLMNOP",
    "ghp_abcdefghijklmnopqrstuvwxyz12", "glpat-abcdefghijklmnop", "xoxb-1234567890abc",
    "eyJhbGciOiJIUzI1.eyJzdWIiOiIx.sig", "https://hooks.slack.com/services/T0/B0/xyz",
    "postgres://bob:hunter2@db/x", "hunter2", "s3cr3t-value", "$PGPASSWORD", "${TOKEN}",
    "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----", "İ", "ſ", "K", "ı",
    "note", "INC-20261203-1", "step 3", "rm -rf /tmp/x", "--", "-", "(", ")", ",", "ok",
]


def test_the_same_result_as_every_pass_always():
    rng = random.Random(13)
    texts = corpus_from_tests()
    for _ in range(20_000):
        texts.append("".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 12))))
    assert len(texts) > 20_000
    for text in texts:
        assert s.mask_tokens(text) == old_mask_tokens(text), repr(text)


def test_every_key_hint_contains_one_of_the_key_words():
    names = {*s._SECRET_NAMES, *s._SECRET_SUFFIXES, "_key"}
    for name in names:
        assert any(w in name for w in s._KEY_WORDS), name
    assert s._KEY_HINT.pattern == "|".join(
        __import__("re").escape(n) for n in sorted(names, key=len, reverse=True))
