"""The front door answers a request signed for a service the gateway neither serves nor routes in
the protocol that service's SDK parses: boto3 reads the error's code and message instead of
reporting `Unknown`."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ALICE, REGION


def client(service, gw):
    return boto3.session.Session().client(
        service,
        endpoint_url=gw.http,
        region_name=REGION,
        aws_access_key_id=ALICE.key,
        aws_secret_access_key=ALICE.secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


@pytest.mark.parametrize(
    "service, call",
    [
        # The query protocol (<ErrorResponse>).
        ("iam", lambda c: c.list_users()),
        ("sns", lambda c: c.list_topics()),
        # EC2's own XML (<Response><Errors>).
        ("ec2", lambda c: c.describe_regions()),
        # JSON ({"__type"}).
        ("dynamodb", lambda c: c.list_tables()),
    ],
)
def test_an_unserved_service_gets_an_error_its_sdk_reads(gateway, service, call):
    with pytest.raises(ClientError) as e:
        call(client(service, gateway))
    error = e.value.response["Error"]
    # The endpoint does not serve the service the request is signed for: the signature's scope
    # is refused, in words the SDK shows.
    assert error["Code"] == "IncompleteSignature", e.value.response
    assert f"incorrect service '{service}'" in error["Message"], e.value.response
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.response["ResponseMetadata"]["RequestId"], e.value.response
