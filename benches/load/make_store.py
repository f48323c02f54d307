#!/usr/bin/env python3
"""Writes a policy store for the load harness: `--users N --statements-per-user K` users in account
111122223333, each with inline policies of K statements over a mix of services, actions, resources and
conditions (so that the index has real work), and one user `loader` (key AKIALOADEXAMPLE0000001) who may
GetObject and PutObject in the bucket `bench`.

    make_store.py DIR [--users 100] [--statements-per-user 10]
"""

import argparse
import json
import os
import random

ACCOUNT = "111122223333"
LOADER_KEY = "AKIALOADEXAMPLE00001"
LOADER_SECRET = "loadTestSecretKey/EXAMPLE0000000000000000"
SERVICES = ["s3", "dynamodb", "sqs", "sns", "ec2", "lambda", "kms", "logs", "orders", "billing"]
VERBS = ["Get", "Put", "List", "Delete", "Describe", "Create", "Update", "Tag"]


def statement(rng, i):
    service = rng.choice(SERVICES)
    action = f"{service}:{rng.choice(VERBS)}{rng.choice(['Object', 'Item', 'Queue', 'Topic', 'Key', '*'])}"
    if service == "s3":
        resource = f"arn:aws:s3:::bucket-{rng.randrange(50)}/prefix-{rng.randrange(20)}/*"
    else:
        resource = f"arn:aws:{service}:us-east-1:{ACCOUNT}:thing/{rng.randrange(1000)}-*"
    st = {"Sid": f"S{i}", "Effect": "Deny" if rng.random() < 0.1 else "Allow", "Action": action, "Resource": resource}
    if rng.random() < 0.3:
        st["Condition"] = {"IpAddress": {"aws:SourceIp": f"10.{rng.randrange(256)}.0.0/16"}}
    elif rng.random() < 0.2:
        st["Condition"] = {"StringEquals": {"aws:PrincipalTag/team": rng.choice(["red", "blue", "green"])}}
    return st


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--statements-per-user", type=int, default=10)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    rng = random.Random(a.seed)
    users = []
    for u in range(a.users):
        name = f"user{u:04d}"
        users.append({
            "UserName": name,
            "UserId": f"AIDALOAD{u:012d}",
            "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
            "UserPolicyList": [{
                "PolicyName": "generated",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [statement(rng, i) for i in range(a.statements_per_user)],
                },
            }],
            "Tags": [{"Key": "team", "Value": rng.choice(["red", "blue", "green"])}],
        })
    users.append({
        "UserName": "loader",
        "UserId": "AIDALOADER0000000001",
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/loader",
        "UserPolicyList": [{
            "PolicyName": "bench",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                               "Resource": "arn:aws:s3:::bench/*"}],
            },
        }],
    })
    folder = os.path.join(a.dir, ACCOUNT)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "iam.json"), "w") as f:
        json.dump({"UserDetailList": users, "GroupDetailList": [], "RoleDetailList": [], "Policies": []}, f)
    with open(os.path.join(folder, "credentials.json"), "w") as f:
        json.dump([{"AccessKeyId": LOADER_KEY, "SecretAccessKey": LOADER_SECRET, "UserName": "loader"}], f)
    os.chmod(os.path.join(folder, "credentials.json"), 0o600)
    print(f"{a.users + 1} users, {a.users * a.statements_per_user + 1} statements in {a.dir}")


if __name__ == "__main__":
    main()
