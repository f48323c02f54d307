#!/usr/bin/env python3
"""Writes the seed corpora for the fuzz targets into fuzz/corpus/<target>/ (not in git).

policy_parse: every policy of ../shared/conformance/policy-cases.json (each case's
`policies`, `boundary` and `resource_policy`, one file each), plus hand-made tricky inputs.
wildcard: a few pattern NUL text pairs.

Usage: python3 fuzz/make-seeds.py [path/to/policy-cases.json]
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    HERE, "..", "..", "shared", "conformance", "policy-cases.json")


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def doc(statement, version="2012-10-17"):
    d = {"Statement": statement}
    if version:
        d["Version"] = version
    return json.dumps(d)


def main():
    n = 0
    with open(CASES) as f:
        cases = json.load(f)
    for case in cases:
        docs = [("p%d" % i, p) for i, p in enumerate(case.get("policies", []))]
        for key in ("boundary", "resource_policy"):
            if case.get(key) is not None:
                docs.append((key, case[key]))
        for tag, p in docs:
            # Malformed cases hold the raw text as a string; keep it as it is.
            text = p if isinstance(p, str) else json.dumps(p, indent=1)
            write("policy_parse", "conf-%s-%s" % (case["id"], tag), text)
            n += 1

    allow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    tricky = {
        "deep-nesting-array": '{"Version":"2012-10-17","Statement":' + "[" * 200 + "]" * 200 + "}",
        "deep-nesting-condition": doc([dict(allow, Condition={"StringEquals": {"k": json.loads("[" * 100 + "]" * 100)}})]),
        "huge-number-numeric": doc([dict(allow, Condition={"NumericLessThan": {"s3:max-keys": "1" + "0" * 400}})]),
        "huge-number-raw": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericEquals":{"k":1e999}}}]}',
        "negative-zero-float": doc([dict(allow, Condition={"NumericGreaterThan": {"aws:EpochTime": "-0.0e-9999"}})]),
        "date-huge-epoch": doc([dict(allow, Condition={"DateLessThan": {"aws:CurrentTime": "99999999999999999999"}})]),
        "date-odd": doc([dict(allow, Condition={"DateGreaterThan": {"aws:CurrentTime": "2026-02-30T25:61:61+99:99"}})]),
        "var-unterminated": doc([dict(allow, Resource="arn:aws:s3:::home/${aws:username")]),
        "var-unterminated-end": doc([dict(allow, Resource="${")]),
        "var-default": doc([dict(allow, Resource="arn:aws:s3:::home/${aws:username, 'x'}/*")]),
        "var-nested": doc([dict(allow, Resource="${${aws:username}}")]),
        "var-escapes": doc([dict(allow, Resource="a${*}${?}${$}b")]),
        "var-in-condition": doc([dict(allow, Condition={"StringLike": {"aws:PrincipalTag/team": "${aws:username}*"}})]),
        "unicode-odd": doc([dict(allow, Resource="arn:aws:s3:::\u0130\u00e9\u0301\U0001F600/\u202e?*", Sid="\ufeff\u00df")]),
        "unicode-action": doc([dict(allow, Action="S3:GET\u0130*")]),
        "unicode-escapes-lone-surrogate": '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:\\ud800*","Resource":"*"}}',
        "percent-encoded": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%7D",
        "percent-bad-utf8": "%FF%FE",
        "ip-conditions": doc([dict(allow, Condition={"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32", "300.1.1.1/99"]}, "NotIpAddress": {"aws:SourceIp": "0.0.0.0/0"}})]),
        "set-operators": doc([dict(allow, Condition={"ForAllValues:StringLike": {"aws:TagKeys": ["te*", "?"]}, "ForAnyValue:StringEquals": {"aws:TagKeys": "team"}})]),
        "if-exists-null-bool": doc([dict(allow, Condition={"StringEqualsIfExists": {"x": "y"}, "Null": {"aws:username": "false"}, "Bool": {"aws:SecureTransport": "true"}})]),
        "arn-like": doc([dict(allow, Condition={"ArnLike": {"aws:SourceArn": "arn:aws:*:*:*:*"}, "ArnEquals": {"aws:PrincipalArn": "arn"}})]),
        "principal-forms": json.dumps({"Version": "2012-10-17", "Statement": [dict(allow, Principal={"AWS": ["*", "111122223333", "arn:aws:iam::111122223333:role/x"], "Service": "s3.amazonaws.com", "Federated": "cognito"})]}),
        "principal-star": json.dumps({"Version": "2012-10-17", "Statement": [dict(allow, Principal="*")]}),
        "not-everything": json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "NotAction": "iam:*", "NotResource": ["arn:aws:s3:::*"], "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}}]}),
        "version-2008": doc([dict(allow, Resource="${aws:username}")], "2008-10-17"),
        "no-version": doc([allow], None),
        "duplicate-keys": '{"Version":"2012-10-17","Statement":[],"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
        "empty-strings": doc([{"Effect": "Allow", "Action": "", "Resource": ""}]),
        "empty-action-service": doc([{"Effect": "Allow", "Action": ":", "Resource": "*"}]),
        "many-stars": doc([dict(allow, Resource="*" * 64 + "a" + "?*" * 64)]),
        "bom-and-whitespace": "\ufeff  " + doc([allow]),
        "not-object": "[1, 2, 3]",
        "nul-bytes": '{"Version":"2012-10-17\u0000"}',
    }
    for name, text in tricky.items():
        write("policy_parse", "hand-" + name, text)
        n += 1

    pairs = [
        ("a*b*c", "aXbYbZc"), ("*", ""), ("?", "é"), ("??", "é"), ("*?*", "ab"),
        ("a*", "a"), ("*a", "ba"), ("s3:Get?bject", "s3:GetObject"), ("**a**", "bab"),
        ("*/q1.csv", "reports/2026/q1.csv"), ("", ""), ("é*é", "éé"),
    ]
    for i, (p, t) in enumerate(pairs):
        write("wildcard", "pair-%02d" % i, p + "\0" + t)
    print("wrote %d policy_parse seeds, %d wildcard seeds" % (n, len(pairs)))


if __name__ == "__main__":
    main()
