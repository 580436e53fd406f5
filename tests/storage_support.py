"""Object storage for tests: a bucket of its own on the suite's S3 server, and the settings naming it."""

import uuid

import boto3

CREDENTIALS = {"HALYARD_S3_ACCESS_KEY_ID": "testing", "HALYARD_S3_SECRET_ACCESS_KEY": "testing"}


def client(endpoint):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def new_bucket(endpoint):
    name = f"halyard-{uuid.uuid4().hex[:12]}"
    client(endpoint).create_bucket(Bucket=name)
    return name


def s3_settings(endpoint, bucket, prefix="files", **more):
    """The settings that put every stored file in ``s3://bucket/prefix`` of the test server."""
    return {
        "HALYARD_STORAGE_URL": f"s3://{bucket}/{prefix}",
        "HALYARD_S3_ENDPOINT_URL": endpoint,
        "HALYARD_S3_REGION": "us-east-1",
        "HALYARD_S3_ADDRESSING_STYLE": "path",
        **CREDENTIALS,
        **more,
    }


def objects(endpoint, bucket):
    """{object name: size} of everything in the bucket."""
    pages = client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}
