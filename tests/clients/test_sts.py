"""The built-in STS with real clients against the real binary: boto3 and the AWS CLI assume roles, use
session policies, role profiles (`role_arn` + `source_profile`, with `mfa_serial`), GetSessionToken with
TOTP codes computed here (pyotp), GetCallerIdentity for every kind of principal, tampered and expired
tokens, and AssumeRoleWithWebIdentity with OIDC tokens minted here (PyJWT) from keys made here."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pyotp
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ALICE, BOB, CAROL, REGION, ROOT_USER, SEED, VENV_BIN, client_env, describe, error_code

AWS = str(VENV_BIN / "aws")
ACCOUNT = "111122223333"
AUDITOR = f"arn:aws:iam::{ACCOUNT}:role/auditor"
BOB_MFA = f"arn:aws:iam::{ACCOUNT}:mfa/bob"
BOB_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
CONFIDENTIAL = ("reports", "confidential/salaries.csv")
Q1 = ("reports", "2026/q1.csv")


def client(service, gw, key=None, secret=None, token=None):
    return boto3.session.Session().client(
        service,
        endpoint_url=gw.http,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def of(who):
    return {"key": who.key, "secret": who.secret}


def creds(c):
    return {"key": c["AccessKeyId"], "secret": c["SecretAccessKey"], "token": c["SessionToken"]}


def read(s3, bucket_key):
    bucket, key = bucket_key
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def denied(call, code="AccessDenied", status=403):
    with pytest.raises(ClientError) as e:
        call()
    assert error_code(e) == (code, status), e.value.response
    return e.value


def two_codes(totp: pyotp.TOTP) -> list[str]:
    """Codes of this step and the next: the gateway accepts a step either side of now, and each once."""
    now = time.time()
    return [totp.at(now), totp.at(now + 30)]


# AssumeRole


def test_bob_assumes_auditor_and_reads_confidential_reports(gateway):
    bob_s3 = client("s3", gateway, **of(BOB))
    denied(lambda: read(bob_s3, CONFIDENTIAL))
    r = client("sts", gateway, **of(BOB)).assume_role(RoleArn=AUDITOR, RoleSessionName="bob-audit")
    assert r["AssumedRoleUser"] == {
        "AssumedRoleId": "AROAAUDITOREXAMPLE01:bob-audit",
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/auditor/bob-audit",
    }
    c = r["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    lifetime = c["Expiration"].timestamp() - time.time()
    assert 3500 < lifetime <= 3600, lifetime
    role_s3 = client("s3", gateway, **creds(c))
    assert read(role_s3, CONFIDENTIAL) == SEED[CONFIDENTIAL]
    assert read(role_s3, Q1) == SEED[Q1]
    # The role may read, nothing more: no listing, no writing, no other bucket.
    denied(lambda: role_s3.list_objects_v2(Bucket="reports"))
    denied(lambda: role_s3.put_object(Bucket="reports", Key="auditor.txt", Body=b"x"))
    denied(lambda: role_s3.put_object(Bucket="public", Key="auditor.txt", Body=b""))
    ident = client("sts", gateway, **creds(c)).get_caller_identity()
    assert (ident["Arn"], ident["UserId"], ident["Account"]) == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/auditor/bob-audit",
        "AROAAUDITOREXAMPLE01:bob-audit",
        ACCOUNT,
    )


def test_a_session_policy_narrows_the_session(gateway):
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/2026/*"}],
    }
    r = client("sts", gateway, **of(BOB)).assume_role(
        RoleArn=AUDITOR, RoleSessionName="narrow", Policy=json.dumps(policy), DurationSeconds=900
    )
    assert r["PackedPolicySize"] > 0
    lifetime = r["Credentials"]["Expiration"].timestamp() - time.time()
    assert 800 < lifetime <= 900, lifetime
    s3 = client("s3", gateway, **creds(r["Credentials"]))
    assert read(s3, Q1) == SEED[Q1]
    denied(lambda: read(s3, CONFIDENTIAL))
    # A session policy grants nothing the role lacks.
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    r = client("sts", gateway, **of(BOB)).assume_role(RoleArn=AUDITOR, RoleSessionName="wide", Policy=json.dumps(wide))
    s3 = client("s3", gateway, **creds(r["Credentials"]))
    denied(lambda: s3.put_object(Bucket="reports", Key="wide.txt", Body=b"x"))


def test_a_malformed_session_policy_and_bad_parameters_get_sts_errors(gateway):
    sts = client("sts", gateway, **of(BOB))
    e = denied(lambda: sts.assume_role(RoleArn=AUDITOR, RoleSessionName="ss", Policy='{"Statement": 3}'),
               "MalformedPolicyDocument", 400)
    assert e.response["Error"]["Message"]
    denied(lambda: sts.assume_role(RoleArn=AUDITOR, RoleSessionName="bad name!"), "ValidationError", 400)
    denied(lambda: sts.assume_role(RoleArn=AUDITOR, RoleSessionName="long", DurationSeconds=7200),
           "ValidationError", 400)


def test_a_role_that_does_not_trust_the_caller_is_refused(gateway):
    # alice may do anything (sts:AssumeRole included), but the trust policy names bob alone.
    e = denied(lambda: client("sts", gateway, **of(ALICE)).assume_role(RoleArn=AUDITOR, RoleSessionName="alice"))
    assert "is not authorized to perform: sts:AssumeRole" in e.response["Error"]["Message"]
    # Another account: neither side allows it.
    denied(lambda: client("sts", gateway, **of(CAROL)).assume_role(RoleArn=AUDITOR, RoleSessionName="carol"))
    # The root user's keys cannot assume roles.
    denied(lambda: client("sts", gateway, **of(ROOT_USER)).assume_role(RoleArn=AUDITOR, RoleSessionName="root"))
    # A role that does not exist looks the same as one that does not trust you.
    denied(lambda: client("sts", gateway, **of(BOB)).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/nope", RoleSessionName="bob"))


# Tokens


def test_a_tampered_token_is_refused(gateway):
    c = client("sts", gateway, **of(BOB)).assume_role(RoleArn=AUDITOR, RoleSessionName="tamper")["Credentials"]
    token = c["SessionToken"]
    raw = bytearray(base64.b64decode(token))
    for i in (0, 3, 20, len(raw) // 2, len(raw) - 1):
        bad = bytearray(raw)
        bad[i] ^= 0x01
        s3 = client("s3", gateway, c["AccessKeyId"], c["SecretAccessKey"], base64.b64encode(bytes(bad)).decode())
        denied(lambda: read(s3, Q1), "InvalidToken", 400)
        sts = client("sts", gateway, c["AccessKeyId"], c["SecretAccessKey"], base64.b64encode(bytes(bad)).decode())
        denied(lambda: sts.get_caller_identity(), "InvalidClientTokenId", 403)
    # A good token with another session's key id.
    other = client("sts", gateway, **of(BOB)).assume_role(RoleArn=AUDITOR, RoleSessionName="other")["Credentials"]
    s3 = client("s3", gateway, other["AccessKeyId"], c["SecretAccessKey"], token)
    denied(lambda: read(s3, Q1), "InvalidToken", 400)
    # A temporary key without its token is unknown.
    s3 = client("s3", gateway, c["AccessKeyId"], c["SecretAccessKey"])
    denied(lambda: read(s3, Q1), "InvalidAccessKeyId", 403)


def seal(key: bytes, claims: dict) -> str:
    """Seals claims as docs/STS.md describes the token format: version 1, key id (SHA-256 of the key, 4
    bytes), a 12-byte nonce, AES-256-GCM of the JSON claims with the first five bytes as associated data."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    head = bytes([1]) + hashlib.sha256(key).digest()[:4]
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, json.dumps(claims).encode(), head)
    return base64.b64encode(head + nonce + sealed).decode()


def test_an_expired_token_is_refused_and_a_live_one_of_the_same_key_is_not(own_gateway):
    key = secrets.token_bytes(32)
    gw = own_gateway("expiry", extra_config=f'[sts]\ntoken_keys = ["{base64.b64encode(key).decode()}"]\n')
    now = int(time.time())
    role = {"r": {"arn": AUDITOR, "id": "AROAAUDITOREXAMPLE01", "session": "minted"}}

    def minted(expires):
        akid = "ASIA" + secrets.token_hex(8).upper()
        secret = secrets.token_urlsafe(30)
        token = seal(key, {"k": akid, "s": secret, "a": ACCOUNT, "p": role, "i": now - 7200, "e": expires})
        return akid, secret, token

    live = client("s3", gw, *minted(now + 600))
    assert read(live, CONFIDENTIAL) == SEED[CONFIDENTIAL]
    expired = minted(now - 1)
    denied(lambda: read(client("s3", gw, *expired), Q1), "ExpiredToken", 400)
    denied(lambda: client("sts", gw, *expired).get_caller_identity(), "ExpiredToken", 403)
    # Sealed with another key: not ours.
    other = seal(secrets.token_bytes(32), {"k": "ASIAX", "s": "s", "a": ACCOUNT, "p": role, "i": now, "e": now + 600})
    denied(lambda: read(client("s3", gw, "ASIAX", "s", other), Q1), "InvalidToken", 400)


def test_two_replicas_with_the_same_keys_accept_each_others_tokens(own_gateway):
    keys = [base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(2)]
    a = own_gateway("replica-a", extra_config=f'[sts]\ntoken_keys = ["{keys[0]}", "{keys[1]}"]\n')
    b = own_gateway("replica-b", extra_config=f'[sts]\ntoken_keys = ["{keys[1]}", "{keys[0]}"]\n')
    c = client("sts", a, **of(BOB)).assume_role(RoleArn=AUDITOR, RoleSessionName="replicas")["Credentials"]
    assert read(client("s3", b, **creds(c)), CONFIDENTIAL) == SEED[CONFIDENTIAL]
    c = client("sts", b, **of(BOB)).assume_role(RoleArn=AUDITOR, RoleSessionName="replicas")["Credentials"]
    assert read(client("s3", a, **creds(c)), CONFIDENTIAL) == SEED[CONFIDENTIAL]


# GetSessionToken and MFA


def test_get_session_token_with_mfa_and_replay_refused(gateway):
    sts = client("sts", gateway, **of(BOB))
    code, other = two_codes(pyotp.TOTP(BOB_SEED))
    r = sts.get_session_token(SerialNumber=BOB_MFA, TokenCode=code, DurationSeconds=900)
    c = r["Credentials"]
    # The same code again: refused.
    e = denied(lambda: sts.get_session_token(SerialNumber=BOB_MFA, TokenCode=code))
    assert "MultiFactorAuthentication failed" in e.response["Error"]["Message"]
    # A wrong code.
    wrong = f"{(int(code) + 500000) % 1000000:06d}"
    denied(lambda: sts.get_session_token(SerialNumber=BOB_MFA, TokenCode=wrong))
    # Another user's device.
    denied(lambda: client("sts", gateway, **of(ALICE)).get_session_token(SerialNumber=BOB_MFA, TokenCode=other))
    # The session is bob, with bob's permissions.
    ident = client("sts", gateway, **creds(c)).get_caller_identity()
    assert (ident["Arn"], ident["UserId"]) == (f"arn:aws:iam::{ACCOUNT}:user/bob", "AIDABOBEXAMPLE000001")
    s3 = client("s3", gateway, **creds(c))
    assert read(s3, Q1) == SEED[Q1]
    denied(lambda: read(s3, CONFIDENTIAL))
    # Session credentials cannot call GetSessionToken; they can assume a role.
    denied(lambda: client("sts", gateway, **creds(c)).get_session_token())
    r = client("sts", gateway, **creds(c)).assume_role(RoleArn=AUDITOR, RoleSessionName="via-mfa-session")
    assert read(client("s3", gateway, **creds(r["Credentials"])), CONFIDENTIAL) == SEED[CONFIDENTIAL]
    # Without MFA, GetSessionToken works too (12 hours by default).
    plain = sts.get_session_token()["Credentials"]
    assert 43000 < plain["Expiration"].timestamp() - time.time() <= 43200


MFA_ROLE = f"arn:aws:iam::{ACCOUNT}:role/mfa-auditor"


def add_mfa_role(gw):
    """A role bob may assume only with MFA (aws:MultiFactorAuthPresent), reading reports."""
    path = gw.policies / ACCOUNT / "iam.json"
    doc = json.loads(path.read_text())
    doc["RoleDetailList"].append({
        "RoleName": "mfa-auditor",
        "RoleId": "AROAMFAAUDITOREXAMP1",
        "Arn": MFA_ROLE,
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }],
        },
        "RolePolicyList": [{
            "PolicyName": "Read",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}],
            },
        }],
        "MaxSessionDuration": 7200,
    })
    path.write_text(json.dumps(doc, indent=1))


def test_a_role_that_requires_mfa(own_gateway):
    gw = own_gateway("mfa", prepare=add_mfa_role)
    sts = client("sts", gw, **of(BOB))
    denied(lambda: sts.assume_role(RoleArn=MFA_ROLE, RoleSessionName="no-mfa"))
    first, second = two_codes(pyotp.TOTP(BOB_SEED))
    r = sts.assume_role(RoleArn=MFA_ROLE, RoleSessionName="with-mfa", SerialNumber=BOB_MFA,
                        TokenCode=first, DurationSeconds=7200)
    assert read(client("s3", gw, **creds(r["Credentials"])), CONFIDENTIAL) == SEED[CONFIDENTIAL]
    # MFA facts travel with a GetSessionToken session into AssumeRole.
    c = sts.get_session_token(SerialNumber=BOB_MFA, TokenCode=second)["Credentials"]
    r = client("sts", gw, **creds(c)).assume_role(RoleArn=MFA_ROLE, RoleSessionName="from-session")
    assert read(client("s3", gw, **creds(r["Credentials"])), Q1) == SEED[Q1]


# AWS CLI profiles


def cli_profiles(home, gw, extra_auditor=""):
    home.mkdir(parents=True, exist_ok=True)
    (home / "aws-credentials").write_text(
        f"[bob]\naws_access_key_id = {BOB.key}\naws_secret_access_key = {BOB.secret}\n"
    )
    (home / "aws-config").write_text(
        f"[profile bob]\nregion = {REGION}\n\n"
        f"[profile auditor]\nregion = {REGION}\nrole_arn = {AUDITOR}\nsource_profile = bob\n"
        f"role_session_name = cli-audit\n{extra_auditor}\n"
    )
    env = client_env(BOB, home)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(k, None)
    # Every client of the CLI, the STS one its credential provider makes included, uses the gateway.
    env["AWS_ENDPOINT_URL"] = gw.http
    return env


def cli(env, *args, stdin=None):
    # A new session has no controlling terminal, so the CLI's MFA prompt reads standard input.
    return subprocess.run([AWS, *args], env=env, capture_output=True, timeout=120, input=stdin,
                          start_new_session=True)


def test_aws_cli_role_profile_with_source_profile(gateway, tmp_path):
    env = cli_profiles(tmp_path / "home", gateway)
    p = cli(env, "--profile", "auditor", "sts", "get-caller-identity")
    assert p.returncode == 0, describe(p)
    assert json.loads(p.stdout)["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/auditor/cli-audit"
    p = cli(env, "--profile", "auditor", "s3", "cp", "s3://reports/confidential/salaries.csv", "-")
    assert p.returncode == 0, describe(p)
    assert p.stdout == SEED[CONFIDENTIAL]
    p = cli(env, "--profile", "bob", "s3", "cp", "s3://reports/confidential/salaries.csv", "-")
    assert p.returncode != 0, describe(p)
    p = cli(env, "sts", "assume-role", "--profile", "bob", "--role-arn", AUDITOR, "--role-session-name", "direct")
    assert p.returncode == 0, describe(p)
    assert json.loads(p.stdout)["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_aws_cli_role_profile_with_mfa_serial(own_gateway, tmp_path):
    gw = own_gateway("cli-mfa", prepare=add_mfa_role)
    env = cli_profiles(tmp_path / "home", gw)
    (tmp_path / "home" / "aws-config").write_text(
        f"[profile bob]\nregion = {REGION}\n\n"
        f"[profile mfa]\nregion = {REGION}\nrole_arn = {MFA_ROLE}\nsource_profile = bob\n"
        f"mfa_serial = {BOB_MFA}\n"
    )
    code = pyotp.TOTP(BOB_SEED).now()
    p = cli(env, "--profile", "mfa", "s3", "cp", "s3://reports/confidential/salaries.csv", "-",
            stdin=f"{code}\n".encode())
    assert p.returncode == 0, describe(p)
    assert p.stdout == SEED[CONFIDENTIAL]
    # The same code a second time (a new CLI process, its credential cache emptied): refused.
    shutil.rmtree(tmp_path / "home" / ".aws" / "cli" / "cache")
    p = cli(env, "--profile", "mfa", "sts", "get-caller-identity", stdin=f"{code}\n".encode())
    assert p.returncode != 0, describe(p)
    assert b"AccessDenied" in p.stderr, describe(p)


# GetCallerIdentity for every principal


def test_get_caller_identity_for_every_kind_of_principal(gateway):
    for who, arn, user_id in [
        (ALICE, f"arn:aws:iam::{ACCOUNT}:user/alice", "AIDAALICEEXAMPLE00001"),
        (ROOT_USER, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT),
    ]:
        got = client("sts", gateway, **of(who)).get_caller_identity()
        assert (got["Arn"], got["UserId"], got["Account"]) == (arn, user_id, ACCOUNT)
    got = client("sts", gateway, **of(CAROL)).get_caller_identity()
    assert got["Account"] == "444455556666" and got["Arn"].endswith(":user/carol")
    root_session = client("sts", gateway, **of(ROOT_USER)).get_session_token(DurationSeconds=7200)["Credentials"]
    assert root_session["Expiration"].timestamp() - time.time() <= 3600  # root sessions last an hour at most
    got = client("sts", gateway, **creds(root_session)).get_caller_identity()
    assert (got["Arn"], got["UserId"]) == (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    denied(lambda: client("sts", gateway, "AKIANOBODY0000000000", "x" * 40).get_caller_identity(),
           "InvalidClientTokenId", 403)
    denied(lambda: client("sts", gateway, BOB.key, "wrong" * 8).get_caller_identity(),
           "SignatureDoesNotMatch", 403)


# OIDC web identity

ISSUER_HOST = "idp.example.test"
AUDIENCE = "iamgate-demo-app"
WEB_ROLE = f"arn:aws:iam::{ACCOUNT}:role/web-reader"


class Idp:
    """A signing key of the test's own, its JWKS, and tokens minted with it."""

    def __init__(self, kid="test-key-1"):
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self):
        import jwt

        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, use="sig", alg="RS256")
        return jwk

    def token(self, sub="user-42", aud=AUDIENCE, exp_in=600, iss=f"https://{ISSUER_HOST}", **claims):
        import jwt

        now = int(time.time())
        body = {"iss": iss, "sub": sub, "aud": aud, "iat": now, "exp": now + exp_in, **claims}
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid})


def add_web_role(gw, provider_entry):
    account = gw.policies / ACCOUNT
    (account / "oidc-providers.json").write_text(json.dumps([provider_entry]))
    path = account / "iam.json"
    doc = json.loads(path.read_text())
    provider_arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER_HOST}"
    doc["RoleDetailList"].append({
        "RoleName": "web-reader",
        "RoleId": "AROAWEBREADEREXAMPL1",
        "Arn": WEB_ROLE,
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{ISSUER_HOST}:aud": AUDIENCE},
                              "StringLike": {f"{ISSUER_HOST}:sub": "user-*"}},
            }],
        },
        "RolePolicyList": [{
            "PolicyName": "ReadShared",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                               "Resource": "arn:aws:s3:::reports/shared/*"}],
            },
        }],
        "MaxSessionDuration": 3600,
    })
    path.write_text(json.dumps(doc, indent=1))


def anonymous_sts(gw):
    # No credentials at all: botocore sends AssumeRoleWithWebIdentity unsigned, as it does against AWS.
    from botocore import UNSIGNED

    return boto3.session.Session().client(
        "sts", endpoint_url=gw.http, region_name=REGION,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1, "mode": "standard"}),
    )


def test_web_identity_tokens_from_a_jwks_file(own_gateway):
    idp = Idp()
    stranger = Idp(kid="test-key-1")  # the same key id, another key
    unknown = Idp(kid="never-published")

    def prepare(gw):
        (gw.policies / ACCOUNT / "idp-jwks.json").write_text(json.dumps({"keys": [idp.jwk()]}))
        add_web_role(gw, {"Url": f"https://{ISSUER_HOST}", "ClientIDList": [AUDIENCE],
                          "ThumbprintList": [], "JwksFile": "idp-jwks.json"})

    gw = own_gateway("oidc-file", prepare=prepare)
    sts = anonymous_sts(gw)
    r = sts.assume_role_with_web_identity(RoleArn=WEB_ROLE, RoleSessionName="web-user",
                                          WebIdentityToken=idp.token())
    assert r["SubjectFromWebIdentityToken"] == "user-42"
    assert r["Audience"] == AUDIENCE
    assert r["Provider"] == ISSUER_HOST
    assert r["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/web-reader/web-user"
    s3 = client("s3", gw, **creds(r["Credentials"]))
    assert read(s3, ("reports", "shared/summary.txt")) == SEED[("reports", "shared/summary.txt")]
    denied(lambda: read(s3, Q1))
    ident = client("sts", gw, **creds(r["Credentials"])).get_caller_identity()
    assert ident["UserId"] == "AROAWEBREADEREXAMPL1:web-user"

    def refused(token, code="InvalidIdentityToken", status=400):
        return denied(lambda: sts.assume_role_with_web_identity(
            RoleArn=WEB_ROLE, RoleSessionName="web-user", WebIdentityToken=token), code, status)

    assert "audience" in refused(idp.token(aud="someone-else")).response["Error"]["Message"]
    refused(idp.token(exp_in=-60), "ExpiredTokenException")
    refused(stranger.token())
    refused(unknown.token())
    refused(idp.token(iss="https://other.example.test"))
    # alg none: header {"alg":"none"}, no signature.
    b64 = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    now = int(time.time())
    none = b64({"alg": "none", "typ": "JWT"}) + "." + b64(
        {"iss": f"https://{ISSUER_HOST}", "sub": "user-42", "aud": AUDIENCE, "exp": now + 600}) + "."
    refused(none)
    # HS256 keyed with the public key's text: the classic confusion, refused.
    import jwt
    from cryptography.hazmat.primitives import serialization
    pem = idp.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    hs = jwt.encode({"iss": f"https://{ISSUER_HOST}", "sub": "user-42", "aud": AUDIENCE, "exp": now + 600},
                    hashlib.sha256(pem).digest(), algorithm="HS256", headers={"kid": idp.kid})
    refused(hs)
    # A subject the trust policy does not allow.
    denied(lambda: sts.assume_role_with_web_identity(
        RoleArn=WEB_ROLE, RoleSessionName="web-user", WebIdentityToken=idp.token(sub="admin")))


def test_web_identity_keys_fetched_from_a_jwks_url(own_gateway):
    idp = Idp()
    fetched = []

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            fetched.append(self.path)
            body = json.dumps({"keys": [idp.jwk()]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
        gw = own_gateway("oidc-url", prepare=lambda gw: add_web_role(
            gw, {"Url": ISSUER_HOST, "ClientIDList": [AUDIENCE], "JwksUrl": url}))
        sts = anonymous_sts(gw)
        for _ in range(3):
            r = sts.assume_role_with_web_identity(RoleArn=WEB_ROLE, RoleSessionName="fetched",
                                                  WebIdentityToken=idp.token())
            assert r["Credentials"]["AccessKeyId"].startswith("ASIA")
        # Fetched once, then served from the cache.
        assert fetched == ["/.well-known/jwks.json"]
    finally:
        server.shutdown()


# The endpoint itself, with curl


def curl_sts(gw, form, who=None, extra=()):
    cmd = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-d", form, *extra]
    if who is not None:
        cmd += ["--aws-sigv4", f"aws:amz:{REGION}:sts", "--user", f"{who.key}:{who.secret}"]
    p = subprocess.run(cmd + [gw.http + "/"], capture_output=True, timeout=60)
    assert p.returncode == 0, describe(p)
    body, _, status = p.stdout.decode().rpartition("\n")
    return int(status), body


def test_curl_signs_sts_calls_and_errors_are_sts_xml(gateway):
    status, body = curl_sts(gateway, "Action=GetCallerIdentity&Version=2011-06-15", BOB)
    assert status == 200, body
    assert "<Arn>arn:aws:iam::111122223333:user/bob</Arn>" in body
    assert body.startswith('<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">')
    status, body = curl_sts(gateway, "Action=Nope&Version=2011-06-15", BOB)
    assert status == 400 and "<Code>InvalidAction</Code>" in body, body
    status, body = curl_sts(gateway, "Action=GetCallerIdentity&Version=2011-06-15")
    assert status == 403 and "<Code>MissingAuthenticationToken</Code>" in body, body
    assert "<ErrorResponse" in body and "<RequestId>" in body
    status, body = curl_sts(gateway, "Action=AssumeRole&Version=2011-06-15&RoleArn=x&RoleSessionName=yy")
    assert status == 403 and "<Code>MissingAuthenticationToken</Code>" in body, body
    status, body = curl_sts(gateway, "Action=GetCallerIdentity&Version=2011-06-15",
                            dataclasses.replace(BOB, secret="x" * 40))
    assert status == 403 and "<Code>SignatureDoesNotMatch</Code>" in body, body


def test_sts_switched_off_is_region_disabled(own_gateway):
    gw = own_gateway("sts-off", extra_config="[sts]\nenabled = false\n")
    denied(lambda: client("sts", gw, **of(BOB)).get_caller_identity(), "RegionDisabledException", 403)
    # S3 goes on as before.
    assert read(client("s3", gw, **of(BOB)), Q1) == SEED[Q1]


def test_presigned_urls_of_a_role_session(gateway):
    import urllib.error
    import urllib.request

    c = client("sts", gateway, **of(BOB)).assume_role(RoleArn=AUDITOR, RoleSessionName="presign")["Credentials"]
    # boto3 presigns with SigV2 unless told otherwise; iamgate, like S3 today, takes SigV4 only.
    s3 = boto3.session.Session().client(
        "s3", endpoint_url=gateway.http, region_name=REGION, aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"],
        config=Config(signature_version="s3v4"),
    )
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "reports", "Key": CONFIDENTIAL[1]}, ExpiresIn=300)
    assert "X-Amz-Security-Token=" in url
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.read() == SEED[CONFIDENTIAL]
    # The same URL with its token cut short.
    bad = url.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=AAAA")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=30)
    assert e.value.code == 400 and b"<Code>InvalidToken</Code>" in e.value.read()


def test_sts_calls_in_the_decision_log_without_credentials(gateway):
    from test_decision_log import wait_for

    sts = client("sts", gateway, **of(BOB))
    r = sts.assume_role(RoleArn=AUDITOR, RoleSessionName="logged", DurationSeconds=900)
    c = r["Credentials"]
    rec = wait_for(gateway, r["ResponseMetadata"]["RequestId"])
    assert rec["eventSource"] == "sts.amazonaws.com" and rec["eventName"] == "AssumeRole"
    assert rec["userIdentity"]["type"] == "IAMUser" and rec["userIdentity"]["arn"].endswith(":user/bob")
    assert rec["requestParameters"] == {"roleArn": AUDITOR, "roleSessionName": "logged", "durationSeconds": 900}
    assert rec["responseElements"]["credentials"]["accessKeyId"] == c["AccessKeyId"]
    assert rec["responseElements"]["assumedRoleUser"]["arn"].endswith("assumed-role/auditor/logged")
    assert rec["resources"] == [{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": AUDITOR}]
    # The session's own requests are logged as the assumed role.
    ident = client("sts", gateway, **creds(c)).get_caller_identity()
    rec = wait_for(gateway, ident["ResponseMetadata"]["RequestId"])
    assert rec["userIdentity"]["type"] == "AssumedRole"
    assert rec["userIdentity"]["principalId"] == "AROAAUDITOREXAMPLE01:logged"
    # A refusal has its error code.
    with pytest.raises(ClientError) as e:
        client("sts", gateway, **of(CAROL)).assume_role(RoleArn=AUDITOR, RoleSessionName="nope")
    rec = wait_for(gateway, e.value.response["ResponseMetadata"]["RequestId"])
    assert rec["errorCode"] == "AccessDenied" and rec["eventName"] == "AssumeRole"
    # Neither the secret nor the token of any session, nor an MFA code, is in the output.
    log = gateway.log.read_text(errors="replace")
    assert c["SecretAccessKey"] not in log and c["SessionToken"] not in log
    assert c["SessionToken"][:40] not in log


def test_sts_on_a_path_of_its_own_and_on_a_host_of_its_own(own_gateway):
    gw = own_gateway("sts-path", extra_config='[sts]\npath = "/sts"\nhosts = ["sts.localhost"]\n')
    at_path = boto3.session.Session().client(
        "sts", endpoint_url=f"{gw.http}/sts", region_name=REGION,
        aws_access_key_id=BOB.key, aws_secret_access_key=BOB.secret,
    )
    assert at_path.get_caller_identity()["Arn"].endswith(":user/bob")
    # Unsigned web identity calls reach it there too: refused as STS refuses them, not as S3 would.
    status, body = curl_sts(gw, "Action=GetCallerIdentity&Version=2011-06-15")
    assert status == 403 and "<ErrorResponse" in body
    p = subprocess.run(["curl", "-sS", "-H", "Host: sts.localhost", "-d", "Action=GetCallerIdentity",
                        gw.http + "/anything"], capture_output=True, timeout=60)
    assert b"<Code>MissingAuthenticationToken</Code>" in p.stdout, p.stdout
    # S3 goes on as before on the same listener.
    assert read(client("s3", gw, **of(BOB)), Q1) == SEED[Q1]
