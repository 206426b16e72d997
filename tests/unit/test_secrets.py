"""Credentials are masked in free text and command lines; ordinary text is left alone."""

from __future__ import annotations

import random
import signal

import pytest

from opsconsole.secrets import MASK, mask_command_line, mask_tokens, mask_values, safe_dsn

M = MASK

# (input, expected) — made-up secrets of realistic shapes, with their context kept.
MASKED = [
    ("Authorization: Bearer abc.def", f"Authorization: Bearer {M}"),
    ("curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl' https://api",
     f"curl -H 'Authorization: Bearer {M}' https://api"),
    ("Authorization: Basic dXNlcjpodW50ZXIy", f"Authorization: Basic {M}"),
    ("PGPASSWORD=hunter2 psql -h db", f"PGPASSWORD={M} psql -h db"),
    ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLE", f"export AWS_SECRET_ACCESS_KEY={M}"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLE", f"aws_secret_access_key={M}"),
    ("DB_PASSWORD: s3cr3t!", f"DB_PASSWORD: {M}"),
    ("DEPLOY_TOKEN=9f8e7d6c5b4a", f"DEPLOY_TOKEN={M}"),
    ("WEBHOOK_SECRET='x y z' ./run", f"WEBHOOK_SECRET='{M}' ./run"),
    ("STRIPE_KEY=sk_live_51Habc", f"STRIPE_KEY={M}"),
    ("X-Api-Key: 3f9a0c2e77b1", f"X-Api-Key: {M}"),
    ("api_key=AbCdEf123456", f"api_key={M}"),
    ("password = hunter2", f"password={M}"),
    ("error: password=abc", f"error: password={M}"),
    ("dsn: host=db user=app password='p w' sslpassword=k", f"dsn: host=db user=app password='{M}' sslpassword={M}"),
    ("connect postgresql://app:Tr0ub4dor@db1:5432/prod failed",
     f"connect postgresql://app:{M}@db1:5432/prod failed"),
    ("https://user:p@ss@host/x", f"https://user:{M}@host/x"),
    ("redis://:r3dispw@cache:6379/0", f"redis://:{M}@cache:6379/0"),
    ("amqp://guest:guest@mq/", f"amqp://guest:{M}@mq/"),
    ("curl -s -u admin:pa55 https://x", f"curl -s -u admin:{M} https://x"),
    ("curl --user admin:pa55 https://x", f"curl --user admin:{M} https://x"),
    ("app --password=hunter2 --db-password hunter3 -v", f"app --password={M} --db-password {M} -v"),
    ("/usr/lib/nagios/plugins/check_pgsql -H db -l nagios -p pgpw -d x",
     f"/usr/lib/nagios/plugins/check_pgsql -H db -l nagios -p {M} -d x"),
    ("check_mysql -H db -u nagios -p mypw", f"check_mysql -H db -u nagios -p {M}"),
    ("check_mysql_query -q 'select 1' -pmypw", f"check_mysql_query -q 'select 1' -p{M}"),
    ("check_ldap -H x -b dc=x -D cn=y -P ldappw", f"check_ldap -H x -b dc=x -D cn=y -P {M}"),
    ("check_smtp -H mx -A LOGIN -U u -P smtppw", f"check_smtp -H mx -A LOGIN -U u -P {M}"),
    ("check_snmp -H sw1 -C c0mmun1ty -o .1.3", f"check_snmp -H sw1 -C {M} -o .1.3"),
    ("check_http -H x -a admin:webpw", f"check_http -H x -a admin:{M}"),
    ("mysql -uroot -ps3cret db", f"mysql -uroot -p{M} db"),
    ("sshpass -p sshpw ssh host", f"sshpass -p {M} ssh host"),
    ("ldapsearch -x -D cn=admin -w ldpw -b dc=x", f"ldapsearch -x -D cn=admin -w {M} -b dc=x"),
    ("key AKIAIOSFODNN7EXAMPL3 here", f"key {M} here"),
    ("sts ASIAY34FZKBOKMUTVV7A", f"sts {M}"),
    ("ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", M),
    ("gho_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 ghs_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345", f"{M} {M}"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", M),
    ("glpat-xYz12_AbC-34dEf56gHi", M),
    ("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", f"slack {M}"),
    ("xapp-1-A012B3C4D5E-1234567890123-abcdef0123456789", M),
    ("post https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/aBcDeFgHiJkLmNoPqRsTuVwX ok",
     f"post https://hooks.slack.com/services/{M} ok"),
    ("jwt eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiJ9.SflKxwRJSMeKKF2QT4fwpMeJf36POk6y",
     f"jwt {M}"),
    ('{"routing_key": "R0123456789ABCDEF0123456789ABCDE", "event_action": "trigger"}',
     f'{{"routing_key": "{M}", "event_action": "trigger"}}'),
    ('{"password": "p\\"w", "token": "t0k", "secret": "s3c", "name": "web"}',
     f'{{"password": "{M}", "token": "{M}", "secret": "{M}", "name": "web"}}'),
    ("Cookie: session=abc123; theme=dark", f"Cookie: {M}"),
]

PEM = ("before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy\n"
       "c2VjcmV0a2V5bWF0ZXJpYWw=\n-----END RSA PRIVATE KEY-----\nafter")

UNTOUCHED = [
    "password reset email sent",
    "tokenizer keyboard monkey=banana",
    "https://example.com/path?q=1&page=2",
    "ssh://git@github.com/org/repo.git",
    "check_disk -w 10% -c 5% -p /",
    "check_tcp -H db -p 5432",
    "mysql -u root -p db",           # -p alone: mysql prompts; db is the database
    "ps -u postgres -o pid,cmd",
    "PWD=/root OLDPWD=/tmp",
    'echo token="$OPSCONSOLE_SECRET_TOKEN"',
    "Password for user postgres:",
    "tests: pass=10 fail=0",
    "max_tokens: 512, token_count=3",
    "the bearer of bad news",
    "SELECT * FROM users WHERE id = 1",
    "primary key (id)",
    "",
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_secrets_are_masked_context_kept(text, expected):
    assert mask_tokens(text) == expected
    assert mask_tokens(expected) == expected  # idempotent


@pytest.mark.parametrize("text", UNTOUCHED)
def test_no_false_positives(text):
    assert mask_tokens(text) == text


def test_pem_block_is_one_mask_and_truncated_block_masks_the_rest():
    assert mask_tokens(PEM) == f"before\n{M}\nafter"
    for kind in ("", "EC ", "OPENSSH ", "ENCRYPTED "):
        assert mask_tokens(f"-----BEGIN {kind}PRIVATE KEY-----\nAAAA\n-----END {kind}PRIVATE KEY-----") == M
    assert mask_tokens("x -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg (truncated)") == f"x {M}"
    assert mask_tokens("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----").startswith(
        "-----BEGIN CERTIFICATE-----\nMIIB")  # certificates are public


def test_mask_command_line_argv_and_string():
    argv = ["/usr/lib/nagios/plugins/check_pgsql", "-H", "db", "-p", "-weird-pw", "-l", "nagios"]
    assert mask_command_line(argv) == [*argv[:4], M, "-l", "nagios"]  # getopt: the next word
    assert mask_command_line(["mysql", "-uroot", "-pS3cret", "-p", "db", "--password", "-h", "x"]) == [
        "mysql", "-uroot", f"-p{M}", "-p", "db", "--password", "-h", "x"]
    assert mask_command_line(["app", "--token", "tk1", "--password=pw", "--user", "a:b", "-uc:d"]) == [
        "app", "--token", M, f"--password={M}", "--user", f"a:{M}", f"-uc:{M}"]
    assert mask_command_line(["env", "PGPASSWORD=x", "psql", "postgresql://u:pw@h/db"]) == [
        "env", f"PGPASSWORD={M}", "psql", f"postgresql://u:{M}@h/db"]
    assert mask_command_line(["sh", "-c", "check_mysql -H x -p zz; check_disk -p /"]) == [
        "sh", "-c", f"check_mysql -H x -p {M}; check_disk -p /"]
    assert mask_command_line(["check_disk", "-w", "10%", "-p", "/"]) == ["check_disk", "-w", "10%", "-p", "/"]
    assert mask_command_line("sshpass -p pw ssh h") == f"sshpass -p {M} ssh h"
    assert mask_command_line(("python3", "-m", "http.server")) == ["python3", "-m", "http.server"]


def test_existing_helpers_keep_working():
    assert mask_values("token is hunter2 and hunter2x", ["hunter2", ""]) == f"token is {M} and {M}x"
    assert safe_dsn("postgresql://u:pw@h/db?password=x") == f"postgresql://u:{M}@h/db?password={M}"
    assert safe_dsn("host=db user=u password=secret") == f"host=db user=u password={M}"
    assert safe_dsn("host=db user=u") == "host=db user=u"
    assert mask_tokens("OK token=hunter2secret") == f"OK token={M}"


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


ADVERSARIAL = [
    " " * 200_000, "=" * 200_000, "a" * 200_000,
    ("a" * 700 + " " * 700 + "=" * 700) * 95,
    "a=" * 100_000, "a = " * 50_000, "a:" * 100_000, "a." * 100_000, "a/" * 100_000,
    "a://" * 50_000, "x://u:" + "a" * 200_000, "x://" + ":@" * 100_000,
    "-----BEGIN PRIVATE KEY-----" * 7_000, "-----BEGIN" + " " * 200_000,
    "eyJ" * 66_000, "eyJaaaaaaaaa." * 15_000, "-p " * 66_000, "check_pgsql -p " * 13_000,
    'password="' + "\\" * 200_000, "--password " * 18_000, "'a'=" * 50_000, "bearer " * 28_000,
    "\\" * 200_000, "AKIA" * 50_000, "ghp_" * 50_000, "password=" * 22_000, "&" * 200_000,
]


def test_adversarial_lines_do_not_hang():
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(5 * 6)  # 5 s for the whole set would do on an idle machine; 2 shared cores
    try:
        for line in ADVERSARIAL:
            mask_tokens(line)
            mask_command_line(line.split()[:5000])
            safe_dsn(line)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_one_adversarial_line_under_five_seconds():
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(5)
    try:
        mask_tokens(("a" * 300 + " " * 300 + "=" * 300 + "a=") * 220)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_fuzz_planted_secrets_never_survive():
    rng = random.Random(10)
    filler = ["ok", " ", "=", ":", "a", "check_disk", "-p", "/", "x://", "@", "\n", ";", '"', "'"]
    plants = [("PGPASSWORD=", "Zq7wPlanted1"), ("password: ", "Zq7wPlanted2"), ("--password=", "Zq7wPlanted3"),
              ("check_pgsql -p ", "Zq7wPlanted4"), ("postgresql://u:", "Zq7wPlanted5@h/db"),
              ('"token": "', 'Zq7wPlanted6"'), ("Authorization: Bearer ", "Zq7wPlanted7")]
    for _ in range(2000):
        prefix, secret = rng.choice(plants)
        before = "".join(rng.choice(filler) for _ in range(rng.randint(0, 8)))
        after = "".join(rng.choice(filler) for _ in range(rng.randint(0, 8)))
        text = f"{before} {prefix}{secret} {after}"
        out = mask_tokens(text)
        assert "Zq7wPlanted" not in out, (text, out)
        assert mask_tokens(out) == out
