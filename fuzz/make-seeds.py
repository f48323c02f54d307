#!/usr/bin/env python3
"""Writes the seed corpora for the fuzz targets into fuzz/corpus/<target>/ (not in git).

policy_parse: every policy of ../shared/conformance/policy-cases.json (each case's
`policies`, `boundary` and `resource_policy`, one file each), plus hand-made tricky inputs.
wildcard: a few pattern NUL text pairs.
sigv4_header: every request of ../tests/data/conformance/sigv4/v4/*/header-signed-request.txt
  as `method\npath\nquery\nname:value...` (the target's format), its Authorization value alone,
  plus hand-made heads.
sigv4_query: the query string of every query-signed-request.txt, plus hand-made ones.
chunk_decoder: the S3 streaming example body, plus small bodies signed (in Python) with the same
  material, unsigned trailer bodies and malformed ones.

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
    sigv4_seeds()


SIGV4 = os.path.join(HERE, "..", "tests", "data", "conformance", "sigv4")


def read_request(path):
    """(method, path, query, [(name, value)]) of an AWS-suite request file; folded lines are
    joined to the previous value with a space."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8").replace("\r\n", "\n")
    head = text.split("\n\n", 1)[0]
    lines = head.split("\n")
    method, target = lines[0].split(" ", 1)
    target = target.rsplit(" HTTP/", 1)[0]
    path, _, query = target.partition("?")
    headers = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
        elif line:
            name, _, value = line.partition(":")
            headers.append((name, value))
    return method, path, query, headers


def head_seed(method, path, query, headers):
    return "\n".join([method, path, query] + ["%s:%s" % h for h in headers])


def signing_key(secret, date, region, service):
    import hashlib
    import hmac
    k = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def signed_chunked(chunks, trailers=None, bad_index=None):
    """An aws-chunked body signed as the S3 streaming example (same key, date, seed)."""
    import hashlib
    import hmac
    empty = hashlib.sha256(b"").hexdigest()
    date, scope = "20130524T000000Z", "20130524/us-east-1/s3/aws4_request"
    key = signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3")
    prev = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    out = b""
    for i, data in enumerate(list(chunks) + [b""]):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", date, scope, prev, empty,
                         hashlib.sha256(data).hexdigest()])
        prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        sig = prev if i != bad_index else "0" * 64
        out += b"%x;chunk-signature=%s\r\n" % (len(data), sig.encode())
        if data:
            out += data + b"\r\n"
    if trailers is not None:
        canonical = "".join("%s:%s\n" % (n, v) for n, v in sorted(trailers))
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", date, scope, prev,
                         hashlib.sha256(canonical.encode()).hexdigest()])
        tsig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        for n, v in trailers:
            out += ("%s:%s\r\n" % (n, v)).encode()
        out += ("x-amz-trailer-signature:%s\r\n" % tsig).encode()
    return out + b"\r\n"


def sigv4_seeds():
    counts = {}
    cases = sorted(os.listdir(os.path.join(SIGV4, "v4")))
    for case in cases:
        d = os.path.join(SIGV4, "v4", case)
        hp = os.path.join(d, "header-signed-request.txt")
        if os.path.exists(hp):
            method, path, query, headers = read_request(hp)
            write("sigv4_header", "suite-" + case, head_seed(method, path, query, headers))
            for name, value in headers:
                if name.lower() == "authorization":
                    write("sigv4_header", "auth-" + case, value)
        qp = os.path.join(d, "query-signed-request.txt")
        if os.path.exists(qp):
            write("sigv4_query", "suite-" + case, read_request(qp)[2])

    auth = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    base = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]
    heads = {
        "s3-put-streaming": head_seed("PUT", "/examplebucket/chunkObject.txt", "", read_request(
            os.path.join(SIGV4, "s3-streaming", "request-head.txt"))[3]),
        "s3-unsigned-token": head_seed("GET", "/bucket/a%2Fb/../c d", "list-type=2&prefix=a+b", base + [
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), ("x-amz-security-token", "good"),
            ("Authorization", auth.replace("/service/", "/s3/").replace("x-amz-date", "x-amz-date;x-amz-content-sha256;x-amz-security-token"))]),
        "sts-deferred": head_seed("POST", "/", "", base + [("content-length", "43"), ("Authorization", auth.replace("/service/", "/sts/"))]),
        "trailer-checksum": head_seed("PUT", "/b/k", "", base + [
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), ("x-amz-trailer", "x-amz-checksum-crc32, x-amz-checksum-sha256"),
            ("x-amz-checksum-crc32c", "AAAAAA=="), ("x-amz-decoded-content-length", "5"), ("Authorization", auth.replace("/service/", "/s3/"))]),
        "authority-no-host": head_seed("GET", "//a/./b/../%7E%20", "", [(":authority", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"), ("authorization", auth)]),
        "both-header-and-query": head_seed("GET", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256", base + [("Authorization", auth)]),
        "skewed-date": head_seed("GET", "/", "", [("Host", "h"), ("X-Amz-Date", "20150830T130000Z"), ("Authorization", auth)]),
        "inactive-key": head_seed("GET", "/", "", base + [("Authorization", auth.replace("AKIDEXAMPLE", "AKIDINACTIVE"))]),
        "auth-repeated": "AWS4-HMAC-SHA256 Credential=a/b/c/d/e,Credential=a/b/c/d/e",
        "auth-tabs-order": "\tAWS4-HMAC-SHA256\tSignature=" + "A" * 64 + ",,SignedHeaders=Host,Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request\t",
        "auth-sigv2": "AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
    }
    for name, text in heads.items():
        write("sigv4_header", "hand-" + name, text)

    sig = "&X-Amz-Signature=" + "0" * 64
    q = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2F{svc}%2Faws4_request"
         "&X-Amz-Date=20150830T123600Z&X-Amz-Expires={exp}&X-Amz-SignedHeaders=host")
    queries = {
        "s3": q.format(svc="s3", exp=3600) + sig,
        "iot-token-omitted": q.format(svc="iot", exp=60) + "&X-Amz-Security-Token=good" + sig,
        "expires-week-plus-one": q.format(svc="service", exp=604801) + sig,
        "expires-negative": q.format(svc="service", exp=-1) + sig,
        "expires-huge": q.format(svc="service", exp="99999999999999999999") + sig,
        "repeated-param": q.format(svc="service", exp=1) + sig + sig,
        "encoded-name": q.format(svc="service", exp=1).replace("X-Amz-Date", "X-Amz-%44ate") + sig,
        "bad-utf8": q.format(svc="service", exp=1).replace("host", "h%FFst") + sig,
        "missing-signature": q.format(svc="service", exp=1),
        "expired": q.format(svc="service", exp=1).replace("T123600Z", "T000000Z") + sig,
        "extra-params-plus": "a+b=c+d&&=&%&" + q.format(svc="service", exp=10) + sig,
    }
    for name, text in queries.items():
        write("sigv4_query", "hand-" + name, text)

    with open(os.path.join(SIGV4, "s3-streaming", "request-body.bin"), "rb") as f:
        write("chunk_decoder", "s3-streaming-example", f.read())
    bodies = {
        "signed-two-chunks": signed_chunked([b"hello", b"\r\n world"]),
        "signed-empty": signed_chunked([]),
        "signed-trailer": signed_chunked([b"hello"], [("x-amz-checksum-crc32", "NhCmhg==")]),
        "signed-bad-second": signed_chunked([b"a", b"b"], bad_index=1),
        "unsigned-trailer": b"5\r\nhello\r\n1\r\n\n\r\n0\r\nx-amz-checksum-crc32:NjowIA==\r\n\r\n",
        "unsigned-trailer-no-final-crlf": b"3;ext=1\r\nabc\r\n0\r\nX-Amz-Checksum-Sha256 : x \r\n",
        "size-too-long": b"00000000000000001\r\na\r\n0\r\n\r\n",
        "size-max-hex": b"ffffffffffffffff\r\n",
        "bare-lf": b"1\na\r\n0\r\n\r\n",
        "trailing-garbage": b"0\r\n\r\nmore",
    }
    for name, data in bodies.items():
        write("chunk_decoder", "hand-" + name, data)
    for t in ("sigv4_header", "sigv4_query", "chunk_decoder"):
        counts[t] = len(os.listdir(os.path.join(HERE, "corpus", t)))
    print(", ".join("%s: %d seeds" % kv for kv in counts.items()))


if __name__ == "__main__":
    main()
